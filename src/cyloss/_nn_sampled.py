"""tf.nn sampled losses: nce_loss, sampled_softmax_loss, and their helpers
log_uniform_candidate_sampler and compute_accidental_hits (TF_SEMANTICS.md
sec. 1.8-1.11). Star-imported by cyloss.nn.

How a sampled loss is computed (TF's construction, sec. 1.9): the ids are the
true labels [B, num_true] followed by the S sampled candidates; the true
logits are the row-wise dots x_i . W[label] + b[label] (a compiled gather and
dot), the sampled logits x @ W_sampled^T + b_sampled (BLAS through NumPy);
accidental hits get cast(-FLT_MAX) added at the LAST sampled position of a
repeated id; log(expected count) is subtracted from both (TF's CPU log: a
denormal count counts as zero, -inf, except in the last n % 8 elements of a
float32 count tensor, where TF's scalar logf gives -103.97208 for a positive
denormal and NaN for a negative one: k_log_counts); then the sum of
sigmoid cross-entropies against labels [1/num_true.., 0..] (NCE) or the
softmax cross-entropy (sampled softmax) per row, with its local gradient G in
the same pass. Backward: dx = G_s @ W_s + sum_t G_t W[label_t] (BLAS plus a
compiled gather), and the weight and bias gradients are TF's IndexedSlices
made dense: a scatter-add where repeated ids accumulate, done one distinct id
per thread in index order (bitwise identical at any thread count).

Partitioned weights: `weights` (and `biases`) may be a list of arrays that
together hold the [num_classes, dim] table, split by `partition_strategy`:
"div" (TF2's tf.nn, the default here: contiguous blocks, the first
num_classes % P partitions one row longer) or "mod" (TF1's default: class c
in partition c % P, row c // P). `partition_strategy` is a keyword after
TF2's arguments, so TF2 calls keep working unchanged. The gradient with
respect to a list of partitions is a list of per-partition arrays (each of
its partition's shape and dtype: what an optimizer updating the partition
variables needs); with respect to one array, one dense array.

Deliberate divergences from TF (documented in the README):
* a `true_expected_count` whose shape does not broadcast to [B, num_true]
  without growing (TF broadcasts a [B] vector with num_true = 1 silently into
  a [B, B] block and returns garbage) raises ValueError;
* "div" partitions that do not follow the layout the strategy implies raise
  ValueError (TF reads rows of the wrong classes or fails in a Gather);
* with `sampled_values=None` and float64 inputs, cyloss' sampler counts are
  cast to float64 (TF fails: its float32 counts cannot be subtracted from
  float64 logits). Explicit sampled_values must match the inputs' dtype
  (TypeError), as TF requires.

The sampler: log_uniform_candidate_sampler draws from TF's distribution
P(k) = (log(k + 2) - log(k + 1)) / log(range_max + 1) with TF's inverse-CDF
rule (floor(exp(u * log(range_max + 1))) - 1) and reports TF's expected
counts (num_sampled * P(k), or 1 - (1 - P(k))^T with T the number of draws
when unique=True needed more than num_sampled), but from NumPy's PCG64
generator, seeded per call: it cannot reproduce TensorFlow's random stream
(Philox, with TF's global / op seed pair), so the same seed gives different
candidates in cyloss and TF. A given seed always gives the same result in
cyloss; seed=None draws fresh entropy; calls share no mutable state, so the
sampler is thread-safe. To compare with TF exactly, pass TF's sampled_values.
"""
from collections import namedtuple

import mmap

import numpy as np

from . import _checks as ck
from . import _kernels
from . import _matmul as mm
from ._autodiff import differentiable
from ._errors import InvalidArgumentError

__all__ = ["nce_loss", "sampled_softmax_loss", "log_uniform_candidate_sampler",
           "compute_accidental_hits"]

FLT_MAX = float(np.finfo(np.float32).max)

LogUniformCandidateSampler = namedtuple(
    "LogUniformCandidateSampler",
    ["sampled_candidates", "true_expected_count", "sampled_expected_count"])
