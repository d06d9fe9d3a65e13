"""cyloss.contrib.losses (TF 1.x tf.contrib.losses, TF_SEMANTICS.md §2.6):
predictions-first signatures, the `weight` alias, the contrib reduction
(weights aligned to the leading dims, sum over the present elements), the
old pairwise normalization, the old names, gradients and errors."""
import inspect

import numpy as np
import pytest

import cyloss
from cyloss import losses as L
from cyloss.contrib import losses as C

from _cases import REF, assert_close, assert_same_bits, assert_unchanged, eps, snapshot
from _fd import on_grid
from test_losses import POINTWISE, check_fd, close, pointwise_inputs, ref_pointwise, weight_of

F32, F64 = np.float32, np.float64


def ref_contrib(losses, weights):
    """(value, rounding scale) of TF 1 contrib's compute_weighted_loss, in
    extended precision, written from its definition: a trailing size-1 weight
    dim is dropped, the losses are summed over the dims past the weights',
    multiplied by the weights and summed; n = #nonzero(weights) x the size of
    those dims (size(losses) for a nonzero scalar weight)."""
    Lr = np.asarray(losses, REF)
    w = np.asarray(weights, REF)
    if w.ndim > 1 and w.shape[-1] == 1:
        w = w[..., 0]
    k = w.ndim
    R = Lr.sum(axis=tuple(range(k, Lr.ndim)))
    total = (R * w).sum()
    Ra = np.abs(Lr).sum(axis=tuple(range(k, Lr.ndim)))
    if k == 0:
        n = Lr.size if w != 0 else 0
    else:
        n = np.count_nonzero(w) * int(np.prod(Lr.shape[k:]))
    if n == 0:
        return REF(0), REF(0)
    return total / n, (Ra * np.abs(w)).sum() / n


CONTRIB_POINTWISE = {     # contrib name -> core name (same per-element loss)
    "absolute_difference": "absolute_difference",
    "mean_squared_error": "mean_squared_error",
    "sum_of_squares": "mean_squared_error",
    "log_loss": "log_loss",
    "log": "log_loss",
    "sigmoid_cross_entropy": "sigmoid_cross_entropy",
}
OLD = {"sum_of_squares", "log", "sum_of_pairwise_squares"}


def _kw(core):
    kw = dict(POINTWISE[core][2])
    kw.pop("delta", None)
    return kw


def _call(name, a, b, w, **kw):
    """contrib `name` with predictions / logits first and weights by keyword."""
    wkey = "weight" if name in OLD else "weights"
    return getattr(C, name)(b, a, **{wkey: w}, **kw)


# --------------------------------------------------------------- signatures --

def test_signatures_put_predictions_first():
    sig = {n: list(inspect.signature(getattr(C, n)).parameters) for n in C.__all__}
    assert sig["absolute_difference"] == ["predictions", "labels", "weights", "scope", "weight"]
    assert sig["sum_of_squares"] == ["predictions", "targets", "weight", "scope", "weights"]
    assert sig["sum_of_pairwise_squares"] == ["predictions", "targets", "weight", "scope",
                                              "weights"]
    assert sig["log"] == ["predictions", "targets", "weight", "epsilon", "scope", "weights"]
    assert sig["log_loss"] == ["predictions", "labels", "weights", "epsilon", "scope", "weight"]
    assert sig["sigmoid_cross_entropy"] == ["logits", "multi_class_labels", "weights",
                                            "label_smoothing", "scope", "weight"]
    assert sig["softmax_cross_entropy"] == ["logits", "onehot_labels", "weights",
                                            "label_smoothing", "scope", "weight"]
    assert sig["sparse_softmax_cross_entropy"] == ["logits", "labels", "weights", "scope",
                                                   "weight"]
    assert sig["cosine_distance"] == ["predictions", "labels", "axis", "weights", "scope", "dim",
                                      "weight"]
    assert sig["hinge_loss"] == ["logits", "labels", "scope"]
    assert sig["compute_weighted_loss"] == ["losses", "weights", "scope", "weight"]
    assert sig["get_total_loss"] == ["add_regularization_losses", "name"]
    assert sig["get_losses"] == ["scope", "loss_collection"]
    assert sig["add_loss"][:2] == ["loss", "loss_collection"]
    assert inspect.signature(C.absolute_difference).parameters["weights"].default == 1.0
    assert len(C.__all__) == 17 and "contrib" in cyloss.__all__
    assert cyloss.contrib.losses is C


