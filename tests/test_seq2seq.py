"""cyloss.seq2seq.sequence_loss and cyloss.legacy_seq2seq (TF_SEMANTICS.md sec. 3),
without TensorFlow: the quoted seeds and combination table, a longdouble
reference of the pseudo-code, every flag combination, errors in TF's order,
zero weights (skipped positions, and TF's ce * 0 = NaN on non-finite rows),
float64 finite-difference gradients, softmax_loss_function (cyloss function
and plain callable), unchanged inputs and identical bits across thread
counts and SIMD levels."""
import itertools

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import cyloss
from cyloss import _kernels, legacy_seq2seq, nn, seq2seq
from cyloss._autodiff import differentiable

from _cases import REF, assert_close, assert_same_bits, eps, ref_sparse_xent
from _fd import central_diff_4, fd_tolerance, on_grid

LEVELS = _kernels.available_levels()

FLAGS = ("average_across_timesteps", "average_across_batch", "sum_over_timesteps",
         "sum_over_batch")
COMBOS = [dict(zip(FLAGS, bits)) for bits in itertools.product((True, False), repeat=4)]


def _valid(f):
    return not (f["average_across_timesteps"] and f["sum_over_timesteps"]) and \
        not (f["average_across_batch"] and f["sum_over_batch"])


VALID = [f for f in COMBOS if _valid(f)]
INVALID = [f for f in COMBOS if not _valid(f)]


def fid(f):
    return "".join("T" if f[k] else "F" for k in FLAGS)


def flags(s):
    return dict(zip(FLAGS, (c == "T" for c in s)))


SEED_X = np.array([[[1, 2], [1, 2]], [[1, 2], [1, 2]]], np.float64)
SEED_T = np.array([[0, 1], [1, 1]], np.int32)
SEED_W = np.ones((2, 2))


def steps(a):
    """[B, T, ...] -> the legacy list of T per-step arrays [B, ...]."""
    return [np.ascontiguousarray(a[:, i]) for i in range(a.shape[1])]


# ------------------------------------------------------------ references --

def ref_sequence_loss(x, t, w, f, dy=None):
    """The sec. 3.1 pseudo-code in longdouble: value, and with dy the
    gradients w.r.t. logits and weights (TF's: div_no_nan passes 0)."""
    ce = ref_sparse_xent(t, x)["value"]                   # [B, T]
    w = np.asarray(w, REF)
    cew = ce * w
    at, ab, st, sb = (f[k] for k in FLAGS)
    if at and ab:
        mode, ax = "avg", None
    elif st and sb:
        mode, ax = "count", None
    elif at or ab:
        mode, ax = "avg", 0 if ab else 1
    elif st or sb:
        mode, ax = "count", 0 if sb else 1
    else:
        mode, ax = "none", None
    if mode == "none":
        value, D, S = cew, None, None
    else:
        S = np.sum(cew, axis=ax)
        D = np.sum(w, axis=ax) if mode == "avg" else np.count_nonzero(w, axis=ax).astype(REF)
        with np.errstate(all="ignore"):
            value = np.where(D == 0, 0, S / np.where(D == 0, 1, D))
    if dy is None:
        return value
    dy = np.asarray(dy, REF)

    def spread(v):
        v = np.asarray(v, REF)
        return (v[None, :] if ax == 0 else v[:, None] if ax == 1 else v) * np.ones_like(w)
    if mode == "none":
        g = dy
    else:
        live = D != 0
        g = spread(np.where(live, dy / np.where(live, D, 1), 0))
    gx = ref_sparse_xent(t, x, dy=g * w)["logits"]
    gw = g * ce
    if mode == "avg":
        gw = gw + spread(np.where(live, -dy * S / np.where(live, D, 1) ** 2, 0))
    return value, gx, gw


def ref_legacy(xs, ts, ws, avg_t=True, batch=None):
    """sec. 3.2 in longdouble: per example sum_t ce*w / (sum_t w + 1e-12)."""
    ce = np.stack([ref_sparse_xent(t, x)["value"] for x, t in zip(xs, ts)])   # [T, B]
    w = np.stack([np.asarray(v, REF) for v in ws])
    lp = np.sum(ce * w, axis=0)
    if avg_t:
        lp = lp / (np.sum(w, axis=0) + REF(np.asarray(1e-12, xs[0].dtype)))
    if batch is None:
        return lp
    return np.sum(lp) / (REF(len(lp)) if batch == "mean" else 1)