ComputeAccidentalHits = namedtuple("ComputeAccidentalHits", ["indices", "ids", "weights"])


# ------------------------------------------------------------ small checks --


# The compiled parts of the sampled losses run on one thread: their work is
# O(batch x (num_true + num_sampled)) plus row gathers, small next to the BLAS
# products around them, and OpenMP workers spinning between those products
# fight BLAS's own threads for the cores (2 threads measured 5x slower than 1
# on the 2-core benchmark machine). The BLAS products stay multi-threaded.
_ONE_THREAD = 1

def _sparse_zeros(shape, dtype):
    """A zero array that will receive a few scattered rows (the dense weight
    gradient): anonymous memory with transparent huge pages off, so only the
    4 KiB pages that are written get faulted in and zeroed (a calloc'd buffer
    may be backed by 2 MiB pages, each touched row then zeroing 2 MiB)."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    advice = getattr(mmap, "MADV_NOHUGEPAGE", None)
    if nbytes < (1 << 24) or advice is None:
        return np.zeros(shape, dtype)
    buf = mmap.mmap(-1, nbytes)
    buf.madvise(advice)
    return np.frombuffer(buf, dtype).reshape(shape)

def _int_array(a, name):
    arr = ck.native(np.asarray(ck.require(a, name)))
    if arr.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must be an integer array, got {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _count(v, name, minimum):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, got {v!r}")
    v = int(v)
    if v < minimum:
        raise InvalidArgumentError(f"Value for attr '{name}' of {v} must be at least "
                                   f"minimum {minimum}")
    return v


# ----------------------------------------------------------------- sampler --

def _log_uniform_probability(ids, range_max):
    """TF's P(k) = log((k + 2) / (k + 1)) / log(range_max + 1), in double,
    rounded to float32 as TF's sampler returns it."""
    k = np.asarray(ids, np.float64)
    return (np.log((k + 2.0) / (k + 1.0)) / np.log(range_max + 1.0)).astype(np.float32)


def _expected_count(ids, num_sampled, num_tries, range_max):
    """TF's expected count of each id: num_sampled * P(k) when the batch took
    exactly num_sampled draws (always for unique=False), else the inclusion
    probability 1 - (1 - P(k))^T = -expm1(T log1p(-P(k))) for T draws. float32."""
    p = _log_uniform_probability(ids, range_max)
    if num_tries == num_sampled:
        return p * np.float32(num_sampled)
    return (-np.expm1(num_tries * np.log1p(-p.astype(np.float64)))).astype(np.float32)


def _draw(rng, n, range_max):
    """n independent draws: floor(exp(u * log(range_max + 1))) - 1, u ~ U[0, 1)
    (TF's rule, including its final `mod range_max` against rounding)."""
    u = rng.random(n)
    v = np.floor(np.exp(u * np.log(range_max + 1.0))).astype(np.int64) - 1
    return np.mod(np.maximum(v, 0), range_max)


def _draw_unique(rng, num_sampled, range_max):
    """num_sampled distinct draws in order of first appearance, and the number
    of draws T it took (TF re-draws duplicates). Vectorized in chunks: the
    first occurrences of new values in a chunk are taken in stream order."""
    chosen = np.empty(0, np.int64)
    tries = 0
    chunk = max(2 * num_sampled, 64)
    while True:
        v = _draw(rng, chunk, range_max)
        uniq, first = np.unique(v, return_index=True)
        firsts = np.sort(first[~np.isin(uniq, chosen, assume_unique=True)])
        need = num_sampled - chosen.size
        if firsts.size >= need:
            take = firsts[:need]
            tries += int(take[-1]) + 1
            return np.concatenate([chosen, v[take]]), tries
        tries += chunk
        chosen = np.concatenate([chosen, v[firsts]])
        chunk = min(chunk * 2, 1 << 22)


