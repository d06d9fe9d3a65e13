"""Conformance entries for the sampled losses of cyloss.nn (TF_SEMANTICS.md sec.
1.8-1.11): nce_loss, sampled_softmax_loss, log_uniform_candidate_sampler and
compute_accidental_hits.

The four entries run their own cases (Entry.check):

* nce_loss / sampled_softmax_loss: both sides get the same `sampled_values`,
  drawn by TF's own sampler (tf.random.log_uniform_candidate_sampler, unique
  or not) when the case is generated, so the comparison is deterministic. A
  case holds the whole [C, D] table and [C] biases; `partitions` P > 1 in the
  options splits them for both sides ("div": contiguous blocks, the oracle is
  tf.nn.*; "mod": class c in partition c % P, the oracle is
  tf.compat.v1.nn.* with partition_strategy="mod"). Gradients w.r.t. weights,
  biases and inputs with a random dy; TF's IndexedSlices are densified, and a
  partitioned gradient is put back in class order on both sides before the
  comparison. Inputs must be unchanged, fn() and vjp() equal, and every SIMD
  level must give the same bits.
* log_uniform_candidate_sampler: random streams cannot be compared (TF uses
  Philox, cyloss NumPy's PCG64). The check (1) gives cyloss' expected-count
  formula TF's sampled set and the number of draws T recovered from TF's counts
  and requires TF's counts (true and sampled), (2) compares cyloss' draws
  with TF's P(k) by a chi-square test, (3) checks cyloss' shapes, dtypes,
  distinctness (unique=True) and seed reproducibility.
* compute_accidental_hits: exact equality of the three outputs.
"""
import numpy as np
from hypothesis import strategies as st

import cyloss
import cyloss.nn
from cyloss._nn_sampled import _expected_count

from . import oracle
from .compare import compare, fin
from .registry import Entry, Tol, _add, acc
from .samples import Case, Expect, apply_layout, DTYPES, LAYOUTS

FLT_MAX = float(np.finfo(np.float32).max)


# ------------------------------------------------------------- partitions --

def split(full, p, strategy):
    """The P partitions of a [C, ...] table (TF's layouts, sec. 1.9)."""
    if p == 1:
        return full
    if strategy == "mod":
        return [np.ascontiguousarray(full[k::p]) for k in range(p)]
    q, r = divmod(full.shape[0], p)
    sizes = [q + 1 if k < r else q for k in range(p)]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [np.ascontiguousarray(full[bounds[k]:bounds[k + 1]]) for k in range(p)]


def unsplit(parts, p, strategy, n):
    """Inverse of split: per-partition arrays back in class order."""
    if p == 1:
        return np.asarray(parts[0] if isinstance(parts, list) else parts)
    parts = [np.asarray(a) for a in parts]
    if strategy == "mod":
        out = np.empty((n,) + parts[0].shape[1:], parts[0].dtype)
        for k, a in enumerate(parts):
            out[k::p] = a
        return out
    return np.concatenate(parts)


# ------------------------------------------------------------ the calls --

def _loss_name(entry):
    return entry.key.split(".")[1]


def _tf_call(entry, tf, args, options, watch=None):
    """TF's loss on the case; `watch` (a tape) watches weights, biases, inputs.
    Returns (value, [weights tensors], [biases tensors], inputs tensor)."""
    o = dict(options)
    p, strategy = o.pop("partitions", 1), o.pop("partition_strategy", "div")
    ws = [tf.constant(a) for a in (split(args["weights"], p, strategy) if p > 1
                                   else [args["weights"]])]
    bs = [tf.constant(a) for a in (split(args["biases"], p, strategy) if p > 1
                                   else [args["biases"]])]
    x = tf.constant(args["inputs"])
    if watch is not None:
        for t in ws + bs + [x]:
            watch.watch(t)
    sv = (tf.constant(args["sampled_candidates"]), tf.constant(args["true_expected_count"]),
          tf.constant(args["sampled_expected_count"]))
    fn = getattr(tf.compat.v1.nn if strategy == "mod" else tf.nn, _loss_name(entry))
    kw = {"partition_strategy": "mod"} if strategy == "mod" else {}
    value = fn(ws if p > 1 else ws[0], bs if p > 1 else bs[0], tf.constant(args["labels"]),
               x, sampled_values=sv, **o, **kw)
    return value, ws, bs, x


def _cy_kwargs(args, options, layout):
    o = dict(options)
    p, strategy = o.pop("partitions", 1), o.get("partition_strategy", "div")
    kw = {"weights": split(args["weights"], p, strategy),
          "biases": split(args["biases"], p, strategy),
          "labels": args["labels"], "inputs": args["inputs"],
          "sampled_values": (args["sampled_candidates"], args["true_expected_count"],
                             args["sampled_expected_count"])}
    kw = {k: (apply_layout(v, layout) if isinstance(v, np.ndarray) else v)
          for k, v in kw.items()}
    kw.update(o)
    return kw, p, strategy


def _flat_arrays(kw):
    out = []
    for v in kw.values():
        if isinstance(v, np.ndarray):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(a for a in v if isinstance(a, np.ndarray))
    return out