def case(rng, b=3, t=4, c=5, dtype=np.float64, wkind="uniform"):
    x = on_grid(rng.normal(size=(b, t, c)) * 2).astype(dtype)
    tg = rng.integers(0, c, (b, t)).astype(np.int64)
    if wkind == "uniform":
        w = on_grid(rng.uniform(0.25, 2, (b, t)))
    elif wkind == "padding":
        w = (np.arange(t)[None, :] < rng.integers(0, t + 1, b)[:, None]).astype(float)
    else:
        raise ValueError(wkind)
    return x, tg, w.astype(dtype)


def _mode(f):
    at, ab, st, sb = (f[k] for k in FLAGS)
    if at and ab:
        return "avg", None
    if st and sb:
        return "count", None
    if at or ab:
        return "avg", 0 if ab else 1
    if st or sb:
        return "count", 0 if sb else 1
    return "none", None


def value_scale(x, t, w, f):
    """Magnitude of the terms behind each output: the group sums of
    |w| * (ce's rounding terms + |ce|) over |D|, times log2(n + 1) for a sum
    of n terms (both sides sum in some order), plus |value| for the division
    and D's own rounding."""
    r = ref_sparse_xent(t, x)
    aw = np.abs(np.asarray(w, REF))
    terms = aw * (r["scale"] + np.abs(r["value"]))
    mode, ax = _mode(f)
    v = np.abs(ref_sequence_loss(x, t, w, f))
    if mode == "none":
        return terms + v
    n = aw.size if ax is None else aw.shape[ax]
    D = np.sum(w, axis=ax) if mode == "avg" else np.count_nonzero(w, axis=ax)
    D = np.where(D == 0, 1, np.abs(np.asarray(D, REF)))
    return (np.sum(terms, axis=ax) / D + v) * np.log2(n + 2)


# ----------------------------------------------------------------- seeds --

def test_seed_value_contrib():
    v = seq2seq.sequence_loss(SEED_X, SEED_T, SEED_W)
    assert v.dtype == np.float64 and v.shape == ()
    # sum ce = log(1+e) + 3 log(1+e^-1) = 2.2530467500728913, / 4 (div_no_nan)
    assert_close(v, 0.5632616875182228, 1, 2, np.float64, "seed")
    assert_close(v, REF(2.2530467500728913362) / 4, 1, 2, np.float64, "seed")


def test_seed_value_legacy():
    xs, ts, ws = steps(SEED_X), steps(SEED_T), steps(SEED_W)
    v = legacy_seq2seq.sequence_loss(xs, ts, ws)
    # Exact in longdouble: (ce00 + ce01) / (2 + 1e-12) and (ce10 + ce11) / (2 + 1e-12),
    # averaged over B = 2: 0.5632616875179412032 -> float64 0.5632616875179411
    # (TF_SEMANTICS sec. 3.2; the 0.563261687518082 of sec. 3.1 is the early contrib
    # sum(ce) / (sum(w) + 1e-12), a different formula).
    exact = ref_legacy(xs, ts, ws, batch="mean")
    assert abs(float(exact) - 0.5632616875179411) < 2e-16
    assert_close(v, exact, 1, 4, np.float64, "legacy seed")
    assert v == 0.5632616875179411
    assert abs(v - 0.563261687518082) > 1e-13           # not the early contrib value
    be = legacy_seq2seq.sequence_loss_by_example(xs, ts, ws)
    np.testing.assert_allclose(be, [0.8132617, 0.3132617], atol=5e-8)
    assert_close(be, ref_legacy(xs, ts, ws), 1, 4, np.float64, "by example")


def test_seed_float32():
    v = seq2seq.sequence_loss(SEED_X.astype(np.float32), SEED_T, SEED_W.astype(np.float32))
    assert v.dtype == np.float32
    assert_close(v, 0.5632616, 1, 8, np.float32, "seed f32")


# ----------------------------------------------------- combination table --

