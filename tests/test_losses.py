"""cyloss.losses (tf.compat.v1.losses): TF_SEMANTICS.md §2.1-2.4 worked
examples, every reduction and weight shape against an extended-precision
reference, div_no_nan, dtypes, float64 finite-difference gradients of every
function w.r.t. every input TF differentiates, TF's tie conventions, errors,
unchanged inputs and thread-count determinism. (Collections:
test_collections.py.)"""
import itertools

import numpy as np
import pytest

import cyloss
from cyloss import losses as L
from cyloss.losses import Reduction

from _cases import REF, assert_close, assert_same_bits, assert_unchanged, eps, snapshot, \
    with_layout
from _fd import central_diff_4, fd_tolerance, on_grid

F32, F64 = np.float32, np.float64
REDUCTIONS = [Reduction.NONE, Reduction.SUM, Reduction.MEAN, Reduction.SUM_OVER_BATCH_SIZE,
              Reduction.SUM_BY_NONZERO_WEIGHTS]
RED_IDS = ["none", "sum", "mean", "sobs", "sbnz"]
# TF_SEMANTICS values are printed to 7 significant digits (float32 runs):
# they are compared at 1e-6 relative.
PRINTED = 1e-6


def close(got, want, rtol=PRINTED, atol=1e-7):
    np.testing.assert_allclose(np.asarray(got, F64), np.asarray(want, F64), rtol=rtol, atol=atol)


# -------------------------------------------------------------- references --

def ref_reduce(losses, weights, reduction):
    """(value, rounding scale) of TF's v1 reduction in extended precision."""
    Lr = np.asarray(losses, REF)
    wr = np.broadcast_to(np.asarray(weights, REF), Lr.shape)
    P = Lr * wr
    if reduction == Reduction.NONE:
        return P, np.abs(P) + np.abs(Lr)
    S = P.sum()
    D = {Reduction.SUM: REF(1), Reduction.MEAN: wr.sum(),
         Reduction.SUM_OVER_BATCH_SIZE: REF(Lr.size),
         Reduction.SUM_BY_NONZERO_WEIGHTS: REF(np.count_nonzero(wr))}[reduction]
    if D == 0:
        return REF(0), REF(0)
    scale = np.abs(P).sum() / abs(D)
    if reduction == Reduction.MEAN:        # the denominator's own rounding
        scale = scale + abs(S) * np.abs(wr).sum() / D ** 2
    return S / D, scale


def ref_pointwise(kind, a, b, p1=0.0):
    """(elementwise loss, its rounding scale) per TF_SEMANTICS §2.3."""
    a, b = np.asarray(a, REF), np.asarray(b, REF)
    e = b - a
    if kind == "absolute_difference":
        return np.abs(e), np.abs(a) + np.abs(b)
    if kind == "squared_difference":
        return e * e, (np.abs(a) + np.abs(b)) ** 2
    if kind == "huber":
        q = np.minimum(np.abs(e), p1)
        return 0.5 * q * q + p1 * (np.abs(e) - q), (np.abs(a) + np.abs(b) + p1) ** 2
    if kind == "log_loss":
        t1, t2 = -a * np.log(b + p1), -(1 - a) * np.log(1 - b + p1)
        return t1 + t2, np.abs(t1) + np.abs(t2) + 1
    if kind == "hinge":
        m = 1 - (2 * a - 1) * b
        return np.maximum(m, 0), 1 + np.abs((2 * a - 1) * b)
    if kind == "sigmoid":
        z = a * (1 - p1) + 0.5 * p1
        v = np.maximum(b, 0) - b * z + np.log1p(np.exp(-np.abs(b)))
        return v, np.abs(b) * (1 + np.abs(z)) + 1
    raise ValueError(kind)


def ref_xent_rows(y, x, ls=0.0):
    y = np.asarray(y, REF)
    x = np.asarray(x, REF)
    if ls > 0:
        y = y * (1 - ls) + ls / x.shape[-1]
    m = x.max(axis=-1, keepdims=True)
    lse = m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    return (y * (lse - x)).sum(-1), (np.abs(y) * (np.abs(lse) + np.abs(x))).sum(-1) + 1


POINTWISE = {   # public function -> (kernel kind, names, extra kwargs, p1)
    "absolute_difference": ("absolute_difference", ("labels", "predictions"), {}, 0.0),
    "mean_squared_error": ("squared_difference", ("labels", "predictions"), {}, 0.0),
    "huber_loss": ("huber", ("labels", "predictions"), {"delta": 0.75}, 0.75),
    "log_loss": ("log_loss", ("labels", "predictions"), {"epsilon": 1e-3}, 1e-3),
    "hinge_loss": ("hinge", ("labels", "logits"), {}, 0.0),
    "sigmoid_cross_entropy": ("sigmoid", ("multi_class_labels", "logits"),
                              {"label_smoothing": 0.2}, 0.2),
}


def pointwise_inputs(rng, fn, shape, dtype=F64):
    """On-grid (labels, predictions) kept >= 0.01 away from every kink, so
    that finite differences with steps <= 2 * 2**-10 see a smooth function."""
    a = on_grid(rng.normal(size=shape))
    b = on_grid(rng.normal(size=shape))
    if fn == "log_loss":
        a = on_grid(rng.integers(0, 2, size=shape).astype(F64))
        b = on_grid(rng.uniform(0.3, 0.7, size=shape))
    elif fn == "hinge_loss":
        a = rng.integers(0, 2, size=shape).astype(F64)
        t = 2 * a - 1
        m = 1 - t * b
        b = np.where(np.abs(m) < 0.01, b + 0.125 * t, b)
    elif fn == "sigmoid_cross_entropy":
        a = on_grid(rng.uniform(0, 1, size=shape))
    elif fn in ("absolute_difference", "huber_loss"):
        e = b - a
        b = np.where(np.abs(e) < 0.01, b + 0.125, b)
        e = b - a
        b = np.where(np.abs(np.abs(e) - 0.75) < 0.01, b + 0.0625 * np.sign(e), b)
    return a.astype(dtype), b.astype(dtype)


