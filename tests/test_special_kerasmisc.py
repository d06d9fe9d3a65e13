"""Keras' log_cosh / LogCosh with special values: its gradient follows TF's op
order (pyx/_pointwise.pyx tf_chain, kind logcosh): the upstream g reaches
e = y_pred - y_true once through the `e` term and once through softplus(e * -2)
(SoftplusGrad g / (exp(-x) + 1), times -2), and the two are added, so an
infinite upstream (an infinite sample weight) gives inf - inf = NaN wherever
TF's does -- not tanh(e) * inf. The expected numbers come from TF 2.21 /
Keras 3 (tf.keras.losses.logcosh and LogCosh, GradientTape of
sum(values * dv)) on these exact inputs; no TF is needed to run this file."""
import numpy as np
import pytest

import cyloss
import cyloss.keras as ck

from _cases import assert_special_close

inf, nan = np.inf, np.nan


def _inputs(dt):
    fi = np.finfo(dt)
    y = np.array([[0.0, 0.5, 1.0], [2.0, -1.0, 0.25], [0.0, 1.0, -3.0]], dt)
    p = np.array([[400.0, -400.0, 1.5], [fi.max, 0.75, nan], [0.5, -inf, 0.0]], dt)
    return y, p


DV = [inf, 0.5, 2.0]         # row 0: an infinite upstream

# dtype -> (values, d/dy_true, d/dy_pred) of tf.keras.losses.logcosh, from TF 2.21
TF_FN = {
    "float32": (
        [266.4112854003906, nan, nan],
        [[nan, nan, nan], [-0.1666666716337204, -0.1568959355354309, nan],
         [-0.3080781400203705, 0.6666666865348816, -0.6633698344230652]],
        [[nan, nan, nan], [0.1666666716337204, 0.1568959355354309, nan],
         [0.3080781400203705, -0.6666666865348816, 0.6633698344230652]]),
    "float64": (
        [266.41127338004145, nan, nan],
        [[nan, nan, nan], [-0.16666666666666666, -0.15689592308288122, nan],
         [-0.30807810484000653, 0.6666666666666666, -0.6633698357911536]],
        [[nan, nan, nan], [0.16666666666666666, 0.15689592308288122, nan],
         [0.30807810484000653, -0.6666666666666666, 0.6633698357911536]]),
}

# dtype -> (d/dy_true, d/dy_pred) of LogCosh(dtype=dt, reduction="sum") with
# sample_weight [1, inf, 0.5] (value NaN), from TF 2.21
TF_CLASS = {
    "float32": (
        [[-0.3333333432674408, 0.3333333432674408, -0.15403907001018524], [nan, nan, nan],
         [-0.07701953500509262, 0.1666666716337204, -0.1658424586057663]],
        [[0.3333333432674408, -0.3333333432674408, 0.15403907001018524], [nan, nan, nan],
         [0.07701953500509262, -0.1666666716337204, 0.1658424586057663]]),
    "float64": (
        [[-0.3333333333333333, 0.3333333333333333, -0.15403905242000326], [nan, nan, nan],
         [-0.07701952621000163, 0.16666666666666666, -0.1658424589477884]],
        [[0.3333333333333333, -0.3333333333333333, 0.15403905242000326], [nan, nan, nan],
         [0.07701952621000163, -0.16666666666666666, 0.1658424589477884]]),
}


def _check(got, expected, dt, what):
    assert np.asarray(got).dtype == np.dtype(dt), what
    assert_special_close(got, expected, dt, what)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_logcosh_function_special_values_match_tf(dt):
    y, p = _inputs(dt)
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(ck.logcosh, y, p)
        g = backward(np.array(DV, dt))
    v, gy, gp = TF_FN[np.dtype(dt).name]
    _check(value, v, dt, "logcosh value")
    _check(g["y_true"], gy, dt, "logcosh d/dy_true")
    _check(g["y_pred"], gp, dt, "logcosh d/dy_pred")


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_logcosh_class_infinite_weight_gives_nan_gradient(dt):
    # the infinite weight's row: NaN in every element (TF's inf - inf), even
    # where |e| is large (e = 400: softplus' sigmoid underflows, e * -2 = -800)
    y, p = _inputs(dt)
    w = np.array([1.0, inf, 0.5], dt)
    loss = ck.LogCosh(dtype=np.dtype(dt).name, reduction="sum")
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(loss, y, p, sample_weight=w)
        g = backward()
    assert np.isnan(value)
    gy, gp = TF_CLASS[np.dtype(dt).name]
    _check(g["y_true"], gy, dt, "LogCosh d/dy_true")
    _check(g["y_pred"], gp, dt, "LogCosh d/dy_pred")
    # a large |e| with an infinite upstream alone: NaN too (not +-inf)
    with np.errstate(all="ignore"):
        g1 = cyloss.vjp(ck.logcosh, np.array([[0.0, 0.0]], dt),
                        np.array([[400.0, -400.0]], dt))[1](np.array([inf], dt))
    assert np.all(np.isnan(g1["y_pred"])) and np.all(np.isnan(g1["y_true"]))