def _table():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5))
    t = rng.integers(0, 5, (3, 4))
    w = np.array([[1, 1, 1, 0], [2, 2, 0, 0], [0, 0, 0, 0]], np.float64)
    return x, t, w


TABLE = {
    "TTFF": 1.382535,
    "TFFF": [1.512246, 1.285251, 0],
    "FTFF": [1.238456, 1.232861, 2.263792, 0],
    "FFTT": 1.935549,
    "FFTF": [1.512246, 2.570502, 0],
    "FFFT": [1.857683, 1.849292, 2.263792, 0],
    "TFFT": [1.512246, 1.285251, 0],                 # sum_over_batch silently ignored
    "FTTF": [1.238456, 1.232861, 2.263792, 0],       # sum_over_timesteps silently ignored
}


@pytest.mark.parametrize("fl", list(TABLE) + ["FFFF"])
def test_combination_table(fl):
    x, t, w = _table()
    got = seq2seq.sequence_loss(x, t, w, **flags(fl))
    if fl in TABLE:
        np.testing.assert_allclose(got, TABLE[fl], atol=5e-7)        # quoted to 6 places
    assert_close(got, ref_sequence_loss(x, t, w, flags(fl)),
                 value_scale(x, t, w, flags(fl)), 4, np.float64, fl)


def test_starred_combinations_equal_their_average():
    x, t, w = _table()
    assert_array_equal(seq2seq.sequence_loss(x, t, w, **flags("TFFT")),
                       seq2seq.sequence_loss(x, t, w, **flags("TFFF")))
    assert_array_equal(seq2seq.sequence_loss(x, t, w, **flags("FTTF")),
                       seq2seq.sequence_loss(x, t, w, **flags("FTFF")))


@pytest.mark.parametrize("f", COMBOS, ids=fid)
def test_every_flag_combination_shape(f):
    x, t, w = case(np.random.default_rng(1), b=3, t=4, c=6)
    if not _valid(f):
        with pytest.raises(ValueError, match="cannot be set to True at same time"):
            seq2seq.sequence_loss(x, t, w, **f)
        return
    v = seq2seq.sequence_loss(x, t, w, **f)
    at, ab, st, sb = (f[k] for k in FLAGS)
    if (at and ab) or (st and sb):
        want = ()
    elif at or ab:
        want = (4,) if ab else (3,)
    elif st or sb:
        want = (4,) if sb else (3,)
    else:
        want = (3, 4)
    assert v.shape == want and v.dtype == np.float64
    assert_close(v, ref_sequence_loss(x, t, w, f), value_scale(x, t, w, f), 4,
                 np.float64, fid(f))


# ----------------------------------------------------------------- errors --

def test_errors_in_tf_order():
    g32 = np.zeros((2, 3, 4), np.float32)
    t = np.zeros((2, 3), np.int32)
    w = np.ones((2, 3), np.float32)
    # rank of logits first, even with bad flags and a bad weights dtype
    with pytest.raises(ValueError, match="Logits must be"):
        seq2seq.sequence_loss(g32[0], t[0], np.ones(3), **flags("TTTT"))
    with pytest.raises(ValueError, match="Targets must be"):
        seq2seq.sequence_loss(g32, t[0], np.ones(3), **flags("TTTT"))
    with pytest.raises(ValueError, match="Weights must be"):
        seq2seq.sequence_loss(g32, t, np.ones(3), **flags("TTTT"))
    # then the flags, time before batch, before any dtype check
    with pytest.raises(ValueError, match="average_across_timesteps and sum_over_timesteps"):
        seq2seq.sequence_loss(g32, t, np.ones((2, 3)), **flags("TTTT"))
    with pytest.raises(ValueError, match="average_across_batch and sum_over_batch"):
        seq2seq.sequence_loss(g32, t, np.ones((2, 3)), **flags("FTFT"))
    # dtypes (TF's multiply / sparse xent): TypeError
    with pytest.raises(TypeError, match="weights"):
        seq2seq.sequence_loss(g32, t, np.ones((2, 3)))
    with pytest.raises(TypeError, match="targets"):
        seq2seq.sequence_loss(g32, t.astype(np.float32), w)
    with pytest.raises(TypeError, match="logits"):
        seq2seq.sequence_loss(g32.astype(np.int32), t, w)
    # shapes, naming both
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 3, 4\)"):
        seq2seq.sequence_loss(g32, np.zeros((2, 4), np.int32), w)
    with pytest.raises(cyloss.InvalidArgumentError, match=r"\(3, 3\).*\(2, 3, 4\)"):
        seq2seq.sequence_loss(g32, t, np.ones((3, 3), np.float32))
    # values: the first out-of-range label, by value
    with pytest.raises(cyloss.InvalidArgumentError, match="label value of 4"):
        seq2seq.sequence_loss(g32, np.array([[0, 1, 4], [0, 0, 0]], np.int32), w)
    with pytest.raises(cyloss.InvalidArgumentError, match="at least one class"):
        seq2seq.sequence_loss(np.zeros((2, 3, 0), np.float32), t, w)