def weight_of(rng, wshape, zeros=True, signs=False):
    """On-grid weights in [0.25, 2] (random signs if `signs`; a zero when
    `zeros`). Positive by default: with mixed signs MEAN's sum(w) can come
    arbitrarily close to 0, amplifying rounding and finite-difference
    truncation alike (negative weights have their own tests)."""
    w = on_grid(rng.uniform(0.25, 2, size=wshape))
    if signs:
        w = w * rng.choice([-1, 1], size=wshape)
    if zeros and w.size > 2:
        w.ravel()[1] = 0
    return w


# ----------------------------------------------------------------- Reduction --

def test_reduction_keys_are_tf_strings():
    assert Reduction.NONE == "none"
    assert Reduction.SUM == "weighted_sum"
    assert Reduction.MEAN == "weighted_mean"
    assert Reduction.SUM_OVER_BATCH_SIZE == "weighted_sum_over_batch_size"
    assert Reduction.SUM_BY_NONZERO_WEIGHTS == "weighted_sum_by_nonzero_weights"
    assert Reduction.SUM_OVER_NONZERO_WEIGHTS == Reduction.SUM_BY_NONZERO_WEIGHTS
    assert Reduction.all() == ("none", "weighted_sum", "weighted_mean",
                               "weighted_sum_over_batch_size",
                               "weighted_sum_by_nonzero_weights",
                               "weighted_sum_by_nonzero_weights")
    Reduction.validate("weighted_mean")
    with pytest.raises(ValueError, match="Invalid Reduction Key mean. Key should be one of"):
        Reduction.validate("mean")


@pytest.mark.parametrize("fn", [L.compute_weighted_loss, L.absolute_difference])
def test_bad_reduction_is_rejected(fn):
    args = ([1.0, 2.0],) if fn is L.compute_weighted_loss else ([1.0], [2.0])
    with pytest.raises(ValueError, match="Invalid Reduction Key sum_over_batch_size"):
        fn(*args, reduction="sum_over_batch_size")


def test_default_reduction_and_signatures():
    import inspect
    for name in L.__all__:
        fn = getattr(L, name)
        if name in ("Reduction", "collection") or not callable(fn):
            continue
        params = inspect.signature(fn).parameters
        if "reduction" in params:
            assert params["reduction"].default == Reduction.SUM_BY_NONZERO_WEIGHTS, name
        if "weights" in params:
            assert params["weights"].default == 1.0 and repr(params["weights"].default) == "1.0"
        if "loss_collection" in params:
            assert params["loss_collection"].default == "losses"
    assert list(inspect.signature(L.huber_loss).parameters) == [
        "labels", "predictions", "weights", "delta", "scope", "loss_collection", "reduction"]
    assert list(inspect.signature(L.cosine_distance).parameters) == [
        "labels", "predictions", "axis", "weights", "scope", "loss_collection", "reduction",
        "dim"]
    assert list(inspect.signature(L.mean_pairwise_squared_error).parameters) == [
        "labels", "predictions", "weights", "scope", "loss_collection"]
    assert list(inspect.signature(L.sigmoid_cross_entropy).parameters)[:5] == [
        "multi_class_labels", "logits", "weights", "label_smoothing", "scope"]
    assert inspect.signature(L.log_loss).parameters["epsilon"].default == 1e-7


# ---------------------------------------------------- compute_weighted_loss --

LOSSES_23 = [[1, 2, 3], [4, 5, 6]]
TABLE_22 = [   # TF_SEMANTICS §2.2: weights -> (SUM, MEAN, SOBS, SBNZ, NONE)
    (2.0, 42, 3.5, 7, 7, np.multiply(LOSSES_23, 2)),
    ([[0.5], [0]], 3, 2, 0.5, 1, [[.5, 1, 1.5], [0, 0, 0]]),
    ([[1, 0, 2], [0, 0, 3]], 25, 4.1666665, 4.1666665, 8.333333, [[1, 0, 6], [0, 0, 18]]),
]


@pytest.mark.parametrize("row", range(len(TABLE_22)))
def test_compute_weighted_loss_table(row, dtype):
    w, s, mean, sobs, sbnz, none = TABLE_22[row]
    losses = np.array(LOSSES_23, dtype)
    got = {r: L.compute_weighted_loss(losses, w, reduction=r) for r in REDUCTIONS}
    for r, want in zip(REDUCTIONS, (none, s, mean, sobs, sbnz)):
        assert got[r].dtype == dtype
        close(got[r], want)
    assert got[Reduction.NONE].shape == (2, 3)
    assert got[Reduction.SUM].shape == ()
    assert_same_bits(L.compute_weighted_loss(losses, w), got[Reduction.SUM_BY_NONZERO_WEIGHTS])


WEIGHT_SHAPES = [(), (3, 4), (3, 1), (1, 4), (1, 1)]


@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
@pytest.mark.parametrize("wshape", WEIGHT_SHAPES, ids=str)
@pytest.mark.parametrize("signs", [False, True], ids=["positive", "signed"])
def test_compute_weighted_loss_matches_reference(red, wshape, signs, dtype, rng):
    losses = rng.normal(size=(3, 4)).astype(dtype)
    w = weight_of(rng, wshape, signs=signs).astype(dtype)
    got = L.compute_weighted_loss(losses, w, reduction=red)
    want, scale = ref_reduce(losses, w, red)
    assert got.dtype == dtype and got.shape == np.shape(want)
    assert_close(got, want, scale, 16, dtype, f"compute_weighted_loss {red} w{wshape}")


@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
def test_weight_forms_agree(red, dtype, rng):
    """A Python float, a 0-d array, a NumPy scalar, int and [1, 1] weights
    give the same result; [B, 1] equals the broadcast full weights."""
    losses = rng.normal(size=(3, 4)).astype(dtype)
    base = L.compute_weighted_loss(losses, 2.0, reduction=red)
    for w in (np.array(2.0, dtype), np.float64(2.0), 2, np.array(2, np.int32),
              np.full((1, 1), 2.0, dtype), np.full((3, 4), 2.0, dtype)):
        assert_same_bits(L.compute_weighted_loss(losses, w, reduction=red), base, repr(w))
    col = np.array([[0.5], [0], [-1.5]], dtype)
    assert_close(L.compute_weighted_loss(losses, col, reduction=red),
                 L.compute_weighted_loss(losses, np.broadcast_to(col, (3, 4)), reduction=red),
                 np.abs(losses).sum(), 8, dtype, "[B, 1] vs full")