def _true_classes(true_classes, num_true):
    tc = _int_array(true_classes, "true_classes")
    if tc.ndim != 2:
        raise InvalidArgumentError(f"true_classes must be a matrix (got shape {tc.shape})")
    if tc.shape[1] != num_true:
        raise InvalidArgumentError(f"true_classes must have num_true columns, expected: "
                                   f"{tc.shape[1]} was: {num_true} (shape {tc.shape})")
    return tc


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                                  seed=None, name=None):
    """Sample `num_sampled` classes from the log-uniform (Zipfian) distribution
    over [0, range_max) (distinct ones if `unique`), with TF's expected counts
    for the true classes ([B, num_true], float32) and the samples ([S],
    float32). Same distribution and formulas as TensorFlow, not the same random
    stream: see the module docstring. Reproducible for a given `seed`."""
    num_true = _count(num_true, "num_true", 1)
    num_sampled = _count(num_sampled, "num_sampled", 1)
    range_max = _count(range_max, "range_max", 1)
    tc = _true_classes(true_classes, num_true)
    if unique and num_sampled > range_max:
        raise InvalidArgumentError("Sampler's range is too small.")
    bad = np.flatnonzero((tc < 0) | (tc >= range_max))
    if bad.size:
        i, t = np.unravel_index(bad[0], tc.shape)
        raise InvalidArgumentError(f"`true_candidate` out of range [0, {range_max}), received "
                                   f"{tc[i, t]} at position ({i}, {t})")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"`seed` must be an int or None, got {seed!r}")
    rng = np.random.Generator(np.random.PCG64(None if seed is None else int(seed) & (2**64 - 1)))
    if unique:
        sampled, tries = _draw_unique(rng, num_sampled, range_max)
    else:
        sampled, tries = _draw(rng, num_sampled, range_max), num_sampled
    return LogUniformCandidateSampler(
        sampled,
        _expected_count(tc, num_sampled, tries, range_max).reshape(tc.shape),
        _expected_count(sampled, num_sampled, tries, range_max))


# ---------------------------------------------------------- accidental hits --

def _hit_positions(labels_flat, sampled):
    """For each true id: the LAST position of that id among the sampled
    candidates, or -1 (int64, the labels' order)."""
    s = sampled.size
    uniq, first_rev = np.unique(sampled[::-1], return_index=True)
    last = (s - 1 - first_rev).astype(np.int64)
    out = np.empty(labels_flat.size, np.int64)
    _kernels.K.sampled.k_hits(np.ascontiguousarray(labels_flat), uniq, last, out,
                              _ONE_THREAD)
    return out


