"""Cases for nn.ctc_loss: dense and sparse labels, time-major both ways,
blank at 0 / last / negative / anywhere / default, label lengths from 0 to
the padded maximum, repeated labels, logit lengths from 0 to T, impossible
alignments (dense float32: TF's finite ~707 loss), `unique`, float32/float64.

Sparse labels travel in a Case as a SparseLabels object: cyloss gets the
object itself (anything with .indices/.values/.dense_shape is sparse); the
engine hands TF `tf.constant(np.asarray(obj))`, a packed 1-D int64 vector
that registry_ctc.call_tf unpacks into a tf.SparseTensor (dense labels are
always 2-D, so the two cannot be confused).

The float64 dense cases are the ones TF's C++ kernel (the sparse path) can
also compute, because TF 2.21's dense path rejects float64 and the registry
uses that kernel as the oracle there: every row has a label, no label is the
blank, every alignment is possible, and logits are moderate (T <= 60, N(0,1)
scale), so that TF's floor paths (weight exp(-707)) stay far below float64's
eps and the two models agree. (Special values written into them by
test_fuzz_special -- probabilities below exp(-707), -inf, NaN -- are where the
models part; cyloss' float64 dense examples follow the C++ kernel there.)
"""
import numpy as np
from hypothesis import strategies as st

from .samples import DTYPES, LAYOUTS, Case, _srng, real_values


class SparseLabels:
    """A sparse label matrix (indices [N, 2] int64, values [N], dense_shape [2])."""

    def __init__(self, indices, values, dense_shape):
        self.indices = np.asarray(indices, np.int64).reshape(-1, 2)
        self.values = np.asarray(values)
        self.dense_shape = np.asarray(dense_shape, np.int64)

    def __array__(self, dtype=None, copy=None):
        code = 32 if self.values.dtype == np.int32 else 64
        packed = np.concatenate(([code, self.indices.shape[0]], self.dense_shape,
                                 self.indices.reshape(-1), self.values.astype(np.int64)))
        return packed.astype(np.int64)

    def __repr__(self):
        return (f"SparseLabels(nnz={self.indices.shape[0]}, dense_shape="
                f"{self.dense_shape.tolist()}, values={self.values.dtype})")

    @staticmethod
    def unpack(packed):
        p = np.asarray(packed, np.int64)
        code, n = int(p[0]), int(p[1])
        shape = p[2:4]
        idx = p[4:4 + 2 * n].reshape(n, 2)
        vals = p[4 + 2 * n:4 + 3 * n].astype(np.int32 if code == 32 else np.int64)
        return idx, vals, shape


def sparse_from_dense(labels, lengths, values_dtype=np.int32):
    idx = np.array([(b, j) for b in range(len(lengths)) for j in range(int(lengths[b]))],
                   np.int64).reshape(-1, 2)
    vals = labels[idx[:, 0], idx[:, 1]] if idx.size else np.zeros(0, np.int64)
    return SparseLabels(idx, vals.astype(values_dtype),
                        [len(lengths), max(1, labels.shape[1])])


def unique_labels(labels):
    """NumPy version of tf.nn.ctc_unique_labels: per row the distinct values in
    order of first appearance (zero padded, int64) and each entry's index
    into them (int32)."""
    y = np.zeros(labels.shape, np.int64)
    idx = np.zeros(labels.shape, np.int32)
    for b, row in enumerate(labels):
        seen = {}
        for j, v in enumerate(row):
            if int(v) not in seen:
                seen[int(v)] = len(seen)
                y[b, seen[int(v)]] = v
            idx[b, j] = seen[int(v)]
    return y, idx


def needed_frames(row, length):
    """Frames an alignment needs: one per label plus a blank between equal
    neighbours."""
    r = row[:length]
    return int(length + np.sum(r[1:] == r[:-1])) if length else 0