def test_zero_negative_and_bool_weights():
    losses = np.array(LOSSES_23, F32)
    mixed = np.array([[2, -2, 0], [0, 0, 0]], F32)
    assert L.compute_weighted_loss(losses, mixed, reduction=Reduction.MEAN) == 0   # sum(w) = 0
    close(L.compute_weighted_loss(losses, mixed), -1.0)         # 2 present (negative counts)
    for red in REDUCTIONS:
        got = L.compute_weighted_loss(losses, np.zeros((2, 3), F32), reduction=red)
        assert_same_bits(got, np.zeros(np.shape(got), F32), f"all-zero weights, {red}")
    close(L.compute_weighted_loss(losses, np.array([[True], [False]])), 2.0)


@pytest.mark.parametrize("red", REDUCTIONS[1:], ids=RED_IDS[1:])
def test_div_no_nan_gives_zero_even_for_nan_losses(red):
    losses = np.array([np.nan, 1, np.inf], F32)
    value, bwd = cyloss.vjp(L.compute_weighted_loss, losses, np.zeros(3, F32), reduction=red)
    if red in (Reduction.SUM, Reduction.SUM_OVER_BATCH_SIZE):
        assert np.isnan(value)           # no zero denominator: 0 * NaN = NaN stays
        return
    assert_same_bits(value, np.float32(0))
    g = bwd()
    assert np.array_equal(g["losses"], np.zeros(3, F32))
    # TF's chain rule: the 0 that div_no_nan passes upstream times the losses
    assert_same_bits(g["weights"], np.array([np.nan, 0, np.nan], F32))
    # a zero weight does not hide a NaN once the denominator is nonzero
    assert np.isnan(L.compute_weighted_loss(losses, np.array([0, 1, 1], F32), reduction=red))


def test_compute_weighted_loss_precision_and_dtypes():
    # float64 is never narrowed (TF would round through float32)
    one = L.compute_weighted_loss(np.array(1 + 1e-12), reduction=Reduction.NONE)
    assert one.dtype == F64 and one == 1 + 1e-12
    big = L.compute_weighted_loss(np.array([1e8 + 1] * 3), reduction=Reduction.SUM)
    assert big == 300000003.0
    # what TF casts to float32 and back: ints truncate, float16 rounds
    ints = L.compute_weighted_loss(np.array([1, 2], np.int64), 0.75, reduction=Reduction.SUM)
    assert ints.dtype == np.int64 and ints == 2
    half = L.compute_weighted_loss(np.array([1, 2], np.float16), 0.1)
    assert half.dtype == np.float16
    close(half, np.float16(0.15), rtol=1e-3)
    assert L.compute_weighted_loss(np.zeros((0, 3), F32)).dtype == F32
    for red in REDUCTIONS[1:]:
        assert L.compute_weighted_loss(np.zeros((0, 3), F32), reduction=red) == 0
    assert L.compute_weighted_loss(np.zeros((0, 3)), reduction="none").shape == (0, 3)


# ------------------------------------------------------- worked examples 2.3 --

LAB = [[0, 1, 2], [3, 4, 5]]
PRED = [[0.5, 1, 0], [3, 6, 4]]


@pytest.mark.parametrize("dt", [F32, F64])
def test_worked_examples(dt):
    a, p = np.array(LAB, dt), np.array(PRED, dt)
    close(L.absolute_difference(a, p), 0.9166667)
    close(L.mean_squared_error(a, p), 1.541667)
    close(L.huber_loss(a, p), 0.6041667)
    close(L.huber_loss(a, p, delta=0.5), 0.375)
    z, q = np.array([[0, 1], [1, 0]], dt), np.array([[.1, .9], [.6, .3]], dt)
    close(L.log_loss(z, q), 0.2695553)
    close(L.hinge_loss(z, np.array([[.3, -2], [1.5, .2]], dt)), 1.375)
    close(L.cosine_distance(np.array([[.6, .8], [1, 0]], dt), np.array([[.8, .6], [0, 1]], dt),
                            axis=1), 0.52)
    close(L.sigmoid_cross_entropy(np.array([[1, 0, 1], [0, 1, 0]], dt),
                                  np.array([[1, -2, .5], [0, 3, -1]], dt),
                                  label_smoothing=0.2), 0.4532105)
    close(L.sparse_softmax_cross_entropy([1, 2], np.array([[.05, .95, 0], [.1, .8, .1]], dt),
                                         np.array([.3, .7], dt)), 0.5740138)
    for out in (L.absolute_difference(a, p), L.huber_loss(a, p)):
        assert out.dtype == dt and out.shape == ()


SEED_LABELS = [[0, 1, 0], [0, 0, 1]]
SEED_LOGITS = [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]


@pytest.mark.parametrize("dt", [F32, F64])
def test_softmax_cross_entropy_seed_example(dt):
    x, w = np.array(SEED_LOGITS, dt), np.array([0.3, 0.7], dt)
    got = L.softmax_cross_entropy(SEED_LABELS, x, weights=w, label_smoothing=0.2)
    assert got.dtype == dt
    close(got, 0.5761805)
    close(L.softmax_cross_entropy(SEED_LABELS, x, w, 0.2, reduction="none"),
          [0.212219, 0.940142])
    close(L.softmax_cross_entropy(SEED_LABELS, x, w, 0.2, reduction="weighted_sum"), 1.152361)
    close(L.softmax_cross_entropy(SEED_LABELS, x, w, 0.2, reduction="weighted_mean"), 1.152361)
    if dt == F64:
        # the exact value for these float64 inputs (extended-precision reference);
        # 0.5761805076617295, quoted in TF_SEMANTICS §4.3, is that of the
        # float32-rounded inputs: a float64 run on float32 data
        assert abs(got - 0.5761805092918249) < 4 * eps(F64)
        assert abs(got - 0.5761805076617295) > 1e-9
    value, bwd = cyloss.vjp(L.softmax_cross_entropy, SEED_LABELS, x, weights=w,
                            label_smoothing=0.2)
    g = bwd()
    assert set(g) == {"logits", "weights"}          # labels are stop-gradient'ed
    close(g["logits"], [[0.02400718, -0.04635582, 0.02234863],
                        [0.06386685, 0.1522663, -0.2161332]], atol=1e-7)
    close(g["weights"], [0.3536984, 0.67153])
    assert g["logits"].dtype == dt and g["weights"].dtype == dt