def test_python_list_weights_take_the_logits_dtype():
    x, t, w = case(np.random.default_rng(2), dtype=np.float32)
    v = seq2seq.sequence_loss(x, t, w.tolist())
    assert v.dtype == np.float32
    assert_array_equal(v, seq2seq.sequence_loss(x, t, w))


def test_legacy_errors():
    x = [np.zeros((2, 3), np.float32)] * 2
    t = [np.zeros(2, np.int32)] * 2
    w = [np.ones(2, np.float32)] * 2
    with pytest.raises(ValueError, match=r"Lengths of logits, weights, and targets must be "
                                         r"the same 2, 2, 1\."):
        legacy_seq2seq.sequence_loss_by_example(x, t[:1], w)
    with pytest.raises(ValueError, match=r"must be the same 2, 4, 2\."):
        legacy_seq2seq.sequence_loss(x, t, w * 2)
    with pytest.raises(ValueError, match="at least one step"):
        legacy_seq2seq.sequence_loss([], [], [])
    with pytest.raises(cyloss.InvalidArgumentError, match="label value of 3"):
        legacy_seq2seq.sequence_loss(x, [np.array([0, 3], np.int32)] * 2, w)
    with pytest.raises(TypeError, match="weights"):
        legacy_seq2seq.sequence_loss(x, t, [np.ones(2)] * 2)
    with pytest.raises(ValueError, match="targets"):
        legacy_seq2seq.sequence_loss(x, [np.zeros(3, np.int32)] * 2, w)


# ---------------------------------------------------------- zero weights --

@pytest.mark.parametrize("f", VALID, ids=fid)
def test_all_zero_weights(f):
    x, t, _ = case(np.random.default_rng(3))
    w = np.zeros((3, 4))
    v, bwd = cyloss.vjp(seq2seq.sequence_loss, x, t, w, **f)
    g = bwd(np.random.default_rng(4).normal(size=v.shape))
    assert np.all(v == 0)
    assert np.all(g["logits"] == 0)
    if f["average_across_timesteps"] or f["average_across_batch"] or \
            f["sum_over_timesteps"] or f["sum_over_batch"]:
        assert np.all(g["weights"] == 0)     # div_no_nan: 0 to both inputs
    else:
        ref = ref_sparse_xent(t, x)["value"]
        assert np.all(g["weights"] != 0) and np.all(np.isfinite(ref))


def _special():
    x = np.array([[[1, np.nan, 0], [np.inf, 0, 1], [-np.inf, 0, 1], [0, -np.inf, 1]],
                  [[1, 2, 3], [-np.inf] * 3, [1, 3e38, -3e38], [0, 0, 0]]], np.float32)
    t = np.array([[0, 0, 0, 1], [1, 2, 2, 0]], np.int64)
    w = np.array([[0, 0, 0, 1], [0, 0, 0, 0]], np.float32)
    return x, t, w


