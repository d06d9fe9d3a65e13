"""Special values (NaN, +-inf, +-max, denormals) through the Keras losses whose
gradients follow TF's op order (pyx/_pointwise.pyx tf_chain, cosine similarity and
categorical hinge in cyloss/keras/_functions.py). The expected numbers come from
TF 2.21 / Keras 3 (tf.keras.losses.<fn>, GradientTape of sum(values * dv)) on
these exact inputs; no TF is needed to run this file."""
import numpy as np
import pytest

import cyloss
import cyloss.keras as ck

from _cases import assert_special_close

inf, nan = np.inf, np.nan

# inputs: "M" / "-M" = +-finfo(dtype).max, "D" = finfo.tiny / 4 (a denormal)
CASES = {
 "kl_divergence": ([[inf, 0.3, 0.2], [nan, 0.5, -inf]], [[0.25, 0.5, 0.4], [0.2, inf, 0.3]]),
 "mean_squared_logarithmic_error": ([[nan, 0.3, 2.0], [1.0, 0.5, "M"]], [[3.5, -inf, 0.4], ["M", 0.25, 1.5]]),
 "poisson": ([["M", 0.3, 2.0], [15.0, "-M", 1.0]], [[0.5, 0.5, 0.4], [15.5, 0.875, inf]]),
 "hinge": ([[1.25, -1.0, "M"], [2.0, 0.5, 1.0]], [[0.5, -2.0, -0.5], [nan, "-M", 0.25]]),
 "squared_hinge": ([["M", 0.3, 2.0], [1.0, 0.5, "-M"]], [[-0.5, 0.5, 0.4], ["-M", 0.25, 1.0]]),
 "huber": ([["-M", 0.3, 2.0], [1.0, 0.5, 0.0]], [[-0.625, 0.5, "M"], [inf, 0.25, nan]]),
 "mean_absolute_percentage_error": ([["-M", 0.0, "D"], [1.0, 0.5, 2.0]], [["1e25", "D", 0.5], [inf, 0.25, nan]]),
 "categorical_hinge": ([["M", 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]], [[-1.25, 0.5, 0.375, 0.25], ["M", 0.125, "-M", 0.25]]),
 "cosine_similarity": ([["M", 0.3, 2.0], [1.0, 0.5, 0.25]], [[-0.625, 0.5, 0.375], [inf, 0.25, 0.5]]),
}

DV = [0.5, 2.0]