def test_softmax_cross_entropy_float64_is_not_rounded_through_float32():
    got = L.softmax_cross_entropy([[0, 1, 0]], np.array([[0.1, 0.2, 0.3]]))
    assert abs(got - 1.101942848229244) <= 2 * eps(F64) * 2      # TF: 1.1019428968429565
    assert abs(got - 1.1019428968429565) > 1e-8


# --------------------------------------------- every function, every reduction --

@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
@pytest.mark.parametrize("wshape", [(), (3, 4), (3, 1), (1, 4)], ids=str)
@pytest.mark.parametrize("fn", sorted(POINTWISE))
def test_pointwise_losses_match_reference(fn, wshape, red, dtype, rng):
    kind, names, kw, p1 = POINTWISE[fn]
    a, b = pointwise_inputs(rng, fn, (3, 4), dtype)
    w = weight_of(rng, wshape).astype(dtype)
    got = getattr(L, fn)(a, b, weights=w, reduction=red, **kw)
    el, el_scale = ref_pointwise(kind, a.astype(dtype), b.astype(dtype), p1)
    want, _ = ref_reduce(el, w, red)
    _, scale = ref_reduce(el_scale, np.abs(w), red)
    assert got.dtype == dtype
    assert_close(got, want, np.abs(scale), 32, dtype, f"{fn} {red} w{wshape}")


@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
@pytest.mark.parametrize("wshape", [(), (3,), (1,)], ids=str)
def test_softmax_losses_match_reference(wshape, red, dtype, rng):
    x = rng.normal(size=(3, 5)).astype(dtype)
    y = rng.uniform(size=(3, 5)).astype(dtype)
    w = weight_of(rng, wshape).astype(dtype)
    rows, rscale = ref_xent_rows(y, x, 0.1)
    want, _ = ref_reduce(rows, w, red)
    _, scale = ref_reduce(rscale, np.abs(w), red)
    got = L.softmax_cross_entropy(y, x, w, label_smoothing=0.1, reduction=red)
    assert_close(got, want, np.abs(scale), 32, dtype, f"softmax {red}")
    ids = rng.integers(0, 5, size=3)
    rows, rscale = ref_xent_rows(np.eye(5)[ids], x)
    want, _ = ref_reduce(rows, w, red)
    _, scale = ref_reduce(rscale, np.abs(w), red)
    got = L.sparse_softmax_cross_entropy(ids, x, w, reduction=red)
    assert_close(got, want, np.abs(scale), 32, dtype, f"sparse {red}")


@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
def test_cosine_distance_keeps_the_axis(red, dtype, rng):
    a = rng.normal(size=(3, 4, 2)).astype(dtype)
    b = rng.normal(size=(3, 4, 2)).astype(dtype)
    w = weight_of(rng, (3, 1, 2)).astype(dtype)
    got = L.cosine_distance(a, b, axis=1, weights=w, reduction=red)
    el = 1 - (a.astype(REF) * b.astype(REF)).sum(axis=1, keepdims=True)
    want, _ = ref_reduce(el, w, red)
    _, scale = ref_reduce(1 + (np.abs(a) * np.abs(b)).sum(1, keepdims=True), np.abs(w), red)
    assert_close(got, want, np.abs(scale), 32, dtype, f"cosine {red}")
    if red == Reduction.NONE:
        assert got.shape == (3, 1, 2)
    assert_same_bits(L.cosine_distance(a, b, axis=-2, weights=w, reduction=red), got, "axis -2")
    assert_same_bits(L.cosine_distance(a, b, dim=1, weights=w, reduction=red), got, "dim")


def test_none_reduction_shapes():
    x = np.zeros((2, 3, 4), F32)
    assert L.mean_squared_error(x, x, reduction="none").shape == (2, 3, 4)
    assert L.softmax_cross_entropy(x, x, reduction="none").shape == (2, 3)
    assert L.sparse_softmax_cross_entropy(np.zeros((2, 3), np.int64), x,
                                          reduction="none").shape == (2, 3)
    assert L.cosine_distance(x, x, axis=2, reduction="none").shape == (2, 3, 1)
    assert L.softmax_cross_entropy([0.0, 1.0], np.array([0.5, 0.2], F32)).shape == ()


def test_empty_inputs_give_zero():
    e = np.zeros((0, 3), F32)
    for red in REDUCTIONS[1:]:
        for out in (L.absolute_difference(e, e, reduction=red),
                    L.softmax_cross_entropy(e, e, reduction=red),
                    L.mean_pairwise_squared_error(e, e)):
            assert_same_bits(out, np.float32(0), red)


# ----------------------------------------------------------- sharp edges ---

def test_tie_gradients_follow_tf():
    zero = np.zeros(3, F32)
    _, b = cyloss.vjp(L.absolute_difference, zero, zero, reduction="weighted_sum")
    assert_same_bits(b()["predictions"], zero)                      # sign(0) = 0
    # huber at |e| = delta: delta (both branches meet), at 0: 0
    p = np.array([1, 0, -1], F32)
    _, b = cyloss.vjp(L.huber_loss, zero, p, reduction="weighted_sum")
    assert_same_bits(b()["predictions"], np.array([1, 0, -1], F32))
    # hinge at 1 - t x = 0: relu'(0) = 0
    _, b = cyloss.vjp(L.hinge_loss, np.array([1, 0], F32), np.array([1, -1], F32),
                      reduction="weighted_sum")
    g = b()
    assert np.all(g["logits"] == 0) and np.all(g["labels"] == 0)
    # log_loss: p = 0, z = 0 gives -log(1 + eps) < 0
    assert L.log_loss(np.array([0.0], F32), np.array([0.0], F32)) < 0