# ------------------------------------------------------------- reduction ---

CONTRIB_WEIGHTS = [
    ((3, 4), ()), ((3, 4), (3,)), ((3, 4), (3, 1)), ((3, 4), (3, 4)), ((3, 4), (1,)),
    ((3, 4), (1, 4)), ((2, 3, 4), (2,)), ((2, 3, 4), (2, 3)), ((2, 3, 4), (2, 3, 1)),
    ((2, 3, 4), (2, 1, 1)), ((2, 3, 4), (2, 3, 4)), ((5,), (5,)), ((5,), ()),
]


@pytest.mark.parametrize("shape,wshape", CONTRIB_WEIGHTS, ids=str)
def test_compute_weighted_loss_matches_the_contrib_formula(shape, wshape, dtype, rng):
    losses = rng.normal(size=shape).astype(dtype)
    w = weight_of(rng, wshape).astype(dtype)
    got = C.compute_weighted_loss(losses, w)
    want, scale = ref_contrib(losses, w)
    assert got.dtype == dtype and got.shape == ()
    assert_close(got, want, scale, 16, dtype, f"contrib {shape} w{wshape}")
    assert_same_bits(C.compute_weighted_loss(losses, weight=w), got, "weight alias")


@pytest.mark.parametrize("shape,wshape", [((3, 4), (3,)), ((2, 3, 4), (2,)),
                                          ((2, 3, 4), (2, 3))], ids=str)
def test_leading_dim_weights_equal_core_sum_by_nonzero(shape, wshape, rng):
    """§2.6: [B] weights reshaped to [B, 1, ...] give core SUM_BY_NONZERO_WEIGHTS."""
    losses = rng.normal(size=shape)
    w = weight_of(rng, wshape)
    core = L.compute_weighted_loss(losses, w.reshape(wshape + (1,) * (len(shape) - len(wshape))))
    assert_close(C.compute_weighted_loss(losses, w), core, np.abs(losses).sum(), 8, F64,
                 "contrib vs core")
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        L.compute_weighted_loss(losses, w)          # the core API rejects [B] weights


def test_leading_ones_are_counted_once():
    """Weights [1] or [1, D] broadcast in the sum but n counts their own
    nonzero entries (TF 1's _num_present), so the mean is over fewer."""
    losses = np.arange(12.0).reshape(3, 4)
    assert C.compute_weighted_loss(losses, [2.0]) == 2 * losses.sum() / 4
    w = np.array([[1.0, 0.0, 1.0, 1.0]])
    assert C.compute_weighted_loss(losses, w) == (losses * w).sum() / 3


def test_scalar_zero_and_nan():
    losses = np.array([[np.nan, 1.0], [2.0, 3.0]], F32)
    for w in (0.0, np.zeros(2, F32), np.zeros((2, 1), F32), np.zeros((2, 2), F32)):
        value, bwd = cyloss.vjp(C.compute_weighted_loss, losses, w)
        assert_same_bits(value, np.float32(0), f"w={w!r}")
        g = bwd()
        assert np.array_equal(g["losses"], np.zeros((2, 2), F32))
        if np.ndim(w):                      # 0 upstream times the losses: NaN at the NaN
            assert np.isnan(g["weights"].ravel()[0])
    assert np.isnan(C.compute_weighted_loss(losses, [0.0, 1.0]))
    assert C.compute_weighted_loss(losses[1:], 2.0) == 5.0
    assert C.compute_weighted_loss(np.zeros((0, 3), F32)) == 0


def test_weight_alias_errors_and_gradient_names(rng):
    p = rng.normal(size=(3, 2))
    t = rng.normal(size=(3, 2))
    with pytest.raises(ValueError, match="Cannot specify both 'weights' and 'weight'"):
        C.absolute_difference(p, t, weights=2.0, weight=3.0)
    with pytest.raises(ValueError, match="Cannot specify both 'weight' and 'weights'"):
        C.sum_of_squares(p, t, weight=2.0, weights=3.0)
    # an explicit 1.0 next to the alias is still "both"
    with pytest.raises(ValueError, match="Cannot specify both"):
        C.mean_squared_error(p, t, 1.0, weight=3.0)
    w = np.array([1.0, 2.0, 0.5])
    _, b = cyloss.vjp(C.mean_squared_error, p, t, weight=w)
    assert set(b()) == {"predictions", "labels", "weight"}
    _, b = cyloss.vjp(C.sum_of_squares, p, t, weights=w)
    assert set(b()) == {"predictions", "targets", "weights"}
    _, b = cyloss.vjp(C.sum_of_squares, p, t)
    assert set(b()) == {"predictions", "targets"}      # the default weight: no gradient
    assert cyloss.value_and_grad(C.sum_of_squares, wrt="weight")(p, t, weight=w)[1].shape == (3,)
    with pytest.raises(ValueError, match="weights"):
        C.absolute_difference(p, t, weights=None)