def _snap(arrs):
    return [(a.shape, a.dtype.str, np.ascontiguousarray(a).tobytes()) for a in arrs]


def tf_log_counts(counts, dtype):
    """TF's CPU log of an expected-count tensor (float64 model, measured on TF
    2.21): TF's threads treat a denormal count as zero (-inf, either sign),
    except in a float32 tensor's last n % 8 elements (Eigen's scalar tail,
    glibc's logf): log(2^-150) for a positive denormal, NaN for a negative one."""
    c = np.asarray(counts, np.float64)
    flat = c.reshape(-1)
    den = (np.abs(flat) < np.finfo(dtype).tiny) & (flat != 0)
    out = np.log(np.where(den, 0.0, flat))
    if np.dtype(dtype) == np.float32:
        tail = np.arange(flat.size) >= flat.size // 8 * 8
        out = np.where(den & tail, np.where(flat > 0, -150 * np.log(2.0), np.nan), out)
    return out.reshape(c.shape)


def _mul0(a, b):
    """a * b where an exact zero factor contributes exactly 0, also against an
    infinite magnitude (as it does in TF: p = 0 takes no error from its logit)."""
    return np.where(a == 0, 0.0, a * b)


def sampled_scale(entry, case, dy, ref):
    """Magnitudes of the terms behind each output (float64, class order)."""
    a = case.args
    nce = _loss_name(entry) == "nce_loss"
    W, b, x = fin(a["weights"]), fin(a["biases"]), fin(a["inputs"])
    nt = case.options.get("num_true", 1)
    lab = np.asarray(a["labels"]).reshape(x.shape[0], nt)
    s = np.asarray(a["sampled_candidates"])
    n_b, d = x.shape
    ids = np.concatenate([lab, np.broadcast_to(s, (n_b, s.size))], axis=1)    # [B, n]
    dt = np.asarray(a["inputs"]).dtype
    tec = np.broadcast_to(tf_log_counts(a["true_expected_count"], dt), (n_b, nt))
    sec = np.broadcast_to(tf_log_counts(a["sampled_expected_count"], dt), (s.size,))
    logq = np.concatenate([tec, np.broadcast_to(sec, (n_b, s.size))], axis=1)
    mask = np.zeros(ids.shape, bool)
    if case.options.get("remove_accidental_hits", not nce):
        for i in range(n_b):
            for t in range(nt):
                hit = np.flatnonzero(s == lab[i, t])
                if hit.size:
                    mask[i, nt + hit[-1]] = True
    hit = np.where(mask, FLT_MAX, 0.0)          # TF adds -FLT_MAX to an accidental hit
    Wi = W[ids]                                                            # [B, n, D]
    terms = (np.einsum("bd,bnd->bn", np.abs(x), np.abs(Wi)) + np.abs(b[ids]) + hit
             + np.abs(logq))
    logits = np.einsum("bd,bnd->bn", x, Wi) + b[ids] - hit - logq
    # where an input is not finite (fin() made it 0 above), its logit is +-inf
    # or NaN on both sides: p is then exactly 1 or 0 (NaN: any), not the
    # finite model's (which would undercount the terms of the others)
    with np.errstate(all="ignore"):
        raw = np.einsum("bd,bnd->bn", np.asarray(a["inputs"], np.float64),
                        np.asarray(a["weights"], np.float64)[ids]) \
            + np.asarray(a["biases"], np.float64)[ids]
    logits = np.where(np.isfinite(raw), logits, raw)
    # the logit's rounding error (a D-term dot, then b and log q): none where the
    # logit is +-inf (an infinite log q makes it exactly infinite on both sides);
    # a magnitude beyond the float64 range is held at its maximum
    lerr = np.where(np.isinf(logits), 0.0,
                    np.minimum(terms * acc(d), np.finfo(np.float64).max))
    y = np.zeros(ids.shape)
    y[:, :nt] = 1.0 / nt
    with np.errstate(all="ignore"):
        if nce:
            # (a NaN logit -- its float64 terms overflow to both signs -- may be
            # any number on TF's side: p up to 1, with its error lerr at the max)
            p = np.where(np.isnan(logits), 1.0, 1 / (1 + np.exp(-logits)))
            gmag = y + _mul0(p, 1 + lerr)
            lossmag = (np.maximum(logits, 0) + np.abs(_mul0(y, logits))
                       + np.log1p(np.exp(-np.abs(logits))))
        else:
            m = np.max(logits, axis=1, keepdims=True) if logits.size else logits
            e = np.exp(logits - m)
            p = e / e.sum(axis=1, keepdims=True)
            p = np.where(np.isnan(p), 1.0, p)           # (as for NCE)
            # the others' logit errors move p_k through the normalization; a
            # column whose probability is exactly 0 (exp underflowed: an
            # accidental hit, as a rule) moves nothing
            tmax = (np.max(np.where(p != 0, lerr, 0), axis=1, keepdims=True)
                    if logits.size else 0)
            gmag = y + _mul0(p, 1 + (lerr + tmax) + acc(ids.shape[1]))
            L = np.log(e.sum(axis=1, keepdims=True))
            lossmag = _mul0(y, np.abs(L) + np.abs(logits - m))
    n = ids.shape[1]
    value = np.sum(_mul0(gmag, lerr), axis=1) + np.sum(lossmag, axis=1) * acc(n)
    dyg = np.abs(dy)[:, None] * gmag                                        # [B, n]
    dx = np.einsum("bn,bnd->bd", dyg, np.abs(Wi)) * acc(n)
    dw = np.zeros_like(W)
    db = np.zeros_like(b)
    np.add.at(dw, ids.reshape(-1), (dyg[:, :, None] * np.abs(x)[:, None, :]).reshape(-1, d))
    np.add.at(db, ids.reshape(-1), dyg.reshape(-1))
    grow = acc(n_b * n)
    return {"value": value, "inputs": dx, "weights": dw * grow, "biases": db * grow}