def test_hinge_with_half_labels_and_huber_with_zero_delta():
    assert L.hinge_loss([0.5], np.array([3.0])) == 1.0                  # t = 0
    assert L.huber_loss([1.0, 2.0], np.array([3.0, -1.0]), delta=0.0) == 0


def test_sigmoid_cross_entropy_smoothing_and_label_gradient():
    x = np.array([[1, -2, .5], [0, 3, -1]])
    z = np.array([[1, 0, 1], [0, 1, 0]], F64)
    assert_same_bits(L.sigmoid_cross_entropy(z, x, label_smoothing=-0.3),
                     L.sigmoid_cross_entropy(z, x), "negative smoothing is ignored")
    _, b = cyloss.vjp(L.sigmoid_cross_entropy, z, x, label_smoothing=0.2,
                      reduction="weighted_sum")
    assert_close(b()["multi_class_labels"], -x * 0.8, np.abs(x), 4, F64, "dz")


def test_sparse_softmax_cross_entropy_squeezes_trailing_ones():
    x = np.array([[0.5, 1.0, -1.0], [2.0, 1.0, 0.0]])
    flat = L.sparse_softmax_cross_entropy([1, 0], x, weights=[1.0, 3.0])
    assert_same_bits(L.sparse_softmax_cross_entropy([[1], [0]], x, weights=[[1.0], [3.0]]),
                     flat, "labels [B,1], weights [B,1]")
    assert_same_bits(L.sparse_softmax_cross_entropy([1, 0], x, weights=[[1.0], [3.0]]),
                     flat, "weights [B,1]")
    _, b = cyloss.vjp(L.sparse_softmax_cross_entropy, np.array([[1], [0]]), x,
                      weights=np.array([[1.0], [3.0]]))
    g = b()
    assert g["weights"].shape == (2, 1) and g["logits"].shape == (2, 3)
    # logits [B, C, 1] with labels [B]: TF squeezes the logits
    x3 = x[:, :, None]
    assert_same_bits(L.sparse_softmax_cross_entropy([1, 0], x3, [1.0, 3.0]), flat, "[B,C,1]")
    _, b = cyloss.vjp(L.sparse_softmax_cross_entropy, np.array([1, 0]), x3)
    assert b()["logits"].shape == (2, 3, 1)
    with pytest.raises(cyloss.InvalidArgumentError, match=r"Can not squeeze dim\[1\]"):
        L.sparse_softmax_cross_entropy([1, 0], x, weights=[[1.0, 2.0], [3.0, 4.0]])


# -------------------------------------------------------- pairwise (2.4) ---

def test_mean_pairwise_graph_value_and_gradients():
    a, p = np.array(LAB, F32), np.array(PRED, F32)
    close(L.mean_pairwise_squared_error(a, p), 8.166666)     # eager TF: 3.483333
    close(L.mean_pairwise_squared_error(a, p, weights=[[1.0], [1.0]]), 8.166666)
    value, bwd = cyloss.vjp(L.mean_pairwise_squared_error, a, p,
                            weights=np.array([[2.0], [1.0]], F32))
    close(value, 11.666666)
    g = bwd()
    close(g["predictions"], [[4, 2, -6], [-0.6666667, 3.333333, -2.666667]])
    close(g["labels"], -g["predictions"])
    close(g["weights"], [[3.5], [4.666667]])
    assert {k: v.dtype for k, v in g.items()} == dict.fromkeys(g, np.dtype(F32))
    # single-element examples: n - 1 = 0 -> 0 (eager TF: 0.25)
    assert L.mean_pairwise_squared_error([[1.0], [2.0]], np.zeros((2, 1))) == 0


def test_mean_pairwise_is_the_mean_over_pairs(rng):
    d = rng.normal(size=(3, 5))
    lab = rng.normal(size=(3, 5))
    w = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [2, 0, 0, 2, 2]], F64)
    got = L.mean_pairwise_squared_error(lab, lab + d, weights=w)
    want = 0
    for i in range(3):
        n = np.count_nonzero(w[i])
        pairs = [(d[i, j] - d[i, k]) ** 2 for j in range(5) for k in range(j + 1, 5)]
        # zero weights only change n; the sums still run over every element
        s2, s1 = (d[i] ** 2).sum(), d[i].sum()
        t = 2 * s2 / (n - 1) - 2 * s1 ** 2 / (n * (n - 1))
        if n == 5:
            assert abs(t - np.mean(pairs)) < 1e-12
        want += t * w[i].sum()
    assert abs(got - want) < 1e-12 * (1 + abs(want))
    with pytest.raises(TypeError):
        L.mean_pairwise_squared_error(lab, lab, reduction="weighted_sum")


# -------------------------------------------------------------- gradients ---

def assert_fd_close(got, fd, noise, what, h=2.0 ** -10, floor=0.0):
    """fd_tolerance (stencil rounding) + 16 eps relative for the gradient's own
    rounding + `floor`, an absolute allowance for gradients whose terms cancel
    (MEAN's d/dw of a scalar weight is exactly 0; cyloss gets ~eps)."""
    tol = fd_tolerance(noise, h=h) + 16 * eps(F64) * np.abs(fd) + floor
    err = np.abs(np.asarray(got, F64) - fd)
    assert np.shape(got) == np.shape(fd), f"{what}: shape {np.shape(got)} != {np.shape(fd)}"
    assert np.all(err <= tol), f"{what}: worst {np.max(err / tol):.3g} x tol; got {got}, fd {fd}"