def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    """Positions where a sampled candidate equals a true class: for every row i
    and column t (in order) whose id occurs among the candidates, (i, the LAST
    position of that id, -FLT_MAX). Returns (indices int32, ids int64, weights
    float32); a label repeated within a row is reported once per occurrence."""
    num_true = _count(num_true, "num_true", 1)
    tc = _int_array(true_classes, "true_classes")
    if tc.ndim != 2 or tc.shape[1] != num_true:
        raise InvalidArgumentError(f"true_candidates must be a batch_size * num_true matrix "
                                   f"(got shape {tc.shape}, num_true {num_true})")
    sc = _int_array(sampled_candidates, "sampled_candidates")
    if sc.ndim != 1:
        raise InvalidArgumentError(f"sampled_candidates must be a vector (got shape "
                                   f"{sc.shape})")
    hp = _hit_positions(tc.reshape(-1), sc)
    where = np.flatnonzero(hp >= 0)
    return ComputeAccidentalHits((where // num_true).astype(np.int32), hp[where],
                                 np.full(where.size, -FLT_MAX, np.float32))


# -------------------------------------------------------------- parameters --

class _Params:
    """A [N, D] (or [N]) parameter given whole or as P partitions, with the
    id -> (partition, row) map of a partition strategy. `dest(ids)` is the
    row of an id in the partitions stacked in order (the buffer the dense
    gradient is built in: partition p's gradient is one contiguous slice)."""

    def __init__(self, value, name, ndim, strategy):
        parts = list(value) if isinstance(value, (list, tuple)) else [value]
        self.is_list = isinstance(value, (list, tuple))
        if not parts:
            raise ValueError(f"`{name}` is an empty list of partitions")
        arrs = [ck.floating(p, name) for p in parts]
        for a in arrs:
            if a.ndim != ndim:
                raise ValueError(f"`{name}` must have rank {ndim}: got a partition of shape "
                                 f"{a.shape}")
            if a.dtype != arrs[0].dtype:
                raise TypeError(f"`{name}` partitions must share one dtype, got "
                                f"{arrs[0].dtype} and {a.dtype}")
            if a.shape[1:] != arrs[0].shape[1:]:
                raise ValueError(f"`{name}` partitions of shapes {arrs[0].shape} and {a.shape} "
                                 f"do not stack along axis 0")
        self.parts, self.name, self.dtype = arrs, name, arrs[0].dtype
        sizes = np.array([a.shape[0] for a in arrs], np.int64)
        self.sizes = sizes
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.n = int(self.offsets[-1])
        self.P = len(arrs)
        self.strategy = strategy
        if self.P > 1 and strategy == "div":
            q, r = divmod(self.n, self.P)
            want = np.array([q + 1 if p < r else q for p in range(self.P)])
            if not np.array_equal(sizes, want):
                raise ValueError(
                    f"`{name}` partitions of sizes {sizes.tolist()} do not follow the 'div' "
                    f"layout of {self.n} rows in {self.P} partitions ({want.tolist()}); TF "
                    f"would read the rows of other classes")

    def locate(self, ids):
        """(partition, row) of each id (ids already range-checked)."""
        if self.P == 1:
            return np.zeros_like(ids), ids
        if self.strategy == "mod":
            return ids % self.P, ids // self.P
        q, r = divmod(self.n, self.P)
        if q == 0:
            return ids, np.zeros_like(ids)
        part = np.maximum(ids // (q + 1), (ids - r) // q)
        row = np.where(part < r, ids % (q + 1), (ids - r) % q)
        return part, row

    def check(self, ids, where):
        """TF's Gather check: every id must address a row (InvalidArgumentError
        naming the first bad id and its position)."""
        bad = (ids < 0) | (ids >= self.n)
        if self.P > 1 and self.strategy == "mod":
            ok = ~bad
            part, row = self.locate(np.where(ok, ids, 0))
            bad |= ok & (row >= self.sizes[part])
        if bad.any():
            k = int(np.argmax(bad))
            raise InvalidArgumentError(
                f"indices[{k}] = {ids[k]} is not in [0, {self.n}) ({where(k)}, looking up "
                f"`{self.name}`)")

    def dest(self, ids):
        if self.P == 1:
            return ids
        part, row = self.locate(ids)
        return self.offsets[part] + row

    def gather(self, ids, dtype):
        """Rows of the ids, cast to `dtype`, C-contiguous."""
        if self.P == 1:
            return np.ascontiguousarray(np.take(self.parts[0], ids, axis=0), dtype)
        out = np.empty((ids.size,) + self.parts[0].shape[1:], dtype)
        part, row = self.locate(ids)
        for p, a in enumerate(self.parts):
            sel = np.flatnonzero(part == p)
            if sel.size:
                out[sel] = np.take(a, row[sel], axis=0)
        return out

    def split(self, dense):
        """The dense gradient in the caller's form: one array, or a list of
        per-partition arrays (contiguous slices), each in the partition's dtype."""
        dense = dense.astype(self.dtype, copy=False)
        if not self.is_list:
            return dense
        return [dense[self.offsets[p]:self.offsets[p + 1]] for p in range(self.P)]


# ------------------------------------------------------------- the losses --

def _labels(labels, batch, num_true, need_matrix):
    lab = _int_array(labels, "labels")
    if lab.ndim == 1 and num_true == 1 and lab.shape[0] == batch:
        if need_matrix:
            raise InvalidArgumentError(
                f"{need_matrix} (labels of shape {lab.shape}; use shape [{batch}, 1])")
        return lab.reshape(batch, 1)
    if lab.ndim != 2 or lab.shape != (batch, num_true):
        raise ValueError(f"`labels` must have shape [batch_size, num_true] = "
                         f"[{batch}, {num_true}] for inputs of shape [{batch}, ...]; got "
                         f"labels of shape {lab.shape}")
    return lab


def _log_counts(counts):
    """TF's log of an expected-count tensor, on the tensor as given (before any
    broadcast: where a float32 denormal falls in TF's scalar tail depends on
    its flat position), by k_log_counts."""
    flat = np.ascontiguousarray(counts).reshape(-1)
    out = np.empty_like(flat)
    _kernels.K.sampled.k_log_counts(flat, out)
    return out.reshape(np.shape(counts))


def _sampled_values(sampled_values, lab, x, num_true, num_sampled, num_classes, seed):
    """(sampled ids, log of the true expected counts [B, num_true], log of the
    sampled expected counts [S]), checked."""
    batch = x.shape[0]
    if sampled_values is None:
        sv = log_uniform_candidate_sampler(lab, num_true, num_sampled, True, num_classes,
                                           seed)
        # (cast: TF fails on float64 inputs here, see the module docstring)
        return sv[0], _log_counts(sv[1].astype(x.dtype)), _log_counts(sv[2].astype(x.dtype))
    try:
        sampled, tec, sec = sampled_values
    except (TypeError, ValueError):
        raise ValueError("`sampled_values` must be a tuple (sampled_candidates, "
                         "true_expected_count, sampled_expected_count)") from None
    s = _int_array(sampled, "sampled_candidates")
    if s.ndim != 1:
        raise ValueError(f"sampled_candidates must have rank 1, got shape {s.shape}")
    out = [s]
    for v, nm, shape in ((tec, "true_expected_count", (batch, num_true)),
                         (sec, "sampled_expected_count", (s.size,))):
        a = ck.floating(v, nm)
        if a.dtype != x.dtype:
            raise TypeError(f"`{nm}` has dtype {a.dtype} but `inputs` has dtype {x.dtype}; "
                            f"they must match")
        try:
            ok = np.broadcast_shapes(a.shape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"`{nm}` of shape {a.shape} does not broadcast to {list(shape)} (TF would "
                f"broadcast a [batch_size] vector into a [batch_size, batch_size] block and "
                f"return a meaningless result; pass shape [batch_size, num_true])")
        out.append(np.ascontiguousarray(np.broadcast_to(_log_counts(a), shape)))
    return tuple(out)


def _sampled_impl(ctx, nce, weights, biases, labels, inputs, num_sampled, num_classes,
                  num_true, sampled_values, remove_accidental_hits, partition_strategy, seed):
    if partition_strategy not in ("div", "mod"):
        raise ValueError(f"Unrecognized partition strategy: {partition_strategy!r} "
                         f"(expected 'div' or 'mod')")
    if biases is None:
        raise ValueError("params must be specified (`biases` is None)")
    num_true = _count(num_true, "num_true", 1)
    x = ck.floating(inputs, "inputs")
    if x.ndim != 2:
        raise ValueError(f"`inputs` must have shape [batch_size, dim], got shape {x.shape}")
    W = _Params(ck.require(weights, "weights"), "weights", 2, partition_strategy)
    b = _Params(biases, "biases", 1, partition_strategy)
    batch, dim = x.shape
    if W.parts[0].shape[1] != dim:
        raise ValueError(f"`weights` rows of width {W.parts[0].shape[1]} (shape "
                         f"{W.parts[0].shape}) do not match `inputs` of shape {x.shape}")
    need = None
    if sampled_values is None:
        need = "true_classes must be a matrix"
    elif remove_accidental_hits:
        need = "true_candidates must be a batch_size * num_true matrix"
    lab = _labels(labels, batch, num_true, need)
    sampled, log_tec, log_sec = _sampled_values(sampled_values, lab, x, num_true,
                                                num_sampled, num_classes, seed)
    n_true, S = lab.size, sampled.size
    nt = num_true
    ids_true = np.ascontiguousarray(lab).reshape(-1)
    all_ids = np.concatenate([ids_true, sampled])

    def where(k):
        if k < n_true:
            return f"labels[{k // nt}, {k % nt}]"
        return f"sampled_candidates[{k - n_true}]"
    W.check(all_ids, where)
    b.check(all_ids, where)
    hitpos = None
    if remove_accidental_hits:
        if num_sampled != S:
            raise InvalidArgumentError(
                f"num_sampled = {num_sampled} but sampled_candidates has {S} entries: the "
                f"accidental-hit mask is [batch_size, num_sampled]")
        hitpos = _hit_positions(ids_true, sampled)

    # TF's CPU reads denormal inputs as 0: the inputs and the rows of weights
    # and biases this call uses are flushed (copies, only where one is denormal;
    # a denormal weight times a logit's gradient would add up to normal numbers
    # in d/dinputs, where TF's are 0)
    x = np.ascontiguousarray(ck.flush_denormals(x))
    dt = x.dtype
    direct = (W.P == 1 and W.dtype == dt and W.parts[0].flags.c_contiguous)
    if direct:
        table, rows_true = W.parts[0], ids_true
        w_s = np.take(table, sampled, axis=0)
        direct = not any(ck.flush_denormals(r) is not r     # (returned as is: none)
                         for r in (w_s, np.take(table, ids_true, axis=0)))
    if not direct:
        table = ck.flush_denormals(W.gather(all_ids, dt))
        rows_true = np.arange(n_true, dtype=np.int64)
        w_s = table[n_true:]
    b_all = ck.flush_denormals(b.gather(all_ids, dt))
    b_true, b_samp = b_all[:n_true], np.ascontiguousarray(b_all[n_true:])
    samp = np.ascontiguousarray(np.matmul(x, w_s.T)) if S else np.empty((batch, 0), dt)
    lab_row = np.concatenate([np.ones(nt, dt) / dt.type(nt), np.zeros(S, dt)])
    n_cols = nt + S
    nthreads = _ONE_THREAD
    logits = np.empty((batch, n_cols), dt)
    loss = np.empty(batch, dt)
    g = np.empty((batch, n_cols), dt) if ctx.grad else None
    bounds = np.empty((batch, 2), dt)
    scratch = np.empty((nthreads, 2 * n_cols + 2), dt)

    def forward(samp, true_dot, bounds_out):
        _kernels.K.sampled.k_sampled_forward(
            x, table, rows_true, b_true, log_tec, samp, b_samp, log_sec, hitpos, lab_row,
            true_dot, nce, logits, loss, g, bounds_out, scratch, nthreads)
    forward(samp, None, bounds)
    # Where terms near +-max may meet, the order of additions decides between
    # inf, -inf and NaN: then the products are formed again in TF's order
    # (TF: inputs @ W_s^T, and each true logit as matmul(x * w_true, ones))
    x_max = float(np.max(bounds[:, 0])) if batch else 0.0
    ws_max = float(np.max(np.abs(w_s))) if w_s.size else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        redo_samp = S > 0 and mm.decides(x_max * ws_max * dim, dt)
        redo_true = batch > 0 and mm.decides(
            float(np.max(bounds[:, 0] * bounds[:, 1])) * dim, dt)
        if redo_samp:
            samp = ck.flush_denormals(mm.tf_matmul(ck.flush_denormals(x), ck.flush_denormals(w_s),
                                                   transpose_b=True))
        true_dot = None
        if redo_true:
            w_true = table[rows_true].reshape(batch, nt, dim)
            dots = ck.flush_denormals(x[:, None, :] * w_true).reshape(-1, dim)
            true_dot = ck.flush_denormals(mm.tf_matmul(dots, np.ones((dim, 1), dt))).reshape(-1)
    if redo_samp or redo_true:
        forward(np.ascontiguousarray(samp), true_dot, None)
    if not ctx.grad:
        return loss, None

    def backward(dy):
        if dy is not None:
            _kernels.K.reduce.k_scale_rows(g, dy.reshape(-1), _ONE_THREAD)
        g_s = np.ascontiguousarray(g[:, nt:])     # (BLAS needs it contiguous: a strided
        out = {}                                   #  operand sends NumPy to its slow loop)
        g_max = float(np.max(np.abs(g_s))) if g_s.size else 0.0
        if ctx.wants("inputs"):
            dx = (np.ascontiguousarray(mm.matmul(g_s, w_s, bounds=(g_max, ws_max))) if S
                  else np.zeros_like(x))
            _kernels.K.sampled.k_sampled_dx(
                g, table, rows_true, dx,
                np.empty((_ONE_THREAD, (nt + 1) * dim if nt > 1 else 0), dt), _ONE_THREAD)
            out["inputs"] = dx
        want_w, want_b = ctx.wants("weights"), ctx.wants("biases")
        if want_w or want_b:
            dws = (np.ascontiguousarray(mm.matmul(g_s, x, transpose_a=True,
                                                  bounds=(g_max, x_max))) if S
                   else np.empty((0, dim), dt))
            nthr = _ONE_THREAD
            dw = _sparse_zeros((W.n, dim), dt)
            db = np.zeros(b.n, dt)
            dest_w = W.dest(all_ids)
            dest_b = b.dest(all_ids)
            same = np.array_equal(dest_w, dest_b)
            order = np.argsort(dest_w, kind="stable")
            starts = np.flatnonzero(np.diff(dest_w[order], prepend=-1, append=-2))
            _kernels.K.sampled.k_scatter_rows(order, starts.astype(np.int64), dest_w, g, x,
                                              dws, dw, db if same else np.zeros(W.n, dt), nthr)
            if not same:        # biases partitioned differently: their own grouping
                order = np.argsort(dest_b, kind="stable")
                starts = np.flatnonzero(np.diff(dest_b[order], prepend=-1, append=-2))
                _kernels.K.sampled.k_scatter_rows(
                    order, starts.astype(np.int64), dest_b, g, x[:, :0], dws[:, :0],
                    np.zeros((b.n, 0), dt), db, nthr)
            if want_w:
                out["weights"] = W.split(dw)
            if want_b:
                out["biases"] = b.split(db)
        return out
    return loss, backward


@differentiable("weights", "biases", "inputs")
def nce_loss(ctx, weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
             sampled_values=None, remove_accidental_hits=False, name="nce_loss",
             partition_strategy="div"):
    """Noise-contrastive estimation loss per example, [batch_size]: the sum of
    the sigmoid cross-entropies of the num_true true logits (labels
    1/num_true) and the S sampled logits (labels 0), each logit
    x . w + b - log(expected count). TF 2 signature; `partition_strategy`
    ("div", TF2's, or "mod", TF1's default) applies to partitioned weights.
    With sampled_values=None the candidates come from
    log_uniform_candidate_sampler(labels, num_true, num_sampled, True,
    num_classes) (not TF's random stream)."""
    return _sampled_impl(ctx, True, weights, biases, labels, inputs, num_sampled,
                         num_classes, num_true, sampled_values, remove_accidental_hits,
                         partition_strategy, None)


@differentiable("weights", "biases", "inputs")
def sampled_softmax_loss(ctx, weights, biases, labels, inputs, num_sampled, num_classes,
                         num_true=1, sampled_values=None, remove_accidental_hits=True,
                         seed=None, name="sampled_softmax_loss", partition_strategy="div"):
    """Sampled softmax loss per example, [batch_size]: the softmax
    cross-entropy over [true logits, sampled logits] (each x . w + b -
    log(expected count)) with labels 1/num_true on the true columns.
    Accidental hits are removed by default. TF 2 signature plus
    `partition_strategy` (see nce_loss)."""
    return _sampled_impl(ctx, False, weights, biases, labels, inputs, num_sampled,
                         num_classes, num_true, sampled_values, remove_accidental_hits,
                         partition_strategy, seed)