def run_sampled(entry, case):
    """Entry.check of nce_loss / sampled_softmax_loss."""
    from .engine import CaseResult, _bits_equal, _finish, dy_for, other_levels
    from cyloss import _kernels
    if case.expect:
        return _run_error(entry, case)
    if case.kind == "divergence/tec[B]":
        return _run_tec_divergence(entry, case)
    res = CaseResult(case, ok=True)
    tf = oracle.tf()
    try:
        with tf.GradientTape() as tape:
            value, ws, bs, x = _tf_call(entry, tf, case.args, case.options, watch=tape)
        ref = value.numpy()
        dy = dy_for(case, ref)
        gs = tape.gradient(value, ws + bs + [x], output_gradients=tf.constant(dy))
        gs = [tf.convert_to_tensor(g).numpy() for g in gs]
    except Exception as e:      # the harness expected TF to accept this case
        res.ok = False
        res.problems.append(f"TensorFlow raised on a case the registry thinks valid: "
                            f"{type(e).__name__}: {str(e)[:300]}")
        return res
    res.dy = dy
    kw, p, strategy = _cy_kwargs(case.args, case.options, case.layout)
    n_c = case.args["weights"].shape[0]
    ref_grads = {"weights": unsplit(gs[:len(ws)], p, strategy, n_c),
                 "biases": unsplit(gs[len(ws):len(ws) + len(bs)], p, strategy, n_c),
                 "inputs": gs[-1]}
    before = _snap(_flat_arrays(kw))
    try:
        with np.errstate(all="ignore"):
            plain = entry.fn(**kw)
            got, backward = cyloss.vjp(entry.fn, **kw)
            grads = backward(dy)
    except Exception as e:
        res.problems.append(f"cyloss raised {type(e).__name__}: {str(e)[:300]}")
        _finish(res)
        return res
    if _snap(_flat_arrays(kw)) != before:
        res.problems.append("cyloss modified an input")
    if not _bits_equal(plain, got):
        res.problems.append("fn() and vjp() return different values")
    if p > 1 and not (isinstance(grads["weights"], list) and len(grads["weights"]) == p):
        res.problems.append("the gradient of partitioned weights is not a list of P arrays")
    cy_grads = {"weights": unsplit(grads["weights"], p, strategy, n_c),
                "biases": unsplit(grads["biases"], p, strategy, n_c),
                "inputs": grads["inputs"]}
    here = _kernels.level()
    for lv in other_levels():
        _kernels.use(lv)
        try:
            with np.errstate(all="ignore"):
                v2, b2 = cyloss.vjp(entry.fn, **kw)
                g2 = b2(dy)
        finally:
            _kernels.use(here)
        if not _bits_equal(v2, got):
            res.problems.append(f"SIMD level {lv}: value differs in bits from level {here}")
        for k in ("weights", "biases", "inputs"):
            g2k = g2[k] if k == "inputs" else unsplit(g2[k], p, strategy, n_c)
            if not _bits_equal(g2k, cy_grads[k]):
                res.problems.append(f"SIMD level {lv}: gradient {k!r} differs in bits")
    with np.errstate(all="ignore"):
        scales = sampled_scale(entry, case, np.asarray(dy, np.float64), ref)
    res.comparisons.append(compare("value", got, ref, scales["value"], entry.tol["value"].k,
                                   dtype=case.dtype))
    for k in ("weights", "biases", "inputs"):
        res.comparisons.append(compare(k, cy_grads[k], ref_grads[k], scales[k],
                                       entry.tol[k].k, dtype=case.dtype))
    _finish(res)
    return res