def test_zero_weight_on_non_finite_rows_is_nan_as_in_tf():
    # TF multiplies ce by the weight: inf * 0 and NaN * 0 are NaN, so the sums
    # are NaN; rows [1, 3e38, -3e38] with label 2: x_label - max overflows
    # float32 to -inf, ce = +inf, ce * 0 = NaN as well
    x, t, w = _special()
    v = seq2seq.sequence_loss(x, t, w, **flags("FFFF"))
    ce = nn.sparse_softmax_cross_entropy_with_logits(t, x)
    with np.errstate(invalid="ignore"):
        want = ce * w
    assert_same_bits(np.isnan(v), np.isnan(want))
    assert np.isnan(v[0, :3]).all() and np.isnan(v[1, 1:3]).all()
    assert v[1, 0] == 0 and v[1, 3] == 0 and v[0, 3] == ce[0, 3]
    assert np.isnan(seq2seq.sequence_loss(x, t, w))
    # the logits gradient: (g * 0) * (softmax - onehot) is NaN on rows whose
    # softmax is NaN (NaN, +inf, all -inf), 0 elsewhere (the -inf label row too)
    _, bwd = cyloss.vjp(seq2seq.sequence_loss, x, t, w, **flags("FFFF"))
    gx = bwd()["logits"]
    assert np.isnan(gx[0, 0]).all() and np.isnan(gx[0, 1]).all() and np.isnan(gx[1, 1]).all()
    assert np.all(gx[0, 2] == 0) and np.all(gx[1, 0] == 0) and np.all(gx[1, 2] == 0)
    # cross-check against the unskipped path (the nn function computes every row)
    v2 = seq2seq.sequence_loss(x, t, w, **flags("FFFF"),
                               softmax_loss_function=nn.sparse_softmax_cross_entropy_with_logits)
    assert_same_bits(v, v2)


@pytest.mark.parametrize("f", VALID, ids=fid)
def test_skipped_positions_give_the_unskipped_bits(f, rng):
    # value bits do not depend on skipping: the nn path computes every row
    x, t, w = case(rng, b=6, t=7, c=40, dtype=np.float32, wkind="padding")
    x[0, 0, 3] = np.nan
    x[2, 1, 0] = np.inf
    x[3, 2, t[3, 2]] = -np.inf
    v = seq2seq.sequence_loss(x, t, w, **f)
    v2 = seq2seq.sequence_loss(x, t, w, **f,
                               softmax_loss_function=nn.sparse_softmax_cross_entropy_with_logits)
    assert_same_bits(v, v2)
    # fn() and vjp() agree, whatever the gradient request
    v3, _ = cyloss.vjp(seq2seq.sequence_loss, x, t, w, **f)
    v4, _ = cyloss.value_and_grad(seq2seq.sequence_loss, wrt="logits")(x, t, w, **f)
    assert_same_bits(v, v3)
    assert_same_bits(v, v4)


def test_zero_weight_gradient_of_weights_uses_ce(rng):
    # d/dw at w = 0 is ce / D - S / D^2: the skipped rows still need ce
    x, t, w = case(rng, wkind="padding")
    w[0, 0], w[1, 1] = 0, 1
    _, bwd = cyloss.vjp(seq2seq.sequence_loss, x, t, w)
    g = bwd()
    _, gx, gw = ref_sequence_loss(x, t, w, flags("TTFF"), dy=1.0)
    assert np.all(gw[w == 0] != 0)
    # |terms| of ce / D - S / D^2 are below 1 + |gw|: 16 eps of them
    assert_close(g["weights"], gw, np.abs(gw) + 1, 16, np.float64, "dw")
    assert_close(g["logits"], gx, np.abs(gx) + 1, 16, np.float64, "dx")
    assert np.all(g["logits"][w == 0] == 0)


# ------------------------------------------------------------- gradients --

def assert_fd_close(got, fd, noise, what):
    tol = fd_tolerance(noise) + 16 * eps(np.float64) * np.abs(fd)
    err = np.abs(got - fd)
    worst = np.unravel_index(np.argmax(err / tol), err.shape) if err.ndim else ()
    assert np.all(err <= tol), (f"{what}: at {worst}: got {got[worst]!r}, finite differences "
                                f"{fd[worst]!r}, tolerance {tol[worst]:.3g}")