def check_fd(fn, args, kw, wrt, rng, what, h=2.0 ** -10):
    """Every gradient backward(dy) returns for `wrt` against central_diff_4."""
    value, bwd = cyloss.vjp(fn, **args, **kw)
    dy = on_grid(rng.normal(size=np.shape(value)))
    grads = bwd(dy)
    assert set(grads) == set(wrt), f"{what}: gradients for {sorted(grads)}, want {sorted(wrt)}"
    floor = 32 * eps(F64) * np.sum(np.abs(dy) * (1 + np.abs(value)))
    for name in wrt:
        fd, noise = central_diff_4(lambda t: fn(**{**args, name: t}, **kw), args[name], h=h,
                                   dy=dy)
        assert grads[name].dtype == F64
        assert_fd_close(grads[name], fd, noise, f"{what} d{name}", h, floor)


@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
@pytest.mark.parametrize("wshape", [(), (3, 4), (3, 1)], ids=str)
@pytest.mark.parametrize("fn", sorted(POINTWISE))
def test_pointwise_gradients(fn, wshape, red, rng):
    _, names, kw, _ = POINTWISE[fn]
    a, b = pointwise_inputs(rng, fn, (3, 4))
    w = weight_of(rng, wshape, zeros=False)         # a count of nonzero weights is constant
    wrt = [names[0], names[1], "weights"]
    if fn == "hinge_loss":     # labels are 0/1; derivative exists but is not smooth in FD
        a = on_grid(a + rng.uniform(-0.2, 0.2, size=a.shape))
        b = np.where(np.abs(1 - (2 * a - 1) * b) < 0.01, b + 0.25, b)
    # log: |d^5/dp^5| ~ 24 / p^5 -- a smaller step keeps the O(h^4) truncation down
    h = 2.0 ** -13 if fn == "log_loss" else 2.0 ** -10
    check_fd(getattr(L, fn), {names[0]: a, names[1]: b, "weights": w},
             dict(kw, reduction=red), wrt, rng, f"{fn} {red} w{wshape}", h)


@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
def test_compute_weighted_loss_gradients(red, rng):
    args = {"losses": on_grid(rng.normal(size=(3, 4))),
            "weights": weight_of(rng, (3, 1), zeros=False)}
    check_fd(L.compute_weighted_loss, args, {"reduction": red}, ["losses", "weights"], rng,
             red)


@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
def test_cosine_distance_gradients(red, rng):
    args = {"labels": on_grid(rng.normal(size=(3, 4))),
            "predictions": on_grid(rng.normal(size=(3, 4))),
            "weights": weight_of(rng, (3, 1), zeros=False)}
    check_fd(L.cosine_distance, args, {"axis": 1, "reduction": red},
             ["labels", "predictions", "weights"], rng, red)
    args["weights"] = weight_of(rng, (1, 4), zeros=False)
    check_fd(L.cosine_distance, args, {"axis": 0, "reduction": red},
             ["labels", "predictions", "weights"], rng, red + " axis 0")


@pytest.mark.parametrize("red", REDUCTIONS, ids=RED_IDS)
def test_softmax_gradients(red, rng):
    args = {"onehot_labels": on_grid(rng.uniform(size=(3, 5))),
            "logits": on_grid(rng.normal(size=(3, 5)) * 2),
            "weights": weight_of(rng, (3,), zeros=False)}
    # labels need not sum to 1 for the FD check to hold: the value is exact in them,
    # and they get no gradient; use one-hot rows so TF's softmax - labels is the derivative
    args["onehot_labels"] = np.eye(5)[rng.integers(0, 5, size=3)]
    check_fd(L.softmax_cross_entropy, args, {"reduction": red, "label_smoothing": 0.25},
             ["logits", "weights"], rng, red)
    sargs = {"labels": rng.integers(0, 5, size=3), "logits": args["logits"],
             "weights": args["weights"]}
    check_fd(L.sparse_softmax_cross_entropy, sargs, {"reduction": red}, ["logits", "weights"],
             rng, red)


@pytest.mark.parametrize("wshape", [(), (3, 4), (3, 1), (1, 4)], ids=str)
def test_pairwise_gradients(wshape, rng):
    args = {"labels": on_grid(rng.normal(size=(3, 4))),
            "predictions": on_grid(rng.normal(size=(3, 4))),
            "weights": weight_of(rng, wshape, zeros=False)}
    check_fd(L.mean_pairwise_squared_error, args, {}, ["labels", "predictions", "weights"],
             rng, f"w{wshape}")
    args3 = {"labels": on_grid(rng.normal(size=(2, 3, 2))),
             "predictions": on_grid(rng.normal(size=(2, 3, 2))),
             "weights": weight_of(rng, (2, 1, 2), zeros=False)}
    check_fd(L.mean_pairwise_squared_error, args3, {}, ["labels", "predictions", "weights"],
             rng, "rank 3")


def test_gradients_are_scaled_by_dy_and_zero_without_denominator():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    _, b = cyloss.vjp(L.mean_squared_error, x * 0, x, reduction="none")
    assert_same_bits(b(np.array([[1.0, 0], [2.0, 3.0]]))["predictions"],
                     np.array([[2.0, 0], [12.0, -6.0]]))
    _, b = cyloss.vjp(L.mean_squared_error, x * 0, x, weights=np.zeros((2, 1)))
    g = b(np.float64(5))
    for k in ("labels", "predictions"):          # 0 times the local gradient (TF: +-0)
        assert np.array_equal(g[k], np.zeros((2, 2)))
    assert np.array_equal(g["weights"], np.zeros((2, 1)))


# ----------------------------------------------------------------- dtypes ---

