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


def test_circle_identical_embeddings_take_tf_product_bits():
    # a unit embedding twice, under two labels: 1 - e.e is -2.2e-16 in TF's
    # product (Eigen's order), so max(., 0) sends no gradient to either pair
    # and it is 0; in another order e.e rounds to 1, the pairs sit on the
    # kink's other side and the gradient is about 18
    e = np.array([0.04658200870091447, 0.15023102806120567, -0.32612506091592747, 0.050317009398564115,
                  0.24223204524580128, -0.05885001099241803, -0.1603770299563471, 0.1487920277924191,
                  0.05013100936382173, 0.17720303309922605, -0.0682830127543803, -0.2930990547470983,
                  -0.021760004064486263, -0.08818401647162943, 0.15335702864510198, 0.03830000715394411,
                  -0.322577060253207, -0.23640004415645918, 0.17481103265243142, 0.13445602511463992,
                  -0.12663802365433874, -0.00020700003866491983, 0.0881330164621033,
                  0.09264901730563362, 0.17331803237355836, 0.05073200947608074, -0.01875700350356474,
                  -0.0511990095633103, 0.20882303900543264, -0.4452120831598372, -0.027426005122821697,
                  0.006527001219159091, -0.2819300526608737])
    value, g = vjp(K.circle, np.array([1, 2]), np.stack([e, e]), gamma=10.0,
                   remove_diagonal=False, dy=None)
    check(value, [6.801113155360466] * 2, np.float64)
    check(g["y_pred"], np.zeros((2, 33)), np.float64)


def test_circle_flushes_each_product_of_the_gradient():
    # the diagonal pair's upstream is 1.9e-38 (normal): times pd = 0.4 it is
    # a denormal, flushed in TF before the factor -gamma, so that term is 0 and
    # d dist is the other term alone (6e-37), not the 4e-44 left of two
    P = np.array([[1, 0], [0, 1], [0, 1]], np.float32)
    value, g = vjp(K.circle, np.array([0, 0, 1]), P, remove_diagonal=False,
                   dy=np.array([1e-3, 1, 1], np.float32))
    check(value, [54.40000534057617, 134.40000915527344, 54.40000534057617], np.float32)
    check(g["y_pred"], [[-1.1550961087030074e-36, -160.16000366210938],
                        [-160.16000366210938, 320.0], [0.0, 320.0]], np.float32)