@pytest.mark.parametrize("f", VALID, ids=fid)
def test_gradients_match_finite_differences(f, rng):
    # weights in [0.25, 2] (away from 0: count_nonzero is not differentiable there)
    x, t, w = case(rng)
    v = seq2seq.sequence_loss(x, t, w, **f)
    dy = rng.normal(size=v.shape)
    _, bwd = cyloss.vjp(seq2seq.sequence_loss, x, t, w, **f)
    g = bwd(dy)
    sc = value_scale(x, t, w, f)
    fx, nx = central_diff_4(lambda a: seq2seq.sequence_loss(a, t, w, **f), x, dy=dy, scale=sc)
    assert_fd_close(g["logits"], fx, nx, f"{fid(f)} dlogits")
    fw, nw = central_diff_4(lambda a: seq2seq.sequence_loss(x, t, a, **f), w, dy=dy, scale=sc)
    assert_fd_close(g["weights"], fw, nw, f"{fid(f)} dweights")
    # and the closed form of sec. 3.1
    _, gx, gw = ref_sequence_loss(x, t, w, f, dy=dy)
    assert_close(g["logits"], gx, np.abs(gx) + np.max(np.abs(gx)), 16, np.float64, "dx")
    assert_close(g["weights"], gw, np.abs(gw) + np.max(np.abs(gw)), 16, np.float64, "dw")


@pytest.mark.parametrize("avg_t", [True, False])
@pytest.mark.parametrize("fn", ["by_example", "sum", "mean"])
def test_legacy_gradients_match_finite_differences(avg_t, fn, rng):
    x, t, w = case(rng, b=3, t=4, c=5)
    xs, ts, ws = steps(x), steps(t), steps(w)
    if fn == "by_example":
        call = lambda a, b_: legacy_seq2seq.sequence_loss_by_example(    # noqa: E731
            a, ts, b_, average_across_timesteps=avg_t)
    else:
        call = lambda a, b_: legacy_seq2seq.sequence_loss(               # noqa: E731
            a, ts, b_, average_across_timesteps=avg_t, average_across_batch=fn == "mean")
    v = call(xs, ws)
    batch = None if fn == "by_example" else fn
    assert_close(v, ref_legacy(xs, ts, ws, avg_t, batch), np.abs(v) * 8 + 1, 4,
                 np.float64, "legacy value")
    dy = rng.normal(size=np.shape(v))
    fn_obj = legacy_seq2seq.sequence_loss_by_example if fn == "by_example" else \
        legacy_seq2seq.sequence_loss
    kw = {"average_across_timesteps": avg_t}
    if fn != "by_example":
        kw["average_across_batch"] = fn == "mean"
    _, bwd = cyloss.vjp(fn_obj, xs, ts, ws, **kw)
    g = bwd(dy)
    assert isinstance(g["logits"], list) and len(g["logits"]) == 4
    assert isinstance(g["weights"], list) and g["weights"][0].shape == (3,)
    gx, gw = np.stack(g["logits"]), np.stack(g["weights"])
    sc = np.abs(v) * 8 + 1
    fx, nx = central_diff_4(lambda a: call(list(a), ws), np.stack(xs), dy=dy, scale=sc)
    assert_fd_close(gx, fx, nx, f"legacy {fn} dlogits")
    fw, nw = central_diff_4(lambda a: call(xs, list(a)), np.stack(ws), dy=dy, scale=sc)
    assert_fd_close(gw, fw, nw, f"legacy {fn} dweights")


def test_legacy_scalar_step_weights():
    x, t, _ = case(np.random.default_rng(5))
    xs, ts = steps(x), steps(t)
    ws = [1.0, 0.5, 2.0, 0.0]
    v, bwd = cyloss.vjp(legacy_seq2seq.sequence_loss_by_example, xs, ts, ws)
    full = [np.full(3, s) for s in ws]
    assert_close(v, legacy_seq2seq.sequence_loss_by_example(xs, ts, full), np.abs(v) + 1, 4,
                 np.float64, "scalar weights")
    gw = bwd()["weights"]
    assert [np.shape(g) for g in gw] == [()] * 4
    _, bf = cyloss.vjp(legacy_seq2seq.sequence_loss_by_example, xs, ts, full)
    want = [g.sum() for g in bf()["weights"]]
    assert_close(np.array(gw), np.array(want), np.abs(want) + 1, 8, np.float64, "dw")