def test_gradient_dtypes_follow_the_inputs():
    p32 = np.array([[0.5, 2.0]], F32)
    _, b = cyloss.vjp(L.absolute_difference, np.array([[1.0, 1.0]]), p32,
                      weights=np.array([[2.0]]))
    g = b()
    assert (g["labels"].dtype, g["predictions"].dtype, g["weights"].dtype) == (F64, F32, F64)
    value = L.absolute_difference(np.array([[1.0, 1.0]]), p32)
    assert value.dtype == F32                        # computed in the predictions' dtype
    # integer labels: cast, no gradient; default weights: no gradient (TF watches no tensor)
    v, b = cyloss.vjp(L.hinge_loss, np.array([1, 0]), np.array([0.5, 1.0], F32))
    assert v.dtype == F32 and set(b()) == {"logits"}
    # explicit Python float / list weights: gradient in the compute dtype
    _, b = cyloss.vjp(L.hinge_loss, [1, 0], np.array([0.5, 1.0], F32), weights=2.0)
    assert b()["weights"].dtype == F32
    _, b = cyloss.vjp(L.hinge_loss, [1, 0], np.array([0.5, 1.0], F32), weights=[2.0, 1.0])
    assert b()["weights"].dtype == F32
    # integer weights: no gradient
    _, b = cyloss.vjp(L.hinge_loss, [1, 0], np.array([0.5, 1.0]), weights=np.array([2, 1]))
    assert "weights" not in b()
    # float16 / integer predictions are computed in float32 (as TF)
    assert L.mean_squared_error([1, 2], np.array([1, 3], np.float16)).dtype == F32
    assert L.mean_squared_error([1, 2], [1, 3]).dtype == F32
    _, b = cyloss.vjp(L.mean_squared_error, [1.0, 2.0], np.array([1, 3], np.float16))
    assert b()["predictions"].dtype == np.float16
    # sigmoid: labels cast to the logits' dtype, their gradient back to theirs
    _, b = cyloss.vjp(L.sigmoid_cross_entropy, np.array([[1.0, 0.0]]),
                      np.array([[0.5, 1.0]], F32))
    g = b()
    assert g["multi_class_labels"].dtype == F64 and g["logits"].dtype == F32
    close(g["multi_class_labels"], [[-0.25, -0.5]])


@pytest.mark.parametrize("fn", sorted(POINTWISE))
def test_float32_and_float64_agree(fn, rng):
    _, names, kw, _ = POINTWISE[fn]
    a, b = pointwise_inputs(rng, fn, (4, 5))
    w = weight_of(rng, (4, 1))
    v64 = getattr(L, fn)(a, b, w, **kw)
    v32 = getattr(L, fn)(a.astype(F32), b.astype(F32), w.astype(F32), **kw)
    assert v64.dtype == F64 and v32.dtype == F32
    assert abs(float(v32) - float(v64)) <= 64 * eps(F32) * (1 + abs(float(v64)))


# ----------------------------------------------------------------- errors ---