def test_weight_shape_errors():
    x = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"weights of shape \(4,\) do not align"):
        C.mean_squared_error(x, x, np.ones(4))
    with pytest.raises(ValueError, match="do not align"):
        C.mean_squared_error(x, x, np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match=r"Shapes \(3, 4\) and \(4, 3\) are incompatible"):
        C.absolute_difference(x, np.ones((4, 3)))


# ---------------------------------------------------------- pointwise ---

@pytest.mark.parametrize("wshape", [(), (3,), (3, 1), (3, 4)], ids=str)
@pytest.mark.parametrize("name", sorted(CONTRIB_POINTWISE))
def test_pointwise_losses_match_reference(name, wshape, dtype, rng):
    core = CONTRIB_POINTWISE[name]
    kind, _, _, p1 = POINTWISE[core]
    kw = _kw(core)
    a, b = pointwise_inputs(rng, core, (3, 4), dtype)
    w = weight_of(rng, wshape).astype(dtype)
    got = _call(name, a, b, w, **kw)
    el, el_scale = ref_pointwise(kind, a, b, p1)
    want, _ = ref_contrib(el, w)
    _, scale = ref_contrib(el_scale, w)
    assert got.dtype == dtype
    assert_close(got, want, scale, 32, dtype, f"{name} w{wshape}")


@pytest.mark.parametrize("name", sorted(CONTRIB_POINTWISE))
def test_scalar_weights_give_core_values(name, rng):
    """With a scalar weight both reductions are the mean over the present
    elements, but in TF 1 contrib's order of operations: the core's
    unreduced losses summed (in TF's order), THEN times the weight, over n;
    bit for bit. (The core sums losses * weight: the two round differently.)"""
    core = CONTRIB_POINTWISE[name]
    kw = _kw(core)
    a, b = pointwise_inputs(rng, core, (4, 3))
    raw = getattr(L, core)(a, b, reduction="none", **kw)
    for w in (1.5, 1.0):
        want = (cyloss._checks.tf_sum(raw) * raw.dtype.type(w)) / raw.dtype.type(raw.size)
        assert_same_bits(_call(name, a, b, w, **kw), want, name)
        close(_call(name, a, b, w, **kw), getattr(L, core)(a, b, w, **kw))
    assert_same_bits(getattr(C, name)(b, a, **kw), _call(name, a, b, 1.0, **kw), name)


def test_old_names_are_the_same_losses(rng):
    p, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    w = weight_of(rng, (3,))
    assert_same_bits(C.sum_of_squares(p, t, w), C.mean_squared_error(p, t, w))
    q = rng.uniform(0.1, 0.9, size=(3, 4))
    z = rng.integers(0, 2, size=(3, 4)).astype(F64)
    assert_same_bits(C.log(q, z, w, epsilon=1e-4), C.log_loss(q, z, w, epsilon=1e-4))
    assert_same_bits(C.sum_of_pairwise_squares(p, t, w), C.mean_pairwise_squared_error(p, t, w))


def test_hinge_loss_is_unreduced_and_unweighted():
    x = np.array([[0.3, -2.0], [1.5, 0.2]], F32)
    z = np.array([[0, 1], [1, 0]], F32)
    got = C.hinge_loss(x, z)
    assert got.shape == (2, 2) and got.dtype == F32
    close(got, [[1.3, 3.0], [0.0, 1.2]])
    close(L.hinge_loss(z, x, reduction="none"), got)
    _, b = cyloss.vjp(C.hinge_loss, x, z)
    g = b(np.ones((2, 2), F32))
    close(g["logits"], [[1, -1], [0, 1]])
    close(g["labels"], [[-0.6, 4.0], [0, -0.4]])
    _, b = cyloss.vjp(C.hinge_loss, x, np.array([[0, 1], [1, 0]]))
    assert set(b()) == {"logits"}