def _run_tec_divergence(entry, case):
    """Deliberate divergence (sec. 1.9): a true_expected_count of shape [B]
    (num_true = 1, B > 1). TF broadcasts it into a [B, B] block and returns a
    [B] result that is not the loss of the [B, 1] counts; cyloss raises
    ValueError naming the shape. Both halves are re-confirmed here."""
    from .engine import CaseResult, _finish
    res = CaseResult(case, ok=True)
    tf = oracle.tf()
    a = dict(case.args)
    right = dict(a, true_expected_count=a["true_expected_count"].reshape(-1, 1))
    got = _tf_call(entry, tf, a, case.options)[0].numpy()
    want = _tf_call(entry, tf, right, case.options)[0].numpy()
    if got.shape == want.shape and np.allclose(got, want, rtol=1e-5):
        res.problems.append("divergence is stale: TF now handles [B]-shaped "
                            "true_expected_count correctly")
    try:
        _loss_cy_call(entry.fn, case)
        res.problems.append("cyloss accepted a [B]-shaped true_expected_count")
    except ValueError as e:
        if "true_expected_count" not in str(e):
            res.problems.append(f"cyloss' ValueError does not name the argument: {e}")
    _finish(res)
    return res


def _run_error(entry, case):
    """An error-parity case: TF raises one of case.expect.tf, cyloss the named
    class (fn() and vjp()), mentioning case.expect.mention."""
    from .engine import CaseResult, _finish
    from .engine import _cyloss_error_class as cy_class
    res = CaseResult(case, ok=True)
    exp = case.expect
    tf = oracle.tf()
    try:
        entry.call_tf(tf, case.args, case.options)
        res.problems.append(f"registry is stale: TF no longer raises {'/'.join(exp.tf)}")
    except tuple(oracle.error_class(n) for n in exp.tf):
        pass
    except Exception as e:
        res.problems.append(f"registry is stale: TF raised {type(e).__name__}: "
                            f"{str(e)[:200]}, expected {'/'.join(exp.tf)}")
    want = cy_class(exp.cyloss)
    calls = [("fn()", lambda: entry.cy_call(entry.fn, case))]
    if entry.wrt:
        calls.append(("vjp()", lambda: entry.cy_call(lambda **k: cyloss.vjp(entry.fn, **k),
                                                     case)))
    for how, call in calls:
        try:
            call()
            res.problems.append(f"cyloss {how} did not raise (expected {exp.cyloss})")
        except want as e:
            miss = [m for m in exp.mention if m not in str(e)]
            if miss:
                res.problems.append(f"cyloss {how} raised {exp.cyloss} without {miss}: {e}")
        except Exception as e:
            res.problems.append(f"cyloss {how} raised {type(e).__name__}: {e}, expected "
                                f"{exp.cyloss}")
    _finish(res)
    return res


def _loss_tf_for_errors(entry):
    def call(tf, args, options):
        return _tf_call(entry, tf, args, options)[0]
    return call


def _loss_cy_call(fn, case):
    kw, _, _ = _cy_kwargs(case.args, case.options, case.layout)
    return fn(**kw)


# --------------------------------------------------------------- strategy --

def _tf_sample(labels, nt, s, unique, c, seed):
    """The sampled candidates and expected counts of a case: TF's sampler, or
    cyloss' own where TensorFlow cannot be used (tests/test_fuzz.py imports
    the registry without TF, e.g. in the sanitizer build): both sides of a
    case are given the same sampled values, so any valid draw serves."""
    try:
        tf = oracle.tf()
    except oracle.OracleUnavailable:
        out = cyloss.nn.log_uniform_candidate_sampler(
            np.asarray(labels, np.int64).reshape(-1, nt), nt, s, unique, c, seed=int(seed))
        return [np.asarray(o) for o in out]
    out = tf.random.log_uniform_candidate_sampler(
        tf.constant(np.asarray(labels, np.int64).reshape(-1, nt)), nt, s, unique, c,
        seed=int(seed) % (2 ** 31))
    return [o.numpy() for o in out]


def make_case(fn, rng, dtype, b, d, c, nt, s, parts, strategy, remove, unique, ldtype,
              profile, layout, seed, kind="", labels_rank1=False):
    scale = {"normal": 1.0, "wide": 4.0, "tiny": 1e-3}[profile]
    w = (rng.standard_normal((c, d)) * scale).astype(dtype)
    bias = (rng.standard_normal(c) * scale).astype(dtype)
    x = (rng.standard_normal((b, d)) * scale).astype(dtype)
    # Zipf-like labels (small ids are likely, as sampled ones): accidental hits
    lab = np.minimum((np.exp(rng.random((b, nt)) * np.log(c + 1)) - 1).astype(np.int64), c - 1)
    sampled, tec, sec = _tf_sample(lab, nt, s, unique, c, seed)
    args = {"weights": w, "biases": bias,
            "labels": (lab.reshape(-1) if labels_rank1 else lab).astype(ldtype),
            "inputs": x, "sampled_candidates": sampled,
            "true_expected_count": tec.astype(dtype), "sampled_expected_count": sec.astype(dtype)}
    options = {"num_sampled": s, "num_classes": c, "num_true": nt,
               "remove_accidental_hits": remove}
    if parts > 1:
        options.update(partitions=parts, partition_strategy=strategy)
    elif strategy == "mod":
        options["partition_strategy"] = "mod"
    return Case(fn, args, options, dtype=dtype, seed=seed, layout=layout,
                kind=kind or f"P={parts}/{strategy}/hits={'rm' if remove else 'keep'}/"
                             f"{'unique' if unique else 'any'}/{profile}"
                             f"{'/labels[B]' if labels_rank1 else ''}")