def test_legacy_zero_weight_sum_uses_the_guard():
    x, t, _ = case(np.random.default_rng(6))
    xs, ts = steps(x), steps(t)
    ws = [np.zeros(3)] * 4
    v, bwd = cyloss.vjp(legacy_seq2seq.sequence_loss_by_example, xs, ts, ws)
    assert np.all(v == 0)
    gw = np.stack(bwd()["weights"])      # ce / 1e-12 (not div_no_nan's 0)
    ce = np.stack([nn.sparse_softmax_cross_entropy_with_logits(tt, xx) for xx, tt in zip(xs, ts)])
    assert_close(gw, ce / 1e-12, np.abs(ce) / 1e-12, 4, np.float64, "guard")


def test_legacy_matches_contrib_per_example_sums(rng):
    # no averaging: legacy by_example is the contrib per-batch sum (avg_t=F, sum_t=T
    # divides by counts; with all weights nonzero, (F,F,F,F) summed over time)
    x, t, w = case(rng)
    a = legacy_seq2seq.sequence_loss_by_example(steps(x), steps(t), steps(w),
                                                average_across_timesteps=False)
    b = seq2seq.sequence_loss(x, t, w, **flags("FFFF")).sum(axis=1)
    assert_close(a, b, np.abs(b) + 1, 8, np.float64, "sums")


# ------------------------------------------------- softmax_loss_function --

@differentiable("logits")
def doubled_xent(ctx, labels, logits):
    """A cyloss loss function that is not nn's: 2 * sparse xent."""
    v, bwd = nn.sparse_softmax_cross_entropy_with_logits._cyloss_impl(ctx, labels, logits)
    if bwd is None:
        return 2 * v, None
    return 2 * v, lambda dy: {"logits": bwd(2 * dy if dy is not None else np.full_like(v, 2))
                              ["logits"]}


@pytest.mark.parametrize("f", VALID, ids=fid)
def test_cyloss_loss_function_is_differentiable(f, rng):
    x, t, w = case(rng)
    dy = rng.normal(size=np.shape(seq2seq.sequence_loss(x, t, w, **f)))
    v0, b0 = cyloss.vjp(seq2seq.sequence_loss, x, t, w, **f)
    g0 = b0(dy)
    for fn, k in ((nn.sparse_softmax_cross_entropy_with_logits, 1), (doubled_xent, 2)):
        v, bwd = cyloss.vjp(seq2seq.sequence_loss, x, t, w, **f, softmax_loss_function=fn)
        g = bwd(dy)
        assert_close(v, k * v0, np.abs(v) + 1, 8, np.float64, "value")
        for name in ("logits", "weights"):
            assert_close(g[name], k * g0[name], np.abs(g0[name]) + np.max(np.abs(g0[name])),
                         16, np.float64, name)
    lv, lb = cyloss.vjp(legacy_seq2seq.sequence_loss, steps(x), steps(t), steps(w),
                        softmax_loss_function=doubled_xent)
    lv0, lb0 = cyloss.vjp(legacy_seq2seq.sequence_loss, steps(x), steps(t), steps(w))
    assert_close(lv, 2 * lv0, np.abs(lv) + 1, 8, np.float64, "legacy value")
    assert_close(np.stack(lb()["logits"]), 2 * np.stack(lb0()["logits"]), 1, 16,
                 np.float64, "legacy dlogits")


def test_plain_callable_loss_function():
    x, t, w = case(np.random.default_rng(7))
    seen = {}

    def plain(labels, logits):
        seen["shapes"] = (labels.shape, logits.shape)
        m = logits.max(axis=-1, keepdims=True)
        lse = np.log(np.exp(logits - m).sum(-1)) + m[:, 0]
        return lse - np.take_along_axis(logits, labels[:, None], -1)[:, 0]

    v = seq2seq.sequence_loss(x, t, w, softmax_loss_function=plain)
    assert seen["shapes"] == ((12,), (12, 5))
    assert_close(v, seq2seq.sequence_loss(x, t, w), np.abs(v) + 1, 16, np.float64, "plain")
    with pytest.raises(TypeError, match="need a cyloss loss function"):
        cyloss.vjp(seq2seq.sequence_loss, x, t, w, softmax_loss_function=plain)
    with pytest.raises(TypeError, match="need a cyloss loss function"):
        cyloss.vjp(legacy_seq2seq.sequence_loss, steps(x), steps(t), steps(w),
                   softmax_loss_function=plain)
    # the weights' gradient needs only the values
    _, gw = cyloss.value_and_grad(seq2seq.sequence_loss, wrt="weights")(
        x, t, w, softmax_loss_function=plain)
    _, gw0 = cyloss.value_and_grad(seq2seq.sequence_loss, wrt="weights")(x, t, w)
    assert_close(gw, gw0, np.abs(gw0) + 1, 16, np.float64, "dw plain")
    with pytest.raises(ValueError, match=r"shape \(12,\)"):
        seq2seq.sequence_loss(x, t, w, softmax_loss_function=lambda labels, logits: logits)
    with pytest.raises(TypeError, match="float32"):
        seq2seq.sequence_loss(x, t, w, softmax_loss_function=lambda labels, logits:
                              plain(labels, logits).astype(np.float32))