# ------------------------------------------------------------ row-wise ---

def test_softmax_cross_entropy_seed_example_and_smoothing():
    x = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], F32)
    y = [[0, 1, 0], [0, 0, 1]]
    close(C.softmax_cross_entropy(x, y, [0.3, 0.7], label_smoothing=0.2), 0.5761805)
    close(C.softmax_cross_entropy(x, y, [[0.3], [0.7]], label_smoothing=0.2), 0.5761805)
    close(C.softmax_cross_entropy(x, y, weight=[0.3, 0.7], label_smoothing=0.2), 0.5761805)
    # num_classes comes from dim 1 (TF 1), not the last dim, for rank-3 logits
    x3 = np.zeros((1, 2, 4))
    y3 = np.zeros((1, 2, 4))
    y3[0, :, 0] = 1
    # uniform softmax: each row is log(4) * sum(y') = log(4) * (0.6 + 4 * 0.4 / 2)
    close(C.softmax_cross_entropy(x3, y3, label_smoothing=0.4), np.log(4) * 1.4)
    close(L.softmax_cross_entropy(y3, x3, label_smoothing=0.4), np.log(4) * 1.0)
    with pytest.raises(ValueError, match="dim 1"):
        C.softmax_cross_entropy(np.zeros(3), np.zeros(3), label_smoothing=0.1)
    _, b = cyloss.vjp(C.softmax_cross_entropy, x, np.array(y, F32))
    assert set(b()) == {"logits"}                        # labels stopped, default weights


def test_sparse_softmax_cross_entropy_reshapes_labels():
    x = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    flat = C.sparse_softmax_cross_entropy(x, [1, 2], [0.3, 0.7])
    close(flat, 0.5740138)
    assert_same_bits(C.sparse_softmax_cross_entropy(x, [[1], [2]], [[0.3], [0.7]]), flat)
    with pytest.raises(cyloss.InvalidArgumentError, match="reshape"):
        C.sparse_softmax_cross_entropy(x, [[1, 2], [2, 0]])
    with pytest.raises(ValueError, match="batch dimension"):
        C.sparse_softmax_cross_entropy(x[0], 1)
    with pytest.raises(cyloss.InvalidArgumentError, match="Received a label value of 3"):
        C.sparse_softmax_cross_entropy(x, [1, 3])


def test_cosine_distance_drops_the_axis():
    p = np.array([[.8, .6], [0, 1]], F32)
    t = np.array([[.6, .8], [1, 0]], F32)
    close(C.cosine_distance(p, t, axis=1), 0.52)
    close(C.cosine_distance(p, t, dim=1, weights=[1.0, 0.0]), 0.04)
    close(C.cosine_distance(p, t, 1, [[1.0], [0.0]]), 0.04)
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dim'"):
        C.cosine_distance(p, t, axis=1, dim=1)
    with pytest.raises(ValueError, match="`axis` and `dim` cannot both be None."):
        C.cosine_distance(p, t)


# -------------------------------------------------------------- pairwise ---

