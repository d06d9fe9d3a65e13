"""Sampled losses (nce_loss, sampled_softmax_loss) and their helpers
(log_uniform_candidate_sampler, compute_accidental_hits): TF_SEMANTICS.md
sec. 1.8-1.11 values, partitions, float64 finite-difference gradients, errors,
untouched inputs, bit-identical results at every thread count and SIMD level,
and statistical tests of the sampler. No TensorFlow needed."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cyloss
from cyloss import InvalidArgumentError, nn

from _cases import assert_same_bits, eps
from _fd import central_diff_4, fd_tolerance, on_grid

LOSSES = {"nce": nn.nce_loss, "softmax": nn.sampled_softmax_loss}
W0 = [[.1, .2], [.3, -.1], [-.2, .4], [.5, .5]]
B0 = [0, .1, -.1, .2]
X0 = [[1, 2], [-1, .5]]


def sec111(dtype=np.float32):
    """The example of TF_SEMANTICS sec. 1.11."""
    sv = (np.array([0, 2, 3]), np.array([[.5], [.25]], dtype), np.array([.9, .8, .7], dtype))
    return (np.array(W0, dtype), np.array(B0, dtype), np.array([[1], [2]]),
            np.array(X0, dtype), sv)


# ------------------------------------------------------------ sec. 1.11 --

@pytest.mark.parametrize("fn,remove,want", [
    ("nce", False, [4.679815, 2.763871]),
    ("nce", True, [4.679815, 1.775325]),
    ("softmax", True, [1.756959, 0.3766933]),
    ("softmax", False, [1.756959, 0.5709553]),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_sec111_example(fn, remove, want, dtype):
    W, b, lab, x, sv = sec111(dtype)
    got = LOSSES[fn](W, b, lab, x, 3, 4, sampled_values=sv, remove_accidental_hits=remove)
    assert got.dtype == dtype and got.shape == (2,)
    # TF's values are printed to 7 significant digits: half a unit of the 7th
    # digit (5e-7 relative) plus the float32 rounding of the computation (a
    # dozen roundings of terms of size ~5: 16 eps * 5)
    np.testing.assert_allclose(got, want, rtol=5e-7, atol=16 * eps(np.float32) * 5)


def test_defaults_remove_hits_for_softmax_only():
    W, b, lab, x, sv = sec111()
    assert_same_bits(nn.sampled_softmax_loss(W, b, lab, x, 3, 4, sampled_values=sv),
                     nn.sampled_softmax_loss(W, b, lab, x, 3, 4, sampled_values=sv,
                                             remove_accidental_hits=True))
    assert_same_bits(nn.nce_loss(W, b, lab, x, 3, 4, sampled_values=sv),
                     nn.nce_loss(W, b, lab, x, 3, 4, sampled_values=sv,
                                 remove_accidental_hits=False))


@pytest.mark.parametrize("fn", LOSSES)
@pytest.mark.parametrize("remove", [False, True])
def test_partitions_div_and_mod_match_the_whole_table(fn, remove):
    """sec. 1.11: [W[:2], W[2:]] (div) and [W[0::2], W[1::2]] (mod) give the
    results of the whole table; the gradients come back per partition."""
    W, b, lab, x, sv = sec111()
    f = LOSSES[fn]
    dy = np.array([0.7, -1.3], np.float32)
    kw = dict(sampled_values=sv, remove_accidental_hits=remove)
    v, bwd = cyloss.vjp(f, W, b, lab, x, 3, 4, **kw)
    g = bwd(dy)
    for parts, bparts, strategy, back in (
            ([W[:2], W[2:]], [b[:2], b[2:]], "div", lambda p: np.concatenate(p)),
            ([W[0::2], W[1::2]], [b[0::2], b[1::2]], "mod",
             lambda p: np.stack([p[0], p[1]], axis=1).reshape((4,) + p[0].shape[1:]))):
        v2, bwd2 = cyloss.vjp(f, parts, bparts, lab, x, 3, 4, partition_strategy=strategy,
                              **kw)
        g2 = bwd2(dy)
        assert_same_bits(v2, v, strategy)
        assert isinstance(g2["weights"], list) and len(g2["weights"]) == 2
        assert [a.shape for a in g2["weights"]] == [a.shape for a in parts]
        assert_same_bits(back(g2["weights"]), g["weights"], f"{strategy} weights")
        assert_same_bits(back(g2["biases"]), g["biases"], f"{strategy} biases")
        assert_same_bits(g2["inputs"], g["inputs"], f"{strategy} inputs")


def test_weights_and_biases_partitioned_differently():
    """mod-partitioned weights with whole biases (and the reverse): the bias
    gradient is grouped by its own layout."""
    W, b, lab, x, sv = sec111()
    dy = np.array([0.7, -1.3], np.float32)
    _, bwd = cyloss.vjp(nn.nce_loss, W, b, lab, x, 3, 4, sampled_values=sv,
                        remove_accidental_hits=True)
    g = bwd(dy)
    for ww, bb in (([W[0::2], W[1::2]], b), (W, [b[0::2], b[1::2]])):
        _, bwd2 = cyloss.vjp(nn.nce_loss, ww, bb, lab, x, 3, 4, sampled_values=sv,
                             remove_accidental_hits=True, partition_strategy="mod")
        g2 = bwd2(dy)
        gw, gb = g2["weights"], g2["biases"]
        if isinstance(gw, list):
            gw = np.stack(gw, axis=1).reshape(4, 2)
        if isinstance(gb, list):
            gb = np.stack(gb, axis=1).reshape(4)
        assert_same_bits(gw, g["weights"])
        assert_same_bits(gb, g["biases"])
        assert_same_bits(g2["inputs"], g["inputs"])


def test_uneven_div_partitions():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((10, 3))
    b = rng.standard_normal(10)
    x = rng.standard_normal((4, 3))
    lab = rng.integers(0, 10, (4, 2))
    sv = (np.array([9, 0, 4, 3]), np.full((4, 2), 0.3), np.full(4, 0.2))
    whole = nn.nce_loss(W, b, lab, x, 4, 10, num_true=2, sampled_values=sv)
    parts = [W[:4], W[4:7], W[7:]]          # 10 rows in 3: sizes 4, 3, 3
    assert_same_bits(nn.nce_loss(parts, b, lab, x, 4, 10, num_true=2, sampled_values=sv),
                     whole)
    with pytest.raises(ValueError, match=r"\[3, 3, 4\].*'div'"):
        nn.nce_loss([W[:3], W[3:6], W[6:]], b, lab, x, 4, 10, num_true=2, sampled_values=sv)


# ------------------------------------------------------- accidental hits --

def test_compute_accidental_hits_sec18():
    idx, ids, w = nn.compute_accidental_hits(np.array([[1, 3], [3, 3], [7, 0]]),
                                             np.array([3, 5, 1, 9, 1]), 2)
    assert_same_bits(idx, np.array([0, 0, 1, 1], np.int32))
    assert_same_bits(ids, np.array([4, 0, 0, 0], np.int64))
    assert_same_bits(w, np.full(4, -np.finfo(np.float32).max, np.float32))


def test_compute_accidental_hits_against_a_loop(rng):
    tc = rng.integers(0, 12, (30, 3))
    sc = rng.integers(0, 12, 25)
    want = [(i, int(np.flatnonzero(sc == v)[-1])) for i in range(30) for v in tc[i]
            if v in sc]
    idx, ids, _ = nn.compute_accidental_hits(tc, sc, 3)
    assert list(zip(idx.tolist(), ids.tolist())) == want


def test_only_the_last_duplicate_is_masked():
    """Sampled [1, 1, 2]: a hit on 1 masks position 1 only; position 0 stays a
    live (negative) class of the softmax."""
    W = np.array([[0.], [1.], [2.]])
    b = np.zeros(3)
    x = np.array([[1.]])
    sv = (np.array([1, 1, 2]), np.ones((1, 1)), np.ones(3))
    got = nn.sampled_softmax_loss(W, b, np.array([[1]]), x, 3, 3, sampled_values=sv)
    # logits [1 (true), 1, masked, 2]: loss = log(e + e + e^2) - 1
    want = np.log(2 * np.e + np.e ** 2) - 1
    np.testing.assert_allclose(got, [want], rtol=8 * eps(np.float64))


# ------------------------------------------------------------ gradients --

def _problem(rng, nt=2, n_b=4, d=3, c=7, s=5):
    W = on_grid(rng.standard_normal((c, d)))
    b = on_grid(rng.standard_normal(c))
    x = on_grid(rng.standard_normal((n_b, d)))
    lab = rng.integers(0, c, (n_b, nt))
    lab[0, :] = 2                           # a repeated label within a row
    sampled = np.array([2, 5, 2, 0, 6][:s])  # a duplicated sampled id
    tec = on_grid(rng.uniform(0.2, 1.5, (n_b, nt)))
    sec = on_grid(rng.uniform(0.2, 1.5, s))
    return W, b, lab, x, (sampled, tec, sec)


@pytest.mark.parametrize("fn", LOSSES)
@pytest.mark.parametrize("remove", [False, True])
@pytest.mark.parametrize("parts", ["whole", "div", "mod"])
def test_gradients_match_finite_differences(fn, remove, parts, rng):
    W, b, lab, x, sv = _problem(rng)
    f = LOSSES[fn]
    dy = rng.standard_normal(x.shape[0])
    kw = dict(num_true=2, sampled_values=sv, remove_accidental_hits=remove)
    if parts == "div":
        split = lambda a: [a[:3], a[3:5], a[5:]]                        # noqa: E731
        join = np.concatenate
        kw["partition_strategy"] = "div"
    elif parts == "mod":
        split = lambda a: [a[0::2], a[1::2]]                            # noqa: E731

        def join(p):
            out = np.empty((7,) + p[0].shape[1:])
            out[0::2], out[1::2] = p
            return out
        kw["partition_strategy"] = "mod"
    else:
        split, join = (lambda a: a), (lambda a: a)
    _, bwd = cyloss.vjp(f, split(W), split(b), lab, x, 5, 7, **kw)
    g = bwd(dy)
    args = {"weights": W, "biases": b, "inputs": x}
    for name, got in (("weights", join(g["weights"])), ("biases", join(g["biases"])),
                      ("inputs", g["inputs"])):
        def value(t, _n=name):
            a = dict(args, **{_n: t})
            return f(split(a["weights"]), split(a["biases"]), lab, a["inputs"], 5, 7, **kw)
        fd, noise = central_diff_4(value, args[name], dy=dy)
        tol = fd_tolerance(noise) + 16 * eps(np.float64) * np.abs(fd)
        err = np.abs(got - fd)
        assert np.all(err <= tol), (f"{fn} {parts} d{name}: worst {np.max(err - tol):.3g} "
                                    f"over tolerance; got {got}, fd {fd}")


def test_masked_columns_get_no_gradient():
    W, b, lab, x, sv = sec111(np.float64)
    _, bwd = cyloss.vjp(nn.nce_loss, W, b, lab, x, 3, 4, sampled_values=sv,
                        remove_accidental_hits=True)
    g = bwd()
    # class 2 is row 1's label and sampled once (masked for row 1 only): its
    # weight gradient is row 1's true-class term alone, -(1 - sigmoid(l)) x_1
    _, bwd_keep = cyloss.vjp(nn.nce_loss, W, b, lab, x, 3, 4, sampled_values=sv)
    assert not np.array_equal(g["weights"][2], bwd_keep()["weights"][2])
    logits_true = x[1] @ W[2] + b[2] - np.log(0.25)
    samp_row0 = x[0] @ W[2] + b[2] - np.log(0.8)
    want = (1 / (1 + np.exp(-logits_true)) - 1) * x[1] + 1 / (1 + np.exp(-samp_row0)) * x[0]
    np.testing.assert_allclose(g["weights"][2], want, rtol=1e-14, atol=1e-15)


def test_value_and_grad_and_fn_agree():
    W, b, lab, x, sv = sec111()
    v0 = nn.sampled_softmax_loss(W, b, lab, x, 3, 4, sampled_values=sv)
    v, (gw, gx) = cyloss.value_and_grad(nn.sampled_softmax_loss, wrt=("weights", "inputs"))(
        W, b, lab, x, 3, 4, sampled_values=sv)
    assert_same_bits(v, v0)
    _, bwd = cyloss.vjp(nn.sampled_softmax_loss, W, b, lab, x, 3, 4, sampled_values=sv)
    g = bwd()
    assert_same_bits(gw, g["weights"])
    assert_same_bits(gx, g["inputs"])


# -------------------------------------------------------------- errors --

def _err_call(fn="nce", **upd):
    W, b, lab, x, sv = sec111()
    kw = dict(weights=W, biases=b, labels=lab, inputs=x, num_sampled=3, num_classes=4,
              sampled_values=sv)
    kw.update(upd)
    return LOSSES[fn](**kw)


@pytest.mark.parametrize("upd,exc,pattern", [
    ({"labels": np.array([[1], [4]])}, InvalidArgumentError, r"indices\[1\] = 4 .*labels\[1, 0\]"),
    ({"labels": np.array([[-1], [2]])}, InvalidArgumentError, r"= -1 is not in \[0, 4\)"),
    ({"sampled_values": (np.array([0, 9, 3]), np.ones((2, 1), np.float32),
                         np.ones(3, np.float32))},
     InvalidArgumentError, r"= 9 .*sampled_candidates\[1\]"),
    ({"biases": None}, ValueError, "params must be specified"),
    ({"sampled_values": (np.array([0, 2, 3]), np.array([.5, .25], np.float32),
                         np.ones(3, np.float32))},
     ValueError, r"true_expected_count.*\(2,\).*\[2, 1\]"),
    ({"sampled_values": (np.array([0, 2, 3]), np.ones((2, 1)), np.ones(3, np.float32))},
     TypeError, "true_expected_count.*float64.*float32"),
    ({"labels": np.array([[1.0], [2.0]])}, TypeError, "integer"),
    ({"labels": np.array([[1, 2]])}, ValueError, r"\[2, 1\].*\(1, 2\)"),
    ({"inputs": np.ones((2, 3), np.float32)}, ValueError, r"\(4, 2\).*\(2, 3\)"),
    ({"inputs": np.ones(2, np.float32)}, ValueError, "inputs"),
    ({"partition_strategy": "foo"}, ValueError, "partition strategy"),
    ({"num_sampled": 2, "remove_accidental_hits": True}, InvalidArgumentError,
     "num_sampled = 2"),
    ({"labels": np.array([1, 2]), "remove_accidental_hits": True}, InvalidArgumentError,
     "matrix"),
    ({"labels": np.array([1, 2]), "sampled_values": None}, InvalidArgumentError, "matrix"),
])
def test_errors(upd, exc, pattern):
    with pytest.raises(exc, match=pattern):
        _err_call(**upd)
    with pytest.raises(exc, match=pattern):
        cyloss.vjp(nn.nce_loss, **{**dict(zip(
            ("weights", "biases", "labels", "inputs"), sec111()[:4])),
            "num_sampled": 3, "num_classes": 4, "sampled_values": sec111()[4], **upd})


def test_rank1_labels_allowed_with_num_true_1():
    W, b, lab, x, sv = sec111()
    assert_same_bits(nn.nce_loss(W, b, lab.reshape(-1), x, 3, 4, sampled_values=sv),
                     nn.nce_loss(W, b, lab, x, 3, 4, sampled_values=sv))


def test_any_int_label_dtype():
    W, b, lab, x, sv = sec111()
    ref = nn.sampled_softmax_loss(W, b, lab, x, 3, 4, sampled_values=sv)
    for dt in (np.int8, np.uint16, np.int32):
        assert_same_bits(nn.sampled_softmax_loss(W, b, lab.astype(dt), x, 3, 4,
                                                 sampled_values=(sv[0].astype(dt),) + sv[1:]),
                         ref)


@pytest.mark.parametrize("args,pattern", [
    ((np.array([[1, 2]]), 2, 11, True, 10), "range is too small"),
    ((np.array([1, 2]), 1, 3, True, 10), "must be a matrix"),
    ((np.array([[1, 2]]), 1, 3, True, 10), "num_true columns"),
    ((np.array([[1, 12]]), 2, 3, True, 10), r"out of range \[0, 10\), received 12"),
    ((np.array([[1, 2]]), 2, 0, True, 10), "num_sampled"),
    ((np.array([[1, 2]]), 2, 3, True, 0), "range_max"),
])
def test_sampler_errors(args, pattern):
    with pytest.raises(InvalidArgumentError, match=pattern):
        nn.log_uniform_candidate_sampler(*args)


def test_accidental_hits_errors():
    with pytest.raises(InvalidArgumentError, match="matrix"):
        nn.compute_accidental_hits(np.array([1, 2]), np.array([1]), 1)
    with pytest.raises(TypeError, match="integer"):
        nn.compute_accidental_hits(np.array([[1.0]]), np.array([1]), 1)


# -------------------------------------------------- inputs, threads, SIMD --

def _big(rng, dtype, fn):
    n_b, d, c, nt, s = 300, 96, 3000, 2, 64
    W = rng.standard_normal((c, d)).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    x = rng.standard_normal((n_b, d)).astype(dtype)
    lab = np.minimum(np.exp(rng.random((n_b, nt)) * np.log(c)).astype(np.int64), c - 1)
    sv = nn.log_uniform_candidate_sampler(lab, nt, s, True, c, seed=5)
    sv = (sv[0], sv[1].astype(dtype), sv[2].astype(dtype))
    return dict(weights=W, biases=b, labels=lab, inputs=x, num_sampled=s, num_classes=c,
                num_true=nt, sampled_values=sv, remove_accidental_hits=True)


def _run(fn, kw, dy):
    v, bwd = cyloss.vjp(LOSSES[fn], **kw)
    return v, bwd(dy)


@pytest.mark.parametrize("fn", LOSSES)
def test_inputs_unchanged(fn, rng, dtype):
    kw = _big(rng, dtype, fn)
    kw["weights"] = [kw["weights"][:1500], kw["weights"][1500:]]
    arrays = kw["weights"] + [kw["biases"], kw["labels"], kw["inputs"], *kw["sampled_values"]]
    before = [a.copy() for a in arrays]
    for a in arrays:
        a.setflags(write=False)        # read-only inputs are accepted
    _run(fn, kw, rng.standard_normal(300).astype(dtype))
    for a, c in zip(arrays, before):
        assert_same_bits(a, c, "input")


@pytest.mark.parametrize("fn", LOSSES)
def test_bits_do_not_depend_on_threads(fn, dtype, n_threads, rng):
    kw = _big(np.random.default_rng(11), dtype, fn)
    dy = np.random.default_rng(12).standard_normal(300).astype(dtype)
    got = _run(fn, kw, dy)
    cyloss.set_num_threads(1)
    want = _run(fn, kw, dy)
    assert_same_bits(got[0], want[0], "value")
    for k in want[1]:
        assert_same_bits(got[1][k], want[1][k], k)


@pytest.mark.parametrize("fn", LOSSES)
def test_bits_do_not_depend_on_simd_level(fn, dtype, simd_level):
    kw = _big(np.random.default_rng(13), dtype, fn)
    dy = np.random.default_rng(14).standard_normal(300).astype(dtype)
    got = _run(fn, kw, dy)
    from cyloss import _kernels
    _kernels.use("base")
    want = _run(fn, kw, dy)
    assert_same_bits(got[0], want[0], "value")
    for k in want[1]:
        assert_same_bits(got[1][k], want[1][k], k)


@pytest.mark.parametrize("fn", LOSSES)
def test_bits_do_not_depend_on_blas_threads(fn):
    """The matrix products go through NumPy's BLAS: its thread count must not
    change the bits either (OpenBLAS splits gemm over rows/columns, never
    over the summed dimension)."""
    from threadpoolctl import threadpool_limits
    kw = _big(np.random.default_rng(15), np.float32, fn)
    dy = np.random.default_rng(16).standard_normal(300).astype(np.float32)
    with threadpool_limits(1, user_api="blas"):
        want = _run(fn, kw, dy)
    with threadpool_limits(2, user_api="blas"):
        got = _run(fn, kw, dy)
    assert_same_bits(got[0], want[0], "value")
    for k in want[1]:
        assert_same_bits(got[1][k], want[1][k], k)


def test_default_sampler_is_used_with_the_seed():
    W, b, lab, x, _ = sec111()
    sv = nn.log_uniform_candidate_sampler(lab, 1, 3, True, 4, seed=21)
    assert_same_bits(nn.sampled_softmax_loss(W, b, lab, x, 3, 4, seed=21),
                     nn.sampled_softmax_loss(W, b, lab, x, 3, 4, sampled_values=sv))
    # float64 inputs: the sampler's float32 counts are cast (TF fails here)
    W64, b64, x64 = (a.astype(np.float64) for a in (W, b, x))
    sv64 = (sv[0], sv[1].astype(np.float64), sv[2].astype(np.float64))
    assert_same_bits(nn.sampled_softmax_loss(W64, b64, lab, x64, 3, 4, seed=21),
                     nn.sampled_softmax_loss(W64, b64, lab, x64, 3, 4, sampled_values=sv64))


# -------------------------------------------------------------- sampler --

def p_log_uniform(k, r):
    k = np.asarray(k, np.longdouble)
    return (np.log(k + 2) - np.log(k + 1)) / np.log(np.longdouble(r) + 1)


def wh_quantile(dof, z):
    """chi-square(dof) upper quantile at standard-normal quantile z (Wilson-
    Hilferty; relative error < 1e-3 for dof >= 3)."""
    a = 2.0 / (9.0 * dof)
    return dof * (1 - a + z * np.sqrt(a)) ** 3


def chi_square(counts, probs, min_expected=5.0):
    """Pearson statistic over consecutive bins merged until each expects >= 5."""
    e = probs * counts.sum()
    stat, dof, co, ce = 0.0, -1, 0.0, 0.0
    for o, x in zip(counts, e):
        co, ce = co + o, ce + x
        if ce >= min_expected:
            stat, dof, co, ce = stat + (co - ce) ** 2 / ce, dof + 1, 0.0, 0.0
    if ce > 0:
        stat, dof = stat + (co - ce) ** 2 / ce, dof + 1
    return stat, dof


@pytest.mark.parametrize("r", [10, 1000, 100000])
def test_sampler_distribution_chi_square(r):
    n = 40000
    s = nn.log_uniform_candidate_sampler(np.zeros((1, 1), np.int64), 1, n, False, r,
                                         seed=20240607)[0]
    assert s.dtype == np.int64 and s.shape == (n,) and s.min() >= 0 and s.max() < r
    counts = np.bincount(s, minlength=r).astype(np.float64)
    probs = np.asarray(p_log_uniform(np.arange(r), r), np.float64)
    stat, dof = chi_square(counts, probs)
    # z = 4.75: P(false alarm) = 1e-6 for a correct sampler (the seed is fixed,
    # so the outcome is deterministic; the threshold says how unlikely a
    # failure of a correct sampler would be). Its power: the same draws are
    # rejected against the distribution shifted by one class.
    limit = wh_quantile(dof, 4.75)
    assert stat < limit, (stat, limit, dof)
    wrong = np.asarray(p_log_uniform(np.arange(r) + 1, r + 1), np.float64)
    assert chi_square(counts, wrong / wrong.sum())[0] > limit


def _naive_unique(seed, s, r):
    """TF's unique loop, one draw at a time, on the same PCG64 stream."""
    rng = np.random.Generator(np.random.PCG64(seed))
    out, seen, tries = [], set(), 0
    while len(out) < s:
        tries += 1
        v = (int(np.floor(np.exp(rng.random() * np.log(r + 1.0)))) - 1) % r
        if v not in seen:
            seen.add(v)
            out.append(v)
    return np.array(out), tries