def test_none_arguments():
    with pytest.raises(ValueError, match="Argument `labels` must not be None."):
        L.absolute_difference(None, [1.0])
    with pytest.raises(ValueError, match="Argument `predictions` must not be None."):
        L.mean_squared_error([1.0], None)
    with pytest.raises(ValueError, match="Argument `logits` must not be None."):
        L.softmax_cross_entropy([[1.0]], None)
    with pytest.raises(ValueError, match="Argument `multi_class_labels` must not be None."):
        L.sigmoid_cross_entropy(None, [1.0])
    with pytest.raises(ValueError, match="weights"):
        L.mean_squared_error([1.0], [1.0], weights=None)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"Shapes \(1, 3\) and \(1, 2\) are incompatible"):
        L.absolute_difference([[1.0, 2.0]], [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"Shapes \(2, 2\) and \(1, 2\) are incompatible"):
        L.softmax_cross_entropy([[0.0, 1.0]], [[0.5, 0.2], [1.0, 2.0]])
    # core weights must have the losses' rank: [B] for [B, D] is rejected
    with pytest.raises(ValueError, match=r"weights can not be broadcast to values.*\(2, 3\)"):
        L.mean_squared_error(np.ones((2, 3)), np.ones((2, 3)), weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        L.mean_squared_error(np.ones((2, 3)), np.ones((2, 3)), weights=np.ones((2, 2)))
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        L.mean_squared_error(np.ones(3), np.ones(3), weights=np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"weights can not be broadcast.*\(2,\).*\(2, 1\)"):
        L.softmax_cross_entropy([[0.0, 1.0], [1, 0]], [[0.5, 0.2], [1, 2]],
                                weights=[[1.0], [2.0]])
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        L.cosine_distance(np.ones((2, 2, 1)), np.ones((2, 2, 1)), axis=2,
                          weights=np.ones((2, 2)))
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        L.mean_pairwise_squared_error(np.ones((2, 3)), np.ones((2, 3)), weights=[1.0, 2.0])
    assert L.cosine_distance(np.ones((2, 2, 1)), np.ones((2, 2, 1)), axis=2,
                             weights=np.ones((2, 2, 1))) == 0


def test_axis_errors():
    with pytest.raises(ValueError, match="You must specify argument `axis`."):
        L.cosine_distance([[1.0]], [[1.0]])
    with pytest.raises(ValueError, match="Cannot specify both 'dim' and 'axis'."):
        L.cosine_distance([[1.0]], [[1.0]], axis=1, dim=1)
    with pytest.raises(cyloss.InvalidArgumentError, match="axis"):
        L.cosine_distance([[1.0]], [[1.0]], axis=2)


def test_dtype_and_label_errors():
    x = np.ones((2, 3), F32)
    with pytest.raises(TypeError, match="labels"):
        L.sparse_softmax_cross_entropy(np.array([1.0, 2.0]), x)
    with pytest.raises(cyloss.InvalidArgumentError, match="Received a label value of 3"):
        L.sparse_softmax_cross_entropy(np.array([1, 3]), x)
    with pytest.raises(TypeError, match="logits"):
        L.softmax_cross_entropy(x, x.astype(np.int32))
    with pytest.raises(TypeError, match="predictions"):
        L.absolute_difference(x, np.array([["a"] * 3] * 2))
    with pytest.raises(TypeError, match="weights"):
        L.mean_squared_error(x, x, weights="w")


# ------------------------------------------ inputs, layouts, determinism ---

CALLS = [
    (L.absolute_difference, ("labels", "predictions"), {}),
    (L.huber_loss, ("labels", "predictions"), {"delta": 0.5}),
    (L.log_loss, ("labels", "predictions"), {}),
    (L.hinge_loss, ("labels", "logits"), {}),
    (L.sigmoid_cross_entropy, ("multi_class_labels", "logits"), {"label_smoothing": 0.1}),
    (L.softmax_cross_entropy, ("onehot_labels", "logits"), {"label_smoothing": 0.1}),
    (L.cosine_distance, ("labels", "predictions"), {"axis": 1}),
    (L.mean_pairwise_squared_error, ("labels", "predictions"), {}),
]


def _call_args(rng, fn, names, shape, dtype):
    a = rng.uniform(0.05, 0.95, size=shape).astype(dtype)
    b = rng.uniform(0.05, 0.95, size=shape).astype(dtype)
    wshape = (shape[0],) if fn is L.softmax_cross_entropy else (shape[0],) + (1,) * (
        len(shape) - 1)
    return {names[0]: a, names[1]: b, "weights": rng.uniform(size=wshape).astype(dtype)}


@pytest.mark.parametrize("layout", ["strided", "negative", "fortran", "readonly"])
@pytest.mark.parametrize("call", CALLS, ids=lambda c: c[0].__name__ if callable(c) else "")
def test_layouts_give_the_same_bits_and_inputs_are_unchanged(call, layout, rng):
    fn, names, kw = call
    args = _call_args(rng, fn, names, (5, 6), F32)
    value, bwd = cyloss.vjp(fn, **args, **kw)
    grads = bwd()
    moved = {k: with_layout(v, layout) for k, v in args.items()}
    snaps = {k: snapshot(v) for k, v in moved.items()}
    v2, b2 = cyloss.vjp(fn, **moved, **kw)
    g2 = b2(np.float32(1))
    assert_same_bits(v2, value, f"{fn.__name__} {layout}")
    assert_same_bits(fn(**moved, **kw), value, "fn() and vjp() agree")
    for k in grads:
        assert_same_bits(g2[k], grads[k], f"{fn.__name__} {layout} d{k}")
    for k, s in snaps.items():
        assert_unchanged(s, f"{fn.__name__} {k}")


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c[0].__name__ if callable(c) else "")
def test_thread_counts_give_the_same_bits(call, n_threads, rng):
    fn, names, kw = call
    args = _call_args(rng, fn, names, (64, 257), F32)
    cyloss.set_num_threads(n_threads)
    value, bwd = cyloss.vjp(fn, **args, **kw)
    grads = bwd()
    cyloss.set_num_threads(1)
    v1, b1 = cyloss.vjp(fn, **args, **kw)
    g1 = b1()
    assert_same_bits(value, v1, f"{fn.__name__} value")
    for k in g1:
        assert_same_bits(grads[k], g1[k], f"{fn.__name__} d{k}")


def test_value_and_grad_and_repeated_backward():
    x = np.array([[1.0, 2.0, 0.5]])
    y = np.array([[0.0, 1.0, 0.0]])
    value, (gx, gw) = cyloss.value_and_grad(L.softmax_cross_entropy, wrt=("logits", "weights"))(
        y, x, weights=np.array([2.0]))
    v, b = cyloss.vjp(L.softmax_cross_entropy, y, x, weights=np.array([2.0]))
    assert_same_bits(value, v)
    first, second = b(), b()
    assert_same_bits(first["logits"], gx)
    assert_same_bits(second["logits"], gx)
    assert_same_bits(first["weights"], gw)
    with pytest.raises(ValueError, match="has no argument"):
        cyloss.value_and_grad(L.softmax_cross_entropy, wrt="labels")


def test_every_public_name_is_exported():
    assert "losses" in cyloss.__all__ and cyloss.losses is L
    for name in L.__all__:
        assert hasattr(L, name), name
    for name in ("compute_weighted_loss", "absolute_difference", "cosine_distance", "hinge_loss",
                 "huber_loss", "log_loss", "mean_pairwise_squared_error", "mean_squared_error",
                 "sigmoid_cross_entropy", "softmax_cross_entropy",
                 "sparse_softmax_cross_entropy"):
        assert getattr(L, name)._cyloss_impl is not None, name


def test_reductions_over_many_shapes(rng):
    """Random shapes and broadcastable weight shapes, every reduction, against
    the reference (a small exhaustive sweep over ranks 0-3)."""
    for shape in [(), (1,), (5,), (2, 3), (2, 1, 3), (0, 2)]:
        losses = rng.normal(size=shape).astype(F32)
        opts = [()] + [tuple(s if keep else 1 for s, keep in zip(shape, m))
                       for m in itertools.product([0, 1], repeat=len(shape))]
        for wshape, red in itertools.product(opts, REDUCTIONS):
            w = weight_of(rng, wshape).astype(F32)
            want, scale = ref_reduce(losses, w, red)
            got = L.compute_weighted_loss(losses, w, reduction=red)
            assert_close(got, want, scale, 16, F32, f"{shape} w{wshape} {red}")


def test_pairwise_gradients_propagate_nan_like_tf():
    """TF's chain rule multiplies the 0 a zero denominator (or the
    nothing-present where()) passes upstream by each local gradient, so an
    infinite difference gives NaN in its example (values from TF 2.21 in
    tf.function)."""
    lab = np.array([[1.0, np.inf, 2.0], [0.0, 1.0, 3.0]], F32)
    pred = np.zeros((2, 3), F32)
    nan = np.full(3, np.nan, F32)
    for w, row1 in ((np.float32(0), np.zeros(3, F32)),
                    (np.array([[0.0], [1.0]], F32), np.array([2.6666667, 0.6666667, -3.3333333],
                                                             F32))):
        value, bwd = cyloss.vjp(L.mean_pairwise_squared_error, lab, pred, weights=w)
        g = bwd()
        assert value == (0 if w.ndim == 0 else np.float32(4.6666665))
        assert_same_bits(g["predictions"][0], nan)
        close(g["predictions"][1], row1)
        close(g["labels"][1], -row1)
    value, bwd = cyloss.vjp(L.mean_pairwise_squared_error, lab, pred,
                            weights=np.ones((2, 1), F32))
    assert np.isnan(value)
    g = bwd()
    assert_same_bits(g["predictions"][0], np.array([np.inf, np.nan, np.inf], F32))
    assert np.isnan(g["weights"][0, 0]) and abs(g["weights"][1, 0] - 4.6666665) < 1e-6