def test_pairwise_uses_n_not_n_minus_one():
    p = np.array([[0.5, 1, 0], [3, 6, 4]], F32)
    t = np.array([[0, 1, 2], [3, 4, 5]], F32)
    close(C.mean_pairwise_squared_error(p, t), 5.444444)
    close(L.mean_pairwise_squared_error(t, p), 8.166666)            # core: n - 1
    close(C.sum_of_pairwise_squares(p, t), 5.444444)
    # per example: 2 * population variance of d, weighted by [B] weights
    d = (p - t).astype(F64)
    var2 = 2 * d.var(axis=1)
    close(C.mean_pairwise_squared_error(p, t, [2.0, 1.0]), (var2 * [2, 1]).sum())
    close(C.mean_pairwise_squared_error(p, t, [0.0, 1.0]), var2[1])
    assert C.mean_pairwise_squared_error(p, t, 0.0) == 0
    # TF 1 did not squeeze here: [B, 1] weights broadcast against the [B] terms
    close(C.mean_pairwise_squared_error(p, t, [[2.0], [1.0]]),
          (2 * (d ** 2).sum(1) - 2 * d.sum(1) ** 2).sum() * 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        C.mean_pairwise_squared_error(p, t, np.ones((2, 3)))
    with pytest.raises(ValueError, match="batch dimension"):
        C.mean_pairwise_squared_error(np.float64(1.0), np.float64(2.0))


# ------------------------------------------------------------- gradients ---

@pytest.mark.parametrize("wshape", [(), (3,), (3, 4)], ids=str)
@pytest.mark.parametrize("name", sorted(CONTRIB_POINTWISE))
def test_pointwise_gradients(name, wshape, rng):
    core = CONTRIB_POINTWISE[name]
    kw = _kw(core)
    a, b = pointwise_inputs(rng, core, (3, 4))
    w = weight_of(rng, wshape, zeros=False)
    pname, lname = list(inspect.signature(getattr(C, name)).parameters)[:2]
    wname = "weight" if name in OLD else "weights"
    h = 2.0 ** -13 if core == "log_loss" else 2.0 ** -10
    check_fd(getattr(C, name), {pname: b, lname: a, wname: w}, kw, [pname, lname, wname],
             rng, f"{name} w{wshape}", h)


def test_other_gradients(rng):
    x = on_grid(rng.normal(size=(3, 5)) * 2)
    w = weight_of(rng, (3,), zeros=False)
    y = np.eye(5)[rng.integers(0, 5, size=3)]
    check_fd(C.softmax_cross_entropy, {"logits": x, "onehot_labels": y, "weights": w},
             {"label_smoothing": 0.2}, ["logits", "weights"], rng, "softmax")
    check_fd(C.sparse_softmax_cross_entropy,
             {"logits": x, "labels": rng.integers(0, 5, size=(3, 1)), "weights": w[:, None]},
             {}, ["logits", "weights"], rng, "sparse")
    p, t = on_grid(rng.normal(size=(3, 4))), on_grid(rng.normal(size=(3, 4)))
    check_fd(C.cosine_distance, {"predictions": p, "labels": t, "weights": w}, {"axis": 1},
             ["predictions", "labels", "weights"], rng, "cosine")
    for wp in (w, 1.5 + w[:1] * 0, w[:, None]):
        check_fd(C.mean_pairwise_squared_error, {"predictions": p, "labels": t, "weights": wp},
                 {}, ["predictions", "labels", "weights"], rng, f"pairwise w{wp.shape}")
    check_fd(C.sum_of_pairwise_squares, {"predictions": p, "targets": t, "weight": w}, {},
             ["predictions", "targets", "weight"], rng, "sum_of_pairwise_squares")
    check_fd(C.compute_weighted_loss, {"losses": p, "weights": w[:, None]}, {},
             ["losses", "weights"], rng, "compute_weighted_loss")
    z = rng.uniform(size=(3, 4))
    h = np.where(np.abs(1 - (2 * z - 1) * p) < 0.01, p + 0.25, p)
    check_fd(C.hinge_loss, {"logits": h, "labels": z}, {}, ["logits", "labels"], rng, "hinge")


def test_gradient_dtypes_and_precision():
    p32 = np.array([[0.5, 2.0], [1.0, 0.0]], F32)
    _, b = cyloss.vjp(C.absolute_difference, p32, np.ones((2, 2)), weights=np.array([2.0, 1]))
    g = b()
    assert (g["predictions"].dtype, g["labels"].dtype, g["weights"].dtype) == (F32, F64, F64)
    v = C.mean_squared_error(np.array([1 + 2e-8, 1.0]), np.array([1.0, 1.0]))
    assert v.dtype == F64 and v > 0                       # not rounded through float32


def test_inputs_are_unchanged(rng):
    p = rng.normal(size=(4, 3))
    t = rng.normal(size=(4, 3))
    w = rng.uniform(size=4)
    snaps = [snapshot(a) for a in (p, t, w)]
    for name in ("absolute_difference", "mean_squared_error", "mean_pairwise_squared_error",
                 "cosine_distance"):
        kw = {"axis": 1} if name == "cosine_distance" else {}
        _, b = cyloss.vjp(getattr(C, name), p, t, weights=w, **kw)
        b(np.float64(2.0))
    for s, n in zip(snaps, "ptw"):
        assert_unchanged(s, n)


def test_eps_of_float32_results():
    p = np.array([[0.1, 0.7]], F32)
    t = np.array([[1.0, 0.0]], F32)
    got = C.log_loss(p, t)
    want = -(np.log(REF(0.1) + REF(1e-7)) + np.log(1 - REF(0.7) + REF(1e-7))) / 2
    assert abs(got - want) <= 8 * eps(F32) * abs(want)