@pytest.mark.parametrize("s,r", [(5, 10), (64, 1000), (10, 10), (1, 1), (200, 300)])
def test_unique_sampling_and_expected_counts(s, r):
    tc = np.minimum(np.array([[0, 1], [r - 1, r // 2]]), r - 1)
    got, tec, sec = nn.log_uniform_candidate_sampler(tc, 2, s, True, r, seed=77)
    want, tries = _naive_unique(77, s, r)
    assert_same_bits(got, want.astype(np.int64))
    assert np.unique(got).size == s
    # expected counts: S * P(k) if T == S draws, else 1 - (1 - P(k))^T (float32)
    for ids, counts in ((got, sec), (tc, tec)):
        p = p_log_uniform(ids, r).astype(np.float32).astype(np.longdouble)
        ref = p * s if tries == s else -np.expm1(tries * np.log1p(-p))
        assert counts.dtype == np.float32 and counts.shape == ids.shape
        # one rounding to float32 of a value computed in float64 (log1p/expm1 of
        # a float32 P, a few float64 ulp): 1 float32 ulp
        np.testing.assert_allclose(counts, ref.astype(np.float64), rtol=eps(np.float32))
    if tries > s:       # T is recoverable from the counts (as the conformance does)
        p = p_log_uniform(got, r).astype(np.float32).astype(np.float64)
        ok = sec < 0.999
        t = np.rint(np.log1p(-sec[ok].astype(np.float64)) / np.log1p(-p[ok]))
        assert np.median(t) == tries


def test_non_unique_expected_counts():
    tc = np.array([[3], [0]])
    got, tec, sec = nn.log_uniform_candidate_sampler(tc, 1, 50, False, 20, seed=3)
    assert np.unique(got).size < 50       # repeats are kept
    p = p_log_uniform(got, 20).astype(np.float32)
    assert_same_bits(sec, p * np.float32(50))
    assert_same_bits(tec, p_log_uniform(tc, 20).astype(np.float32) * np.float32(50))


def test_sampler_seed_reproducible_and_distinct():
    tc = np.array([[1, 2]])
    a = nn.log_uniform_candidate_sampler(tc, 2, 20, True, 1000, seed=1)
    b = nn.log_uniform_candidate_sampler(tc, 2, 20, True, 1000, seed=1)
    c = nn.log_uniform_candidate_sampler(tc, 2, 20, True, 1000, seed=2)
    for x, y in zip(a, b):
        assert_same_bits(x, y)
    assert not np.array_equal(a[0], c[0])
    d = nn.log_uniform_candidate_sampler(tc, 2, 20, True, 1000)     # fresh entropy
    e = nn.log_uniform_candidate_sampler(tc, 2, 20, True, 1000)
    assert not np.array_equal(d[0], e[0])


def test_sampler_is_thread_safe():
    tc = np.array([[1, 2], [3, 4]])
    seeds = list(range(40))

    def one(seed):
        return nn.log_uniform_candidate_sampler(tc, 2, 50, seed % 2 == 0, 5000, seed=seed)
    serial = [one(s) for s in seeds]
    barrier = threading.Barrier(8)

    def started(seed):
        if seed < 8:
            barrier.wait()          # the first eight start together
        return one(seed)
    with ThreadPoolExecutor(8) as ex:
        parallel = list(ex.map(started, seeds))
    for x, y in zip(serial, parallel):
        for u, v in zip(x, y):
            assert_same_bits(u, v)