# ------------------------------------------------ inputs, threads, levels --

def test_inputs_unchanged(rng):
    x, t, w = case(rng, wkind="padding")
    x.setflags(write=False)
    copies = [a.copy() for a in (x, t, w)]
    xs, ts, ws = steps(x), steps(t), steps(w)
    lcopies = [[a.copy() for a in s] for s in (xs, ts, ws)]
    for f in VALID:
        _, b = cyloss.vjp(seq2seq.sequence_loss, x, t, w, **f)
        g = b()
        g["logits"] += 1        # the caller owns the gradients
    _, b = cyloss.vjp(legacy_seq2seq.sequence_loss, xs, ts, ws)
    b(2.0)
    for a, c in zip((x, t, w), copies):
        assert_same_bits(a, c)
    for s, cs in zip((xs, ts, ws), lcopies):
        for a, c in zip(s, cs):
            assert_same_bits(a, c)


def test_strided_and_fortran_inputs(rng):
    x, t, w = case(rng)
    want = seq2seq.sequence_loss(x, t, w, **flags("FFFF"))
    big = np.zeros((6, 8, 10))
    big[::2, ::2, ::2] = x
    assert_same_bits(seq2seq.sequence_loss(big[::2, ::2, ::2], np.asfortranarray(t),
                                           w[::1, ::1].copy(order="F"), **flags("FFFF")), want)
    # legacy: one step given as a Fortran-ordered array (stacking keeps its layout)
    one = [np.asfortranarray(x[:, 0])], [t[:, 0]], [w[:, 0]]
    want1 = legacy_seq2seq.sequence_loss_by_example([x[:, 0].copy()], *one[1:])
    assert_same_bits(legacy_seq2seq.sequence_loss_by_example(*one), want1)
    _, b = cyloss.vjp(legacy_seq2seq.sequence_loss, *one)
    assert b()["logits"][0].shape == x[:, 0].shape


def _run_all(x, t, w, dy_seq, dy_leg):
    out = []
    for f in VALID:
        v, b = cyloss.vjp(seq2seq.sequence_loss, x, t, w, **f)
        g = b(dy_seq[fid(f)])
        out += [v, g["logits"], g["weights"]]
    v, b = cyloss.vjp(legacy_seq2seq.sequence_loss_by_example, steps(x), steps(t), steps(w))
    g = b(dy_leg)
    out += [v] + g["logits"] + g["weights"]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bits_do_not_depend_on_threads_or_simd_level(dtype, rng, monkeypatch):
    from cyloss import _threads
    monkeypatch.setattr(_threads, "SERIAL_BELOW", 0)
    x, t, w = case(rng, b=9, t=13, c=37, dtype=dtype, wkind="padding")
    x[1, 2, 5] = np.nan
    dy_seq = {fid(f): rng.normal(size=seq2seq.sequence_loss(x, t, w, **f).shape).astype(dtype)
              for f in VALID}
    dy_leg = rng.normal(size=9).astype(dtype)
    cyloss.set_num_threads(1)
    _kernels.use(LEVELS[0])
    want = _run_all(x, t, w, dy_seq, dy_leg)
    for level in LEVELS:
        _kernels.use(level)
        for n in (1, 2, 3):
            cyloss.set_num_threads(n)
            for i, (a, b) in enumerate(zip(_run_all(x, t, w, dy_seq, dy_leg), want)):
                assert_same_bits(a, b, f"output {i} at {level}, {n} threads")