@st.composite
def sampled_cases(draw, mode, fn):
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    layout = draw(st.sampled_from(LAYOUTS))
    rng = np.random.default_rng(seed)
    big = rng.random() < 0.05
    b = int(rng.integers(200, 400)) if big else draw(st.sampled_from((0, 1, 2, 3, 7, 16, 33)))
    d = int(rng.integers(100, 160)) if big else draw(st.sampled_from((1, 2, 5, 16, 17, 40)))
    c = draw(st.sampled_from((1, 2, 3, 7, 16, 50, 100, 1000, 5000)))
    nt = draw(st.sampled_from((1, 1, 2, 3, 5)))
    unique = draw(st.sampled_from((True, True, False)))
    s = draw(st.integers(1, max(1, min(c, 70) if unique else 70)))
    parts = draw(st.sampled_from((1, 1, 2, 3, 4)))
    parts = min(parts, c)
    strategy = draw(st.sampled_from(("div", "mod")))
    remove = draw(st.booleans())
    ldtype = draw(st.sampled_from(("int32", "int64")))
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny")))
    rank1 = nt == 1 and not remove and draw(st.sampled_from((False, False, False, True)))
    return make_case(fn, rng, dtype, b, d, c, nt, s, parts, strategy, remove, unique, ldtype,
                     profile, layout, seed, labels_rank1=rank1)


# ------------------------------------------------------------- examples --

def _sec111(fn, **options):
    w = np.array([[.1, .2], [.3, -.1], [-.2, .4], [.5, .5]], np.float32)
    args = {"weights": w, "biases": np.array([0, .1, -.1, .2], np.float32),
            "labels": np.array([[1], [2]], np.int64),
            "inputs": np.array([[1, 2], [-1, .5]], np.float32),
            "sampled_candidates": np.array([0, 2, 3], np.int64),
            "true_expected_count": np.array([[.5], [.25]], np.float32),
            "sampled_expected_count": np.array([.9, .8, .7], np.float32)}
    o = {"num_sampled": 3, "num_classes": 4}
    o.update(options)
    return args, o


def _examples(fn):
    out = []
    for opts, label in (({}, "sec. 1.11 example"),
                        ({"remove_accidental_hits": True}, "sec. 1.11, hits removed"),
                        ({"remove_accidental_hits": False}, "sec. 1.11, hits kept"),
                        ({"partitions": 2, "partition_strategy": "div"}, "sec. 1.11, div [2,2]"),
                        ({"partitions": 2, "partition_strategy": "mod"}, "sec. 1.11, mod (v1)"),
                        ({"partitions": 3, "partition_strategy": "div"},
                         "div [2,1,1] of 4 rows")):
        a, o = _sec111(fn, **opts)
        out.append(Case(fn, a, o, dtype="float32", kind="fixed", label=label))
    a, o = _sec111(fn)
    a = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in a.items()}
    out.append(Case(fn, a, o, dtype="float64", kind="fixed", label="sec. 1.11 in float64"))
    rng = np.random.default_rng(7)
    out.append(make_case(fn, rng, "float32", 300, 128, 5000, 2, 64, 1, "div", True, True,
                         "int64", "normal", "as-is", 11, kind="fixed",))
    out[-1].label = "300 x 128, 5000 classes, 64 sampled (multi-threaded)"
    a, o = _sec111(fn)
    a["labels"] = np.array([[1], [2], [3]], np.int64)
    a["inputs"] = np.array([[1, 2], [-1, .5], [.3, .3]], np.float32)
    a["true_expected_count"] = np.array([.5, .25, .6], np.float32)
    out.append(Case(fn, a, o, dtype="float32", kind="divergence/tec[B]",
                    label="divergence: [B]-shaped true_expected_count (TF: silent [B,B] "
                          "broadcast; cyloss: ValueError)"))
    rng = np.random.default_rng(8)
    c = make_case(fn, rng, "float64", 5, 3, 10, 3, 6, 1, "div", True, False, "int32",
                  "normal", "as-is", 12, kind="fixed")
    c.args["labels"] = np.array([[1, 1, 0], [2, 0, 0], [3, 4, 5], [0, 0, 0], [9, 9, 1]],
                                np.int32)
    c.args["sampled_candidates"] = np.array([0, 1, 1, 0, 9, 2])
    c.label = "repeated labels in a row, duplicated sampled ids (last occurrence masked)"
    out.append(c)
    return out