@st.composite
def ctc_cases(draw, mode, fn):
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    layout = draw(st.sampled_from(LAYOUTS))
    form = draw(st.sampled_from(("dense", "dense", "dense", "sparse", "sparse")))
    time_major = draw(st.sampled_from((True, False, None)))     # None: argument omitted
    blank_kind = draw(st.sampled_from(("default", "zero", "last", "neg", "any")))
    srng = _srng(draw)
    n_classes = int(draw(st.sampled_from((2, 3, 4, 5, 8, 16, 17, 33, 60)))
                    if srng.random() < 0.7 else srng.integers(2, 61))
    n_batch = int(draw(st.sampled_from((1, 1, 2, 3, 4, 7, 16))))
    exact = form == "sparse" or dtype == "float64"      # TF's C++ kernel decides
    big = srng.random() < 0.04
    budget = mode.big_size if big else mode.max_size
    t_max = max(1, min(200, budget // max(1, n_batch * n_classes)))
    if exact and form == "dense":
        t_max = min(t_max, 60)
    n_time = int(srng.integers(1 if exact else 0, t_max + 1))
    if big:
        n_batch = max(n_batch, 16)
        n_time = max(n_time, 64)
    max_label = int(srng.integers(1 if exact else 0, min(n_time, 12) + 1)) if n_time else 0
    if exact:
        max_label = max(max_label, 1)
        n_time = max(n_time, 1)
    rng = np.random.default_rng(seed)

    if blank_kind == "default":
        blank_index = None if form == "dense" else 0     # sparse needs one
        blank = 0
    elif blank_kind == "zero":
        blank_index = blank = 0
    elif blank_kind == "last":
        blank_index = blank = n_classes - 1
    elif blank_kind == "neg":
        blank_index = -int(rng.integers(1, n_classes + 1))
        blank = blank_index + n_classes
    else:
        blank_index = blank = int(rng.integers(0, n_classes))

    # labels: non-blank classes, some rows with forced repeats; lengths incl. 0 and max
    others = np.array([k for k in range(n_classes) if k != blank])
    use_blank_values = not exact and n_classes > 1 and rng.random() < 0.1
    pool = np.arange(n_classes) if use_blank_values else others
    labels = rng.choice(pool, (n_batch, max_label)) if pool.size else \
        np.zeros((n_batch, max_label), np.int64)
    rep = rng.random(n_batch) < 0.3
    if max_label > 1:
        for b in np.nonzero(rep)[0]:
            j = int(rng.integers(1, max_label))
            labels[b, j] = labels[b, j - 1]
    lmin = 1 if exact else 0
    lengths = rng.integers(lmin, max_label + 1, n_batch) if max_label >= lmin else \
        np.zeros(n_batch, np.int64)
    pick = rng.random(n_batch)
    lengths = np.where(pick < 0.15, max_label, lengths)
    if not exact:
        lengths = np.where(pick > 0.9, 0, lengths)
    # padding beyond each length: zeros, -1, or anything (TF reads it on floor paths)
    pad = draw(st.sampled_from(("zero", "neg", "random")))
    cols = np.arange(max_label)[None, :]
    fill = {"zero": 0, "neg": -1}.get(pad)
    padding = rng.integers(-2, n_classes + 2, labels.shape) if fill is None else fill
    labels = np.where(cols < lengths[:, None], labels, padding)

    need = np.array([needed_frames(labels[b], lengths[b]) for b in range(n_batch)])
    tl = rng.integers(0, n_time + 1, n_batch)
    tl = np.where(rng.random(n_batch) < 0.5, n_time, tl)
    # dense float32: impossible alignments (TF's finite ~707 loss); sparse: too
    # few frames for the repeats only (TF's C++ kernel: +inf, softmax gradient)
    impossible = (not exact or form == "sparse") and rng.random() < 0.12
    if impossible and form == "sparse":
        tl = np.maximum(tl, np.minimum(lengths, n_time))
        lengths = np.minimum(lengths, tl)       # more labels than frames is an error
        lengths = np.maximum(lengths, 1)
        tl = np.maximum(tl, 1)
    elif not impossible:
        tl = np.maximum(tl, np.minimum(need, n_time))
        if np.any(need > n_time):           # too long a label: shorten it
            for b in np.nonzero(need > n_time)[0]:
                while needed_frames(labels[b], lengths[b]) > n_time:
                    lengths[b] -= 1
            tl = np.maximum(tl, [needed_frames(labels[b], lengths[b]) for b in range(n_batch)])
        if exact and np.any(lengths < 1):   # (T >= 1 leaves room for one label)
            lengths = np.maximum(lengths, 1)
            tl = np.maximum(tl, 1)

    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "ties", "big")))
    if exact and form == "dense":
        profile = draw(st.sampled_from(("normal", "tiny", "ties")))
    x = real_values(rng, (n_time, n_batch, n_classes), dtype, profile)
    if time_major is False:
        x = np.ascontiguousarray(np.transpose(x, (1, 0, 2)))

    ldtype = draw(st.sampled_from((np.int32, np.int64)))
    options = {}
    if time_major is not None:
        options["logits_time_major"] = time_major
    if blank_index is not None:
        options["blank_index"] = blank_index
    args = {"logits": x, "logit_length": tl.astype(draw(st.sampled_from((np.int32, np.int64))))}
    if form == "sparse":
        # TF's C++ kernel wants int32 sequence lengths; trailing values >=
        # num_classes are its "null" labels (dropped)
        args["logit_length"] = tl.astype(np.int32)
        n_null = rng.integers(0, 3, n_batch) if rng.random() < 0.2 else np.zeros(n_batch, int)
        n_null = np.minimum(n_null, tl - lengths)      # TF counts them against the frames
        wide = np.concatenate([labels, rng.integers(n_classes, n_classes + 5,
                                                    (n_batch, 2))], axis=1)
        for b in range(n_batch):
            wide[b, lengths[b]:lengths[b] + 2] = rng.integers(n_classes, n_classes + 5, 2)
        args["labels"] = sparse_from_dense(wide, lengths + n_null, np.int32)
        options["label_length"] = None
    else:
        args["labels"] = labels.astype(ldtype)
        args["label_length"] = lengths.astype(ldtype)
        # unique: an implementation hint in TF, given where TF's unique path
        # computes what its plain path does: no label equal to the blank (or to
        # a nonzero blank_index: TF then adds two classes' log-occupancies),
        # padding 0 (values outside [0, C) make its ScatterNd fail), possible
        # alignments (on floor paths its class sums differ)
        if (rng.random() < 0.15 and not use_blank_values and pad == "zero"
                and not impossible):
            args["unique"] = unique_labels(labels)
    kind = (f"{form}/{'tm' if time_major is not False else 'bm'}/blank={blank_kind}/"
            f"{profile}/pad={pad}" + ("/impossible" if impossible else "")
            + ("/null" if form == "sparse" and args["labels"].indices.shape[0]
               > lengths.sum() else "")
            + ("/unique" if "unique" in args else "") + ("/big" if big else ""))
    return Case(fn, args, options, dtype=dtype, kind=kind, seed=seed, layout=layout)