# (function, dtype) -> (values, d/dy_true, d/dy_pred) from TF 2.21
TF = {
    ("kl_divergence", "float32"): (
        [1.0944172143936157, nan],
        [[0.0, 0.24458721280097961, 0.1534264087677002], [0.0, 0.6137056350708008, 0.0]],
        [[-2.0, -0.30000001192092896, -0.25], [nan, 0.0, -6.666666649834951e-07]]),
    ("kl_divergence", "float64"): (
        [1.0944172378781043, nan],
        [[0.0, 0.24458718811700464, 0.15342640972002736], [0.0, 0.6137056388801094, 0.0]],
        [[-2.0, -0.3, -0.25], [nan, 0.0, -6.666666666666667e-07]]),
    ("mean_squared_logarithmic_error", "float32"): (
        [nan, 5153.08349609375],
        [[0.0, 0.06727284938097, 0.08468224108219147], [-58.68646240234375, 0.1620635986328125, 0.0]],
        [[nan, 0.0, -0.18146194517612457], [0.0, -0.19447632133960724, -46.830162048339844]]),
    ("mean_squared_logarithmic_error", "float64"): (
        [nan, 335099.8833040038],
        [[0.0, 0.06727286268397303, 0.08468222800521075], [-472.7263771418827, 0.16206360603907077, 0.0]],
        [[nan, 0.0, -0.18146191715402304], [0.0, -0.19447632724688493, -378.0620918194719]]),
    ("poisson", "float32"): (
        [7.862188579699438e+37, nan],
        [[0.11552449315786362, 0.11552449315786362, 0.15271508693695068], [-1.8272266387939453, 0.08902084082365036, -inf]],
        [[-1.1342741845589521e+38, 0.06666668504476547, -0.6666665077209473], [0.021505415439605713, 2.592626997312028e+38, 0.6666666865348816]]),
    ("poisson", "float64"): (
        [4.153551894677309e+307, nan],
        [[0.11552449675999422, 0.11552449675999422, 0.15271508031236436], [-1.827226686917876, 0.0890208522258766, -inf]],
        [[-5.992309251079202e+307, 0.06666668666666266, -0.6666664583333853], [0.021505380506416927, 1.3696708033612914e+308, 0.6666666666666666]]),
    ("hinge", "float32"): (
        [5.671372443975481e+37, nan],
        [[-0.0833333358168602, 0.0, 0.0833333358168602], [nan, 2.2685489775901924e+38, -0.1666666716337204]],
        [[-0.2083333432674408, 0.0, -5.671372443975481e+37], [-0.0, -0.3333333432674408, -0.6666666865348816]]),
    ("hinge", "float64"): (
        [2.9961552247705263e+307, nan],
        [[-0.08333333333333333, 0.0, 0.08333333333333333], [nan, 1.1984620899082103e+308, -0.16666666666666666]],
        [[-0.20833333333333331, 0.0, -2.996155224770526e+307], [-0.0, -0.3333333333333333, -0.6666666666666666]]),
    ("squared_hinge", "float32"): (
        [inf, inf],
        [[2.8356862219877405e+37, -0.14166668057441711, -0.026666665449738503], [inf, -0.2916666865348816, -inf]],
        [[-inf, -0.08500000834465027, -0.13333332538604736], [-inf, -0.5833333730697632, inf]]),
    ("squared_hinge", "float64"): (
        [inf, inf],
        [[1.498077612385263e+307, -0.14166666666666666, -0.02666666666666666], [inf, -0.29166666666666663, -inf]],
        [[-inf, -0.08499999999999999, -0.1333333333333333], [-inf, -0.5833333333333333, inf]]),
    ("huber", "float32"): (
        [inf, nan],
        [[nan, -0.03333333134651184, nan], [nan, 0.1666666716337204, nan]],
        [[nan, 0.03333333134651184, nan], [nan, -0.1666666716337204, nan]]),
    ("huber", "float64"): (
        [inf, nan],
        [[nan, -0.03333333333333333, nan], [nan, 0.16666666666666666, nan]],
        [[nan, 0.03333333333333333, nan], [nan, -0.16666666666666666, nan]]),
    ("mean_absolute_percentage_error", "float32"): (
        [166666704.0, nan],
        [[-4.897893502105788e-38, 0.0, -166666656.0], [-inf, 66.66666412353516, nan]],
        [[4.897893502105788e-38, -0.0, 166666656.0], [66.66666412353516, -133.3333282470703, nan]]),
    ("mean_absolute_percentage_error", "float64"): (
        [166666700.0, nan],
        [[-9.271141077113342e-308, 0.0, -166666666.6666667], [-inf, 66.66666666666667, nan]],
        [[9.271141077113342e-308, -0.0, 166666666.6666667], [66.66666666666667, -133.33333333333334, nan]]),
    ("categorical_hinge", "float32"): (
        [inf, 3.4028234663852886e+38],
        [[1.25, -0.25, -0.1875, -0.125], [-inf, -0.25, inf, -0.5]],
        [[-3.4028234663852886e+38, 0.0, -0.5, 0.0], [2.0, -2.0, 0.0, 0.0]]),
    ("categorical_hinge", "float64"): (
        [inf, 1.7976931348623157e+308],
        [[1.25, -0.25, -0.1875, -0.125], [-inf, -0.25, inf, -0.5]],
        [[-1.7976931348623157e+308, 0.0, -0.5, 0.0], [2.0, -2.0, 0.0, 0.0]]),
    ("cosine_similarity", "float32"): (
        [-0.0, nan],
        [[nan, -0.0, -0.0], [nan, nan, nan]],
        [[-0.0, 0.0, 0.0], [nan, nan, nan]]),
    ("cosine_similarity", "float64"): (
        [-0.0, nan],
        [[nan, -0.0, -0.0], [nan, nan, nan]],
        [[-0.0, 0.0, 0.0], [nan, nan, nan]]),
}


def _conv(a, dt):
    fi = np.finfo(dt)
    m = {"M": fi.max, "-M": -fi.max, "D": fi.tiny / 4, "1e25": 1e25}
    return np.array([[m.get(x, x) if isinstance(x, str) else x for x in r] for r in a], dt)