def _errors(fn, key):
    a, o = _sec111(fn)

    def with_args(**upd):
        x = dict(a)
        x.update(upd)
        return x
    out = [
        Case(fn, with_args(labels=np.array([[1], [4]], np.int64)), dict(o), kind="error",
             label="label = num rows",
             expect=Expect(("InvalidArgumentError",), "InvalidArgumentError",
                           "Gather: indices[1] = 4 is not in [0, 4)", ("4",))),
        Case(fn, with_args(labels=np.array([[1], [-1]], np.int64)), dict(o), kind="error",
             label="negative label",
             expect=Expect(("InvalidArgumentError",), "InvalidArgumentError",
                           "Gather: indices[1] = -1", ("-1",))),
        Case(fn, with_args(sampled_candidates=np.array([0, 7, 3])), dict(o), kind="error",
             label="sampled id out of range",
             expect=Expect(("InvalidArgumentError",), "InvalidArgumentError",
                           "Gather: indices[3] = 7", ("7",))),
        Case(fn, with_args(true_expected_count=np.array([[.5], [.25]], np.float64)), dict(o),
             kind="error", label="float64 counts with float32 inputs",
             expect=Expect(("InvalidArgumentError",), "TypeError",
                           "TF: cannot compute Sub (dtype); cyloss TypeError")),
    ]
    for c in out:
        c.dtype = ""
    return out


def _sampled_entry(name):
    return _add(Entry(
        key=f"nn.{name}", fn=getattr(cyloss.nn, name),
        tf_fn=lambda tf, _n=name: getattr(tf.nn, _n),
        call_tf=None, wrt=("weights", "biases", "inputs"),
        cases=sampled_cases, scale=None,
        tol={"value": Tol(8, "logits x.w + b - log Q: a D-term dot in another order (acc(D) "
                             "of the terms), Eigen's log; then the loss terms (sigmoid xent or "
                             "log-sum-exp, ~2 ulp each) summed over the n columns in another "
                             "order (acc(n)); scale = sum over columns of |G|*terms*acc(D) + "
                             "|loss terms|*acc(n)"),
             "inputs": Tol(8, "sum_k G_ik W_k (BLAS / compiled gather, n terms, acc(n)); G "
                              "carries the logits' error times p (scale p*(1 + terms*acc(D)))"),
             "weights": Tol(8, "scatter-add of G_ik x_i over the occurrences of an id (TF's "
                               "IndexedSlices densified: another order, acc(B*n))"),
             "biases": Tol(8, "scatter-add of G_ik over the occurrences of an id (acc(B*n))")},
        examples=_examples(name), errors=_errors(name, f"nn.{name}"),
        check=run_sampled, budget={"quick": 60, "full": 400},
        notes="same sampled_values on both sides (drawn by TF's sampler); partitions div "
              "(tf.nn) and mod (tf.compat.v1.nn, partition_strategy='mod')"))


for _n in ("nce_loss", "sampled_softmax_loss"):
    _e = _sampled_entry(_n)
    _e.call_tf = _loss_tf_for_errors(_e)
    _e.cy_call = _loss_cy_call


# --------------------------------------------------------------- sampler --

def recover_tries(counts, p, num_sampled):
    """T from TF's unique-sampling expected counts c = 1 - (1 - p)^T: the
    nearest integer to log1p(-c)/log1p(-p), voted over the entries whose count
    is not saturated at 1 (T = num_sampled when c == num_sampled * p)."""
    c = np.asarray(counts, np.float64)
    p = np.asarray(p, np.float64)
    if np.allclose(c, p * num_sampled, rtol=1e-6, atol=0):
        return num_sampled
    ok = (c < 0.999) & (p > 0)
    if not ok.any():
        return None
    t = np.rint(np.log1p(-c[ok]) / np.log1p(-p[ok])).astype(np.int64)
    vals, cnt = np.unique(t, return_counts=True)
    return int(vals[np.argmax(cnt)])


def wilson_hilferty(dof, z):
    """Upper quantile of chi-square(dof) at the normal quantile z (WH
    approximation, relative error < 1e-3 for dof >= 3)."""
    a = 2.0 / (9.0 * dof)
    return dof * (1 - a + z * np.sqrt(a)) ** 3


def chi_square(counts, probs, min_expected=5.0):
    """Pearson's statistic over bins merged (in order) until each expects >=
    min_expected draws; returns (statistic, degrees of freedom)."""
    n = counts.sum()
    e = probs * n
    stat, dof, acc_o, acc_e = 0.0, -1, 0.0, 0.0
    for o, x in zip(counts, e):
        acc_o += o
        acc_e += x
        if acc_e >= min_expected:
            stat += (acc_o - acc_e) ** 2 / acc_e
            dof += 1
            acc_o = acc_e = 0.0
    if acc_e > 0:
        stat += (acc_o - acc_e) ** 2 / acc_e
        dof += 1
    return stat, max(dof, 1)


