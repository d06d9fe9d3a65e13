"""cyloss.keras gradients: float64 fourth-order finite differences (tests/_fd.py)
with a random upstream gradient dy, for every class and reduction, with
respect to y_pred, y_true (where Keras lets gradient reach it) and
sample_weight, and for every function form; the set of returned gradients;
value_and_grad against vjp. Points come from _keras_ref.sample: on the FD
grid and away from every kink, clip bound and branch switch."""
import numpy as np
import pytest

import cyloss
import cyloss.keras as ck

import _keras_ref as R
from _fd import central_diff_4, fd_tolerance

F64 = np.float64
CLASSES = list(R.CLASSES)
REDS = ["none", "sum", "sum_over_batch_size", "mean_with_sample_weight"]

# Step: tests/_fd.py's H = 2**-10 assumes O(1) fifth derivatives. The Keras
# losses have log p, 1/|y|, focal powers and Circle's gamma-scaled exponents
# with fifth derivatives up to ~1e8 on the sampled ranges (24 / p**5 at
# p = 0.05), so the truncation h**4 / 30 * |F^(5)| would exceed the rounding
# tolerance at H. With h = 2**-15 it is <= 2**-60 / 30 * 1e8 ~ 3e-12, below the
# tolerance 16 eps * noise / h ~ 1.2e-10 * noise, which is still a 1e-10
# relative check; on the 2**-20 grid the steps stay exact.
HK = 2.0 ** -15


def _point(name, rng, variant, label_grad=False):
    kw, yt, yp = R.sample(name, rng, (3, 4), variant, label_grad=label_grad)
    global_ = name in ("Dice", "Tversky") and "axis" not in kw
    B = yp.shape[-1] if kw.get("axis") == 0 else yp.shape[0]
    sw = R.sample_weight(rng, 1 if global_ else B)
    return kw, yt, yp, sw


def _check(f, x, g, dy, h, what):
    fd, noise = central_diff_4(f, x, h=h, dy=dy)
    tol = fd_tolerance(noise, h=h)
    err = np.abs(np.asarray(g, F64) - fd)
    bad = err > tol
    assert not bad.any(), (
        f"{what}: {int(bad.sum())} of {bad.size} gradient entries off; worst at "
        f"{np.unravel_index(np.argmax(err - tol), err.shape)}: got "
        f"{np.asarray(g).ravel()[np.argmax(err - tol)]!r}, FD {fd.ravel()[np.argmax(err - tol)]!r}")


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("variant", [0, 1])
@pytest.mark.parametrize("name", CLASSES)
def test_class_gradients_match_finite_differences(name, variant, red, rng):
    kw, yt, yp, sw = _point(name, rng, variant)
    loss = getattr(ck, name)(reduction=red, **kw)
    value, backward = cyloss.vjp(loss, yt, yp, sample_weight=sw)
    value = np.asarray(value)
    assert value.dtype == F64
    dy = rng.uniform(-1, 1, size=value.shape)
    g = backward(dy)
    want_keys = {"y_pred", "sample_weight"} | (
        set() if name in R.NO_LABEL_GRAD else {"y_true"})
    assert set(g) == want_keys
    h = HK
    _check(lambda x: loss(yt, x, sample_weight=sw), yp, g["y_pred"], dy, h,
           f"{name} v{variant} {red} d/dy_pred")
    _check(lambda w: loss(yt, yp, sample_weight=w), sw, g["sample_weight"], dy, h,
           f"{name} v{variant} {red} d/dsample_weight")
    assert g["y_pred"].shape == yp.shape and g["sample_weight"].shape == sw.shape
    if "y_true" in g:
        if name in ("Hinge", "SquaredHinge"):
            # binary labels would switch the 0/1 -> -1/1 conversion under the
            # perturbation: differentiate at real-valued labels instead
            kw, yt, yp, sw = _point(name, rng, variant, label_grad=True)
            value, backward = cyloss.vjp(loss, yt, yp, sample_weight=sw)
            dy = rng.uniform(-1, 1, size=np.shape(value))
            g = backward(dy)
        assert g["y_true"].shape == yt.shape
        _check(lambda t: loss(t, yp, sample_weight=sw), yt, g["y_true"], dy, h,
               f"{name} v{variant} {red} d/dy_true")


@pytest.mark.parametrize("name", CLASSES)
def test_class_gradients_without_sample_weight(name, rng):
    kw, yt, yp, _ = _point(name, rng, 1)
    loss = getattr(ck, name)(**kw)
    value, backward = cyloss.vjp(loss, yt, yp)
    g = backward()
    assert "sample_weight" not in g
    _check(lambda x: loss(yt, x), yp, g["y_pred"], np.ones(np.shape(value)),
           HK, f"{name} d/dy_pred")


@pytest.mark.parametrize("name", CLASSES)
def test_function_form_gradients(name, rng):
    kw, yt, yp, _ = _point(name, rng, 0, label_grad=True)
    fn = getattr(ck, R.CLASSES[name])
    if name == "CategoricalGeneralizedCrossEntropy":
        kw = dict(kw, q=kw.get("q", 0.5))
    value, backward = cyloss.vjp(fn, yt, yp, **kw)
    dy = rng.uniform(-1, 1, size=np.shape(value))
    g = backward(dy)
    assert set(g) == ({"y_pred"} if name in R.NO_LABEL_GRAD else {"y_pred", "y_true"})
    h = HK
    _check(lambda x: fn(yt, x, **kw), yp, g["y_pred"], dy, h, f"{R.CLASSES[name]} d/dy_pred")
    if "y_true" in g:
        _check(lambda t: fn(t, yp, **kw), yt, g["y_true"], dy, h,
               f"{R.CLASSES[name]} d/dy_true")


@pytest.mark.parametrize("name", ["CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                                  "BinaryCrossentropy", "MeanSquaredError", "Circle"])
def test_value_and_grad_equals_vjp(name, rng):
    kw, yt, yp, sw = _point(name, rng, 1)
    loss = getattr(ck, name)(**kw)
    v1, g1 = cyloss.value_and_grad(loss, wrt="y_pred")(yt, yp, sw)
    v2, bwd = cyloss.vjp(loss, yt, yp, sample_weight=sw)
    g2 = bwd()
    assert np.array_equal(v1, v2) and np.array_equal(g1, g2["y_pred"])
    # backward may be called again (it recomputes) and gives the same bits
    g3 = bwd()
    assert all(np.array_equal(g2[k], g3[k]) for k in g2)


def test_mean_with_sample_weight_gradient_formula():
    """d/dw of mws: values/sum(w) - S/sum(w)**2 (4.1), on MSE [2, 3] values."""
    yt = np.array([[0., 1, 2], [3, 4, 5]])
    yp = np.array([[.5, 1, 0], [3, 6, 4]])
    w = np.array([[1.0], [2.0]])
    loss = ck.MeanSquaredError(reduction="mean_with_sample_weight")
    v, bwd = cyloss.vjp(loss, yt, yp, sample_weight=w)
    vals = ((yp - yt) ** 2).mean(-1)
    S = np.sum(vals * w[:, 0])
    assert abs(float(v) - S / 3) <= 4 * np.finfo(F64).eps * S
    want = (vals / 3 - S / 9)[:, None]
    np.testing.assert_allclose(bwd()["sample_weight"], want, rtol=8 * np.finfo(F64).eps)