def _check(got, expected, dt, what):
    assert np.asarray(got).dtype == np.dtype(dt), what
    assert_special_close(got, expected, dt, what)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_special_values_match_tf(name, dt):
    ys, ps = CASES[name]
    y, p = _conv(ys, dt), _conv(ps, dt)
    fn = getattr(ck, name)
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(fn, y, p)
        grads = backward(np.array(DV, dt))
        plain = fn(y, p)
    v, gy, gp = TF[(name, np.dtype(dt).name)]
    _check(value, v, dt, f"{name} value")
    _check(plain, v, dt, f"{name} value (plain call)")
    _check(grads["y_true"], gy, dt, f"{name} d/dy_true")
    _check(grads["y_pred"], gp, dt, f"{name} d/dy_pred")


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
def test_inf_upstream_is_masked_where_tf_selects_zero(dt):
    # TF's maximum / where / clip pass the upstream only where they selected
    # their input: an infinite upstream (an infinite sample weight) gives 0,
    # not 0 * inf = NaN, on inactive hinge margins and clipped KLD entries, and
    # NaN where TF's chain multiplies it by 0 (Poisson: g - g a / u); the
    # expected gradients are those of TF 2.21 on the same inputs
    y = np.array([[1.0, -1.0]], dt)
    p = np.array([[2.0, 0.5]], dt)          # margins: 1 - 2 < 0 (inactive), 1.5
    with np.errstate(all="ignore"):
        g = cyloss.vjp(ck.hinge, y, p)[1](np.array([inf], dt))
    np.testing.assert_array_equal(g["y_pred"], np.array([[0.0, inf]], dt))
    np.testing.assert_array_equal(g["y_true"], np.array([[0.0, -inf]], dt))
    yk = np.array([[0.5, 0.5]], dt)
    pk = np.array([[2.0, 0.5]], dt)          # 2.0 is clipped to 1: no gradient
    with np.errstate(all="ignore"):
        g = cyloss.vjp(ck.kl_divergence, yk, pk)[1](np.array([inf], dt))
    np.testing.assert_array_equal(g["y_pred"], np.array([[0.0, -inf]], dt))
    yp = np.array([[15.0]], dt)
    pp = np.array([[15.5]], dt)
    with np.errstate(all="ignore"):
        g = cyloss.vjp(ck.poisson, yp, pp)[1](np.array([inf], dt))
    assert np.isnan(g["y_pred"][0, 0])      # inf - inf, as TF's


def test_poisson_broadcast_y_pred_sums_before_the_reciprocal():
    # y_pred [1, 2, 1] against y_true [2, 2, 3]: TF takes log(y_pred + eps) on
    # y_pred alone, so d/dy_pred = sum(g) + sum(-g y_true) / (y_pred + eps): the
    # huge terms meet before the reciprocal doubles them (TF 2.21; per-element
    # terms summed afterwards give -inf and NaN)
    m = np.finfo(np.float32).max
    yt = np.array([[[m, m, -m], [0.5, 1.0, 2.0]], [[1.0, 2.0, 3.0], [-m, -m, m]]], np.float32)
    yp = np.array([[[0.5], [0.25]]], np.float32)
    with np.errstate(all="ignore"):
        _, backward = cyloss.vjp(ck.poisson, yt, yp)
        got = backward()["y_pred"]
    assert_special_close(got.ravel(), [-2.2685483691179043e+38, inf], np.float32)


def test_mape_flushes_each_quotient_as_tf():
    # y_true = max against 555 predictions: TF's g / max and g (-s / max) / max
    # are denormal, flushed to 0 op by op, so d/dy_true is 0 (TF 2.21), not the
    # sum of 555 unflushed products (-1.2e-37)
    m = np.finfo(np.float32).max
    yt = np.array([m], np.float32)
    yp = np.linspace(-2, 2, 555).astype(np.float32)
    value, backward = cyloss.vjp(ck.MeanAbsolutePercentageError(reduction="none"), yt, yp)
    g = backward()
    assert float(value) == 100.0
    assert g["y_true"].tolist() == [0.0]
    assert not np.any(g["y_pred"])


def test_denormal_inputs_read_as_zero():
    # TF's CPU reads denormal inputs as 0 (TF 2.21 numbers): poisson's y_true
    # of 2.9e-39 times log(eps) would be a normal 4.7e-38 (and times 1 / eps in
    # the gradient 2.9e-32); huber with delta -1 takes its linear branch, whose
    # slope delta * sign(e) is 0 at e = 0, not -1 at e = 5.6e-309
    with np.errstate(all="ignore"):
        v, b = cyloss.vjp(ck.poisson, np.array([[2.938736e-39], [1.5]], np.float32),
                          np.array([[0.0], [2.938736e-39]], np.float32))
        g = b()
    assert_special_close(v, [0.0, 24.177143096923828], np.float32)
    assert_special_close(g["y_pred"], [[1.0], [-14999999.0]], np.float32)
    assert_special_close(g["y_true"], [[16.11809539794922], [16.11809539794922]], np.float32)
    with np.errstate(all="ignore"):
        v, b = cyloss.vjp(ck.huber, np.array([[0.0, 0.5]]),
                          np.array([[5.562684646268003e-309, 0.25]]), delta=-1.0)
        g = b()
    assert_special_close(v, [-0.625], np.float64)
    assert_special_close(g["y_pred"], [[0.0, 0.5]], np.float64)
    assert_special_close(g["y_true"], [[0.0, -0.5]], np.float64)