def run_sampler(entry, case):
    from .engine import CaseResult, _finish
    if case.expect:
        return _run_error(entry, case)
    res = CaseResult(case, ok=True)
    tf = oracle.tf()
    a = case.args
    tc = np.asarray(a["true_classes"], np.int64)
    nt, s, unique, r = a["num_true"], a["num_sampled"], a["unique"], a["range_max"]
    out = tf.random.log_uniform_candidate_sampler(tc, nt, s, unique, r, seed=a["seed"] % 2**31)
    ts, ttc, tsc = (o.numpy() for o in out)
    # (1) the expected-count formula, given TF's sample and its number of draws
    p = _expected_count(ts, 1, 1, r)           # P(k) in float32, as TF computes it
    tries = recover_tries(tsc, p, s) if unique else s
    if tries is None:
        tries = recover_tries(ttc.reshape(-1), _expected_count(tc.reshape(-1), 1, 1, r), s)
    if tries is None:
        res.problems.append("could not recover T from TF's counts (all saturated)")
    else:
        for name, got, ref in (("sampled_expected_count", _expected_count(ts, s, tries, r), tsc),
                               ("true_expected_count",
                                _expected_count(tc, s, tries, r).reshape(tc.shape), ttc)):
            c = compare("value", got, ref, np.abs(ref.astype(np.float64)),
                        entry.tol["value"].k, dtype="float32")
            if not c.ok:
                c.detail = f"{name} (T = {tries}): {c.detail}"
            res.comparisons.append(c)
    # (2) cyloss' own call: shapes, dtypes, range, distinctness, reproducibility
    mine = cyloss.nn.log_uniform_candidate_sampler(tc, nt, s, unique, r, seed=a["seed"])
    again = cyloss.nn.log_uniform_candidate_sampler(tc, nt, s, unique, r, seed=a["seed"])
    for k, v in enumerate(mine):
        if v.dtype != (np.int64 if k == 0 else np.float32) or v.shape != out[k].shape:
            res.problems.append(f"output {k}: {v.dtype}{v.shape}, TF's "
                                f"{out[k].dtype.name}{tuple(out[k].shape)}")
        if not np.array_equal(v, again[k]):
            res.problems.append(f"output {k} differs between two calls with seed {a['seed']}")
    if mine[0].min() < 0 or mine[0].max() >= r:
        res.problems.append("a sampled id outside [0, range_max)")
    if unique and np.unique(mine[0]).size != s:
        res.problems.append("unique=True returned a repeated id")
    # (3) distribution: 20000 cyloss draws against TF's P(k) for every k < r
    grid = np.arange(r, dtype=np.int64).reshape(1, r)
    pk = tf.random.log_uniform_candidate_sampler(grid, r, 1, False, r)[1].numpy()[0]
    n_draws = 20000
    draws = cyloss.nn.log_uniform_candidate_sampler(tc, nt, n_draws, False, r,
                                                    seed=a["seed"] + 1)[0]
    stat, dof = chi_square(np.bincount(draws, minlength=r).astype(np.float64),
                           pk.astype(np.float64) / pk.astype(np.float64).sum())
    # z = 5.3: a false alarm once in ~2e7 cases (the seed is fixed per case)
    limit = wilson_hilferty(dof, 5.3) if dof >= 3 else 40.0
    if stat > limit:
        res.problems.append(f"cyloss' draws do not follow TF's P(k): chi-square {stat:.1f} "
                            f"> {limit:.1f} ({dof} dof, {n_draws} draws, range {r})")
    _finish(res)
    return res


@st.composite
def sampler_cases(draw, mode, fn):
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    r = draw(st.sampled_from((1, 2, 5, 20, 100, 1000, 50000)))
    unique = draw(st.booleans())
    s = draw(st.integers(1, min(r, 200) if unique else 200))
    nt = draw(st.integers(1, 4))
    b = draw(st.integers(0, 6))
    tc = rng.integers(0, r, (b, nt))
    args = {"true_classes": tc, "num_true": nt, "num_sampled": s, "unique": unique,
            "range_max": r, "seed": seed}
    return Case(fn, args, {}, dtype="", kind=f"unique={unique}/range={r}", seed=seed)


def _sampler_tf(tf, args, options):
    return tf.random.log_uniform_candidate_sampler(**args, **options)


def _sampler_cy(fn, case):
    return fn(**case.args, **case.options)


def _sampler_err(label, args, tf_cls, cy_cls, why, mention=()):
    base = {"true_classes": np.array([[1, 2], [3, 0]]), "num_true": 2, "num_sampled": 3,
            "unique": True, "range_max": 10, "seed": 1}
    base.update(args)
    return Case("", base, {}, kind="error", label=label,
                expect=Expect((tf_cls,), cy_cls, why, tuple(mention)))