def test_binary_focal_float32_logits_saturate_as_tf():
    # TF's float32 sigmoid (Eigen's logistic) is exactly 1 from x = 16.6355324
    # on (x is clamped there, e^x = 2^24); with gamma = 0 the focal factor's
    # gradient is then 0 * pow(0, -1) = NaN, as TF 2.21 gives: value
    # 4.3710642e-08, d/dy_pred [-1.19209504e-08, nan x 4], d/dy_true
    # [-3.3271062, nan x 4] (binary_focal_crossentropy(from_logits=True,
    # gamma=0), GradientTape of the sum)
    x = np.array([[16.63553, 16.635532, 16.7, 17.0, 20.0]], np.float32)
    z = np.ones_like(x)
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(ck.binary_focal_crossentropy, z, x, from_logits=True,
                                     gamma=0.0)
        g = backward(np.ones(1, np.float32))
    _check(value, [4.3710642e-08], np.float32, "focal value")
    _check(g["y_pred"], [[-1.19209504e-08, nan, nan, nan, nan]], np.float32, "focal d/dx")
    _check(g["y_true"], [[-3.3271062, nan, nan, nan, nan]], np.float32, "focal d/dz")


def test_dice_tversky_read_denormal_inputs_as_zero():
    # TF's CPU reads a denormal y_pred as 0 (DAZ): where the denominator is
    # tiny (1e-7), d/dy_true = 2 (-dv / den) * p would otherwise be a normal
    # number (1e-301) where TF's is 0. TF 2.21: dice(axis=0) and
    # tversky(alpha=0, beta=0.5, axis=(1,)), GradientTape of the sum, float64
    yt = np.array([[0., 1., 0.5]])
    yp = np.array([[-5.562684646268003e-309, 0.5, 0.25]])
    value, backward = cyloss.vjp(ck.dice, yt, yp, axis=0)
    g = backward(None)
    _check(value, [1.0, 0.33333337777777483, 0.6666667111111051], np.float64, "dice value")
    _check(g["y_true"], [[0.0, -0.2222222370370341, -0.22222225185183997]], np.float64,
           "dice d/dy_true")
    _check(g["y_pred"], [[-0.0, -0.8888888592592592, -0.8888888296296297]], np.float64,
           "dice d/dy_pred")
    yt = np.array([[[0.8], [0.25]], [[0.5], [1.0]]])
    yp = np.array([[[2.17292369e-311]]])
    value, backward = cyloss.vjp(ck.tversky, yt, yp, alpha=0.0, beta=0.5, axis=(1,))
    g = backward(None)
    _check(value, [[1.0], [1.0]], np.float64, "tversky value")
    _check(g["y_true"], np.zeros((2, 2, 1)), np.float64, "tversky d/dy_true")
    _check(g["y_pred"], [[[-25500000.0]]], np.float64, "tversky d/dy_pred")


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_categorical_hinge_broadcast_gradient_sums_each_product_apart(dt):
    # a broadcast input's gradient is TF's two Mul gradients, each summed over
    # the broadcast axes, then added: y_pred [1,1,1] against y_true (max, 0.5)
    # rows with upstreams -2 and 0.75 gives +inf + (finite) in each sum (inf),
    # not +inf per element in one row and -inf in the other (NaN). Likewise a
    # broadcast y_true. TF 2.21 (tf.keras.losses.categorical_hinge,
    # GradientTape of sum(values * dv)); the same numbers in both dtypes
    m = np.finfo(dt).max
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(ck.categorical_hinge, np.array([[[m, 0.5], [m, 0.5]]], dt),
                                     np.array([[[-2.0]]], dt))
        g = backward(np.array([[-2.0, 0.75]], dt))
    _check(value, [[inf, inf]], dt, "categorical_hinge value")
    _check(g["y_true"], [[[-8.0, -4.0], [3.0, 1.5]]], dt, "categorical_hinge d/dy_true")
    _check(g["y_pred"], [[[inf]]], dt, "categorical_hinge d/dy_pred (broadcast)")
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(ck.categorical_hinge, np.array([[[0.0, 0.5]]], dt),
                                     np.array([[[-m, -0.9 * m], [-m, 0.9 * m]]], dt))
        g = backward(np.array([[1.0, 1.0]], dt))
    _check(value, [[1.0, 1.0]], dt, "categorical_hinge value")
    _check(g["y_true"], [[[inf, 0.0]]], dt, "categorical_hinge d/dy_true (broadcast)")
    _check(g["y_pred"], [[[0.0, 0.0], [0.0, 0.0]]], dt, "categorical_hinge d/dy_pred")
