"""Special values in Keras' dice, tversky and circle: NaN and infinity
positions of values and gradients as TF's op-by-op autodiff gives them.

Every expected number below comes from TensorFlow 2.21 (tf.keras.losses.<fn>
under tf.GradientTape with the same upstream gradient); TF is not needed to
run these tests."""
import numpy as np
import pytest

import cyloss
import cyloss.keras as K

from _cases import assert_special_close

INF, NAN = np.inf, np.nan
MAX32 = np.float32(3.4028235e38)
MAX64 = np.finfo(np.float64).max


def check(got, expected, dtype):
    """NaN and infinity positions exactly, finite elements within a few
    roundings (4 eps of their own magnitude; the expected numbers are TF's
    result of the same op order)."""
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype) and got.shape == np.shape(expected)
    assert_special_close(got, expected, dtype, k=4, floor=4)


def vjp(fn, *args, dy, **kw):
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(fn, *args, **kw)
        return value, backward(dy)


def test_tversky_beta_zero_infinite_upstream_is_nan():
    # fn's gradient is d(den) * beta = inf * 0 = NaN in TF, for y_pred as well
    y = np.array([[0.8355], [0.5]])
    p = np.array([[-0.7833], [0.25]])
    value, g = vjp(K.tversky, y, p, beta=0.0, axis=(1,), dy=np.array([INF, 2.0]))
    check(value, [8.229341344981478, 0.600000127999959], np.float64)
    check(g["y_pred"], [[NAN], [-2.559999385600131]], np.float64)
    check(g["y_true"], [[NAN], [-5.119996723257358e-07]], np.float64)


def test_dice_huge_prediction_never_squares_the_denominator():
    # float32: D = sum y + sum p = 1e30; TF's (-N / D) / D stays finite where
    # D * D overflows
    y = np.array([[0.959621856, 0.033452173]], np.float32)
    p = np.array([[0.84786522, 1e30]], np.float32)
    value, g = vjp(K.dice, y, p, axis=1, dy=np.array([0.75], np.float32))
    check(value, [0.93309563], np.float32)
    check(g["y_true"], [[-1.2216195e-30, -1.5]], np.float32)
    check(g["y_pred"], [[-1.3892545e-30, 0.0]], np.float32)


def test_circle_float64_inf_minus_inf_in_the_similarities():
    # row 0 . row 1 has products +inf and -inf: NaN similarity, as in TF
    # (a blocked BLAS product may return inf there)
    P = np.array([[MAX64, -MAX64, 0.5], [MAX64, MAX64, 0.5], [0.0, 0.6, 0.8],
                  [0.6, 0.8, 0.0]])
    labels = np.array([0, 1, 0, 1])
    value, g = vjp(K.circle, labels, P, gamma=1.0, margin=0.6,
                   dy=np.array([1.0, 0.5, -0.25, 2.0]))
    check(value, [NAN, NAN, INF, 0.8374846478592021], np.float64)
    check(g["y_pred"], [[NAN] * 3, [0.0] * 3, [NAN] * 3, [NAN] * 3], np.float64)


def test_circle_float32_fused_products_keep_the_overflow():
    # TF's float32 product sums with fused multiply-adds: inf + (-max * max)
    # stays inf (the product is exact, finite), so the loss is a number
    P = np.array([[MAX32, -MAX32, 0.0], [1e30, MAX32, 0.0], [0.0, 0.0, 1.0]], np.float32)
    value, g = vjp(K.circle, np.array([0, 0, 1]), P, gamma=2.0, margin=0.25,
                   dy=np.array([0.5, -1.0, 2.0], np.float32))
    check(value, [0.5759394, 0.5759394, 0.0], np.float32)
    check(g["y_pred"], np.zeros((3, 3)), np.float32)


@pytest.mark.parametrize("cls", [False, True])
def test_circle_denormal_loss_is_zero(cls):
    # softplus(-95.3) is a float32 denormal: 0 in TF, so Circle's mask
    # (loss > 0) drops every row and the mean is div_no_nan's 0
    P = np.array([[1, 0], [1, 0], [-1, 0], [-1, 0]], np.float32)
    labels = np.array([0, 0, 1, 1])
    if cls:
        got = K.Circle(gamma=600.0)(labels, P)
        check(got, 0.0, np.float32)
    else:
        check(K.circle(labels, P, gamma=600.0), [0.0] * 4, np.float32)