_sampler = _add(Entry(
    key="nn.log_uniform_candidate_sampler", fn=cyloss.nn.log_uniform_candidate_sampler,
    tf_fn=lambda tf: tf.random.log_uniform_candidate_sampler, call_tf=_sampler_tf, wrt=(),
    cases=sampler_cases, scale=None,
    tol={"value": Tol(8, "expected counts: P(k) rounded to float32, then S*P or "
                         "-expm1(T log1p(-P)); TF evaluates in float32 with its own "
                         "log1p/expm1 (observed <= 3 ulp)")},
    examples=[Case("", {"true_classes": np.array([[1, 2], [3, 0]]), "num_true": 2,
                        "num_sampled": 5, "unique": True, "range_max": 10, "seed": 3}, {},
                   kind="fixed", label="unique, range 10"),
              Case("", {"true_classes": np.array([[0], [9999]]), "num_true": 1,
                        "num_sampled": 64, "unique": False, "range_max": 100000, "seed": 5},
                   {}, kind="fixed", label="unique=False, range 1e5"),
              Case("", {"true_classes": np.array([[0, 1]]), "num_true": 2,
                        "num_sampled": 10, "unique": True, "range_max": 10, "seed": 9}, {},
                   kind="fixed", label="num_sampled = range_max (every class)")],
    errors=[
        _sampler_err("num_sampled > range_max, unique", {"num_sampled": 11},
                     "InvalidArgumentError", "InvalidArgumentError", "Sampler's range is too "
                     "small.", ("range is too small",)),
        _sampler_err("rank-1 true_classes", {"true_classes": np.array([1, 2]), "num_true": 1},
                     "InvalidArgumentError", "InvalidArgumentError", "must be a matrix"),
        _sampler_err("num_true mismatch", {"num_true": 1}, "InvalidArgumentError",
                     "InvalidArgumentError", "num_true columns"),
        _sampler_err("true class >= range_max", {"true_classes": np.array([[1, 12]])},
                     "InvalidArgumentError", "InvalidArgumentError", "out of range", ("12",)),
        _sampler_err("range_max 0", {"range_max": 0}, "InvalidArgumentError",
                     "InvalidArgumentError", "attr minimum"),
        _sampler_err("num_sampled 0", {"num_sampled": 0}, "InvalidArgumentError",
                     "InvalidArgumentError", "attr minimum"),
    ],
    check=run_sampler, budget={"quick": 20, "full": 150},
    notes="random streams differ (Philox vs PCG64): formula given TF's sample and T, "
          "chi-square of 20000 cyloss draws against TF's P(k), seed reproducibility"))
_sampler.cy_call = _sampler_cy


# ------------------------------------------------------- accidental hits --

def run_hits(entry, case):
    from .engine import CaseResult, _finish
    if case.expect:
        return _run_error(entry, case)
    res = CaseResult(case, ok=True)
    tf = oracle.tf()
    ref = [o.numpy() for o in _hits_tf(tf, case.args, case.options)]
    got = cyloss.nn.compute_accidental_hits(**case.args, **case.options)
    for name, g, e in zip(("indices", "ids", "weights"), got, ref):
        g = np.asarray(g)
        if g.dtype != e.dtype or g.shape != e.shape or not np.array_equal(g, e):
            res.problems.append(f"{name}: got {g.dtype}{list(g.shape)} {g[:20]}, TF "
                                f"{e.dtype}{list(e.shape)} {e[:20]}")
    _finish(res)
    return res


def _hits_tf(tf, args, options):
    a = dict(args)
    a["true_classes"] = tf.constant(np.asarray(a["true_classes"], np.int64)
                                    if np.asarray(a["true_classes"]).dtype.kind == "i"
                                    else a["true_classes"])
    a["sampled_candidates"] = tf.constant(np.asarray(a["sampled_candidates"], np.int64))
    return tf.nn.compute_accidental_hits(**a, **options)


@st.composite
def hits_cases(draw, mode, fn):
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    c = draw(st.sampled_from((1, 2, 5, 20, 1000)))
    b = draw(st.integers(0, 40))
    nt = draw(st.integers(1, 5))
    s = draw(st.integers(0, 80))
    tc = rng.integers(0, c, (b, nt))
    sc = rng.integers(0, c, s)
    return Case(fn, {"true_classes": tc, "sampled_candidates": sc, "num_true": nt}, {},
                dtype="", kind=f"C={c}", seed=seed)


_hits = _add(Entry(
    key="nn.compute_accidental_hits", fn=cyloss.nn.compute_accidental_hits,
    tf_fn=lambda tf: tf.nn.compute_accidental_hits, call_tf=_hits_tf, wrt=(),
    cases=hits_cases, scale=None,
    tol={"value": Tol(0, "integer positions and the constant -FLT_MAX: exact")},
    examples=[Case("", {"true_classes": np.array([[1, 3], [3, 3], [7, 0]]),
                        "sampled_candidates": np.array([3, 5, 1, 9, 1]), "num_true": 2}, {},
                   kind="fixed", label="sec. 1.8 example"),
              Case("", {"true_classes": np.zeros((0, 2), np.int64),
                        "sampled_candidates": np.array([1, 2]), "num_true": 2}, {},
                   kind="fixed", label="no rows"),
              Case("", {"true_classes": np.array([[4, 4, 4]]),
                        "sampled_candidates": np.array([4, 4, 4, 4]), "num_true": 3}, {},
                   kind="fixed", label="all equal: one position, emitted per column")],
    errors=[Case("", {"true_classes": np.array([1, 3]),
                      "sampled_candidates": np.array([3, 5]), "num_true": 1}, {},
                 kind="error", label="rank-1 true_classes",
                 expect=Expect(("InvalidArgumentError",), "InvalidArgumentError",
                               "true_candidates must be a batch_size * num_true matrix"))],
    check=run_hits, budget={"quick": 60, "full": 400},
    notes="exact equality of indices, ids and weights (order and duplicates)"))
_hits.cy_call = _sampler_cy
