"""tf.nn.ctc_loss (TF 2.21, the v2 API) on NumPy arrays.

TensorFlow has two implementations behind one name, and cyloss follows each:

* dense labels [B, L] + label_length: TF's dense path (ctc_ops.ctc_loss_dense,
  blank default 0). Its forward-backward starts and ends off the label path
  with log-weight float32(log(1e-307)) ~ -706.9 instead of -inf, so an
  impossible alignment (label_length + repeats > logit_length) gives a finite
  loss near 707 and the gradient of those "floor" paths, not inf. cyloss runs
  the same state model (padded label positions included).
* sparse labels (a SparseTensor, or an (indices, values, dense_shape) triple):
  TF's C++ CTCLoss kernel (blank_index required; label_length ignored), the
  exact model. As there, values >= num_classes at the end of a row are
  dropped ("null" labels; one followed by a real label is an error); a row
  with more entries (null labels included) than frames, an empty row (also
  one of null labels only, where TF's kernel reads outside its matrices),
  unordered / repeated indices and negative labels (or 0 when blank_index
  is 0) raise InvalidArgumentError;
  a row whose repeats leave too few frames has loss +inf and the softmax as
  gradient.

The gradient with respect to the logits is TF's: softmax - state occupancy
per frame (0 beyond logit_length), times dy per example.

Where TF's dense path is silent about bad input, cyloss raises (API.md: no
silent out-of-range reads):
  label values outside [0, num_classes) within label_length, label_length
  outside [0, L], logit_length outside [0, T], blank_index outside
  [-num_classes, num_classes): InvalidArgumentError naming value and position
  (TF's dense path yields meaningless numbers; its sparse path raises for the
  lengths and labels).
Other documented differences:
  * float64 with dense labels: TF 2.21 raises (a float32 constant meets the
    float64 logits in a Mul); cyloss computes in float64 with the same model,
    except for an example with a log-probability below the floor weight
    (underflowing, -inf or NaN, e.g. huge or non-finite logits), where the
    dense model and TF's only float64 CTC, its C++ kernel, part: such an
    example follows the kernel (as sparse labels do), if the kernel accepts
    its labels (at least one, none the blank, no more than logit_length).
  * `unique` (from tf.nn.ctc_unique_labels) only selects another TF
    implementation of the same gradient; cyloss checks it is a pair and
    ignores it (the plain path's result). TF's unique path departs from its
    plain path when a label is the blank or equals a nonzero blank_index (two
    label ids share one class and TF adds their log-occupancies), when
    padding lies outside [0, num_classes) (its ScatterNd raises) and on
    impossible alignments (different sums over the floor paths).
  * batch 0: TF's dense path fails inside a scatter; cyloss returns an empty
    loss.
  * sparse labels: TF's kernel wants int32 values and int32 logit_length;
    cyloss also takes int64. It sums log-probabilities with float-precision
    log1pf/expf even for float64 logits; cyloss stays in float64.

Non-finite and huge logits give TF's results, NaN and inf positions included
(see _ctc.pyx): on the dense path TF multiplies the log-probabilities by a
one-hot matrix (-inf * 0 = NaN) and masks padding frames by multiplying by 0,
so one NaN / +-inf logit (or -inf log-probability of an overflowing huge
one) anywhere in an example's T frames normally makes its loss and gradient
all NaN; TF's C++ kernel (sparse labels) reads frames t < logit_length only
and gives NaN, or +inf with the softmax as gradient when no alignment exists.
"""
import numpy as np

from . import _checks as ck
from . import _kernels
from ._autodiff import differentiable
from ._errors import InvalidArgumentError
from ._threads import for_work

__all__ = ["ctc_loss"]

# TF's dense path: log(0 + 1e-307) in float64, cast to float32.
TF_LOG_FLOOR = float(np.float32(np.log(np.float64(1e-307))))

_DENSE_LABEL_INTS = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.int32, np.int64))


def _ints(x, name, allowed=None):
    a = ck.native(np.asarray(ck.require(x, name)))
    if a.dtype.kind not in "iu" or (allowed is not None and a.dtype not in allowed):
        raise TypeError(f"`{name}` must be an integer array"
                        + (f" ({', '.join(str(d) for d in allowed)})" if allowed else "")
                        + f", got {a.dtype}")
    return a


def _lengths(x, name, n_batch, upper, upper_name):
    a = _ints(x, name)
    if a.shape != (n_batch,):
        raise ValueError(f"`{name}` must have shape ({n_batch},) (the batch of the logits), "
                         f"got shape {a.shape}")
    a = a.astype(np.int64)
    bad = np.nonzero((a < 0) | (a > upper))[0]
    if bad.size:
        b = int(bad[0])
        raise InvalidArgumentError(f"{name}[{b}] = {int(a[b])} is outside [0, {upper}] "
                                   f"({upper_name})")
    return a


def _blank(blank_index, n_classes):
    if isinstance(blank_index, bool) or not isinstance(blank_index, (int, np.integer)):
        raise TypeError(f"`blank_index` must be an int, got {blank_index!r}")
    b = int(blank_index)
    if not -n_classes <= b < n_classes:
        raise InvalidArgumentError(f"blank_index = {b} is outside [-{n_classes}, {n_classes}) "
                                   f"for logits with {n_classes} classes")
    return b + n_classes if b < 0 else b


def _sparse_parts(labels):
    """(indices, values, dense_shape) if `labels` is sparse, else None."""
    if all(hasattr(labels, a) for a in ("indices", "values", "dense_shape")):
        return labels.indices, labels.values, labels.dense_shape
    if isinstance(labels, tuple) and len(labels) == 3:
        return labels
    return None


def _sparse_rows(parts, n_batch, n_classes, blank, logit_length):
    """Dense rotated labels [B, Lmax] and lengths from a sparse label matrix,
    with the checks of TF's CTCLoss kernel."""
    idx = _ints(parts[0], "labels.indices")
    val = _ints(parts[1], "labels.values", (np.dtype(np.int32), np.dtype(np.int64)))
    shp = _ints(parts[2], "labels.dense_shape")
    if idx.ndim != 2 or idx.shape[1] != 2 or val.shape != (idx.shape[0],) or shp.shape != (2,):
        raise ValueError(f"sparse labels must have indices [N, 2], values [N] and dense_shape "
                         f"[2]; got shapes {idx.shape}, {val.shape} and {shp.shape}")
    idx = idx.astype(np.int64)
    val = val.astype(np.int64)
    n = idx.shape[0]
    out = np.nonzero((idx[:, 0] < 0) | (idx[:, 0] >= n_batch) | (idx[:, 1] < 0))[0]
    if out.size:
        i = int(out[0])
        raise InvalidArgumentError(f"label SparseTensor is not valid: indices[{i}] = "
                                   f"{idx[i].tolist()} is out of bounds for batch {n_batch}")
    if n > 1:
        d0 = np.diff(idx[:, 0])
        d1 = np.diff(idx[:, 1])
        order = np.nonzero((d0 < 0) | ((d0 == 0) & (d1 <= 0)))[0]
        if order.size:
            i = int(order[0]) + 1
            what = "repeated" if d0[i - 1] == 0 and d1[i - 1] == 0 else "out of order"
            raise InvalidArgumentError(f"label SparseTensor is not valid: indices[{i}] = "
                                       f"{idx[i].tolist()} is {what}")
    counts = np.bincount(idx[:, 0], minlength=n_batch) if n else np.zeros(n_batch, np.int64)
    empty = np.nonzero(counts == 0)[0]
    if empty.size:
        raise InvalidArgumentError(f"Labels length is zero in batch {int(empty[0])}")
    # TF moves the blank last: a label v becomes v (v < blank) or v - 1. Values
    # that land at or beyond num_classes - 1 (v >= num_classes) are "null"
    # labels: TF drops them at the end of a row and rejects a label after one.
    shifted = np.where(val < blank, val, val - 1)
    neg = np.nonzero(shifted < 0)[0]
    if neg.size:
        i = int(neg[0])
        raise InvalidArgumentError(
            f"Received a label value of {int(val[i])} at labels.indices {idx[i].tolist()}: "
            f"all labels must be nonnegative and differ from the blank when blank_index is 0")
    null = shifted >= n_classes - 1
    if n > 1:
        after = np.nonzero(null[:-1] & ~null[1:] & (idx[1:, 0] == idx[:-1, 0]))[0]
        if after.size:
            i = int(after[0]) + 1
            raise InvalidArgumentError(
                f"Saw a non-null label (index >= num_classes - 1) following a null label: "
                f"labels.values[{i - 1}] = {int(val[i - 1])} (>= {n_classes}) is followed by "
                f"{int(val[i])} in batch {int(idx[i, 0])}")
    keep = ~null
    rows = idx[keep, 0]
    lens = np.bincount(rows, minlength=n_batch) if rows.size else np.zeros(n_batch, np.int64)
    nothing = np.nonzero(lens == 0)[0]
    if nothing.size:
        # TF's kernel then indexes outside its alpha/beta matrices (undefined)
        b = int(nothing[0])
        raise InvalidArgumentError(
            f"Labels length is zero in batch {b} once its null labels (values >= "
            f"{n_classes}) are dropped")
    short = np.nonzero(counts > logit_length)[0]       # TF counts the null labels too
    if short.size:
        b = int(short[0])
        raise InvalidArgumentError(
            f"Not enough time for target transition sequence (required: {int(counts[b])}, "
            f"available: {int(logit_length[b])}) in batch {b}")
    # (every row has a label, so the exact model never has Lmax = 0, where the
    # dense path's start -> blank weight is 2)
    lmax = int(lens.max()) if n_batch else 1
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    col = (np.arange(n) - np.repeat(starts, counts))[keep]
    cls = np.where(shifted < blank, shifted, shifted + 1)[keep]  # column of the logits
    dense = np.zeros((n_batch, lmax), np.int64)
    dense[rows, col] = np.where(cls < blank, cls + 1, cls)        # rotated: blank = 0
    # (more frames needed than given because of repeats: +inf loss, see _ctc.pyx)
    return dense, lens.astype(np.int64)


def _dense_rows(labels, n_batch, n_classes, blank, rotate):
    lab = _ints(labels, "labels", _DENSE_LABEL_INTS)
    if lab.ndim != 2 or lab.shape[0] != n_batch:
        raise ValueError(f"`labels` must have shape [batch, max_label_length] with the "
                         f"logits' batch {n_batch}, got shape {lab.shape}")
    lab = lab.astype(np.int64)
    return np.ascontiguousarray(np.where(lab < blank, lab + 1, lab) if rotate else lab), lab


def _check_label_values(lab, label_length, n_classes):
    inside = np.arange(lab.shape[1]) < label_length[:, None]
    bad = np.argwhere(inside & ((lab < 0) | (lab >= n_classes)))
    if bad.size:
        b, j = (int(v) for v in bad[0])
        raise InvalidArgumentError(
            f"Received a label value of {int(lab[b, j])} which is outside the valid range of "
            f"[0, {n_classes}) at position ({b}, {j}) (within label_length[{b}] = "
            f"{int(label_length[b])})")


def ctc_core(ctx, x, time_major, labels_rot, label_length, logit_length, blank, floor,
             kernel64=False, unique=False):
    """The CTC kernel call shared by ctc_loss (and the Keras CTC loss).

    x: float32/float64 logits [T, B, C] (time_major) or [B, T, C]; labels_rot:
    int64 [B, L] in TF's dense rotation (blank = 0, class k -> k + 1 below
    the blank); lengths int64 [B], checked; blank: the blank's column;
    floor: TF_LOG_FLOOR (dense semantics) or -inf (exact, sparse semantics);
    kernel64: float64 dense labels (nn.ctc_loss), whose examples follow TF's
    float64 (C++) kernel where a log-probability falls below the floor;
    unique: dense labels with `unique` (TF's unique path, which differs from
    the plain one only in where a NaN occupancy spreads).
    Returns (loss [B], backward) as an implementation of @differentiable does.
    """
    x = np.ascontiguousarray(x)
    if time_major:
        n_time, n_batch, n_classes = x.shape
    else:
        n_batch, n_time, n_classes = x.shape
    kern = _kernels.K.ctc
    nt = max(1, min(for_work(x.size), n_batch))
    nr, ni = kern.scratch_sizes(n_time, labels_rot.shape[1], n_classes)
    loss = np.empty(n_batch, x.dtype)
    g = np.empty_like(x) if ctx.wants("logits") else None
    kern.k_ctc(x, labels_rot, label_length, logit_length, blank, bool(time_major),
               floor, bool(kernel64), bool(unique), loss, g, np.empty((nt, nr), x.dtype),
               np.empty((nt, ni), np.int64), nt)
    if not ctx.grad:
        return loss, None

    def backward(dy):
        if g is None:
            return {}
        if dy is not None and g.size:
            rows = np.tile(dy, n_time) if time_major else np.repeat(dy, n_time)
            _kernels.K.reduce.k_scale_rows(g.reshape(-1, n_classes), rows, for_work(g.size))
        return {"logits": g}
    return loss, backward


@differentiable("logits")
def ctc_loss(ctx, labels, logits, label_length, logit_length, logits_time_major=True,
             unique=None, blank_index=None, name=None):
    """CTC loss per example (negative log-probability of the label sequence),
    as tf.nn.ctc_loss in TF 2.21; see the module docstring for the two label
    forms and the documented differences.

    labels: int [B, L] with label_length [B], or sparse (SparseTensor-like or
    (indices, values, dense_shape)); blank_index is then required and
    label_length is ignored. logits [T, B, C] (or [B, T, C] when
    logits_time_major is False), float32 or float64; logit_length [B].
    """
    return ctc_checked(ctx, labels, logits, label_length, logit_length, logits_time_major,
                       unique, blank_index, kernel64=True)


def ctc_checked(ctx, labels, logits, label_length, logit_length, logits_time_major=True,
                unique=None, blank_index=None, kernel64=False, check_labels=True):
    """ctc_loss' checks and kernel call (an implementation for @differentiable);
    kernel64: float64 dense examples follow TF's float64 (C++) kernel where
    their log-probabilities fall below the floor (nn.ctc_loss); the Keras CTC
    loss, which TF computes in float32 on its dense path, passes False, and
    check_labels=False: Keras' labels (float y_true cast to int32, NaN
    included) are computed with TF's one-hot rules outside [0, C) (the kernel
    reads none of them as an index: such a state observes log-probability 0
    and takes no gradient), as TF does, instead of raising."""
    x = ck.floating(logits, "logits")
    if x.ndim != 3:
        raise ValueError(f"`logits` must have rank 3 ([frames, batch, classes] or "
                         f"[batch, frames, classes]), got shape {x.shape}")
    time_major = bool(logits_time_major)
    n_time, n_batch = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_classes = x.shape[2]
    if n_classes == 0:
        raise InvalidArgumentError(f"logits of shape {x.shape} have no classes")
    if unique is not None:
        try:
            _uy, _ui = unique
        except (TypeError, ValueError):
            raise ValueError("`unique` must be the pair (unique_labels, unique_indices) of "
                             "tf.nn.ctc_unique_labels") from None
    tl = _lengths(logit_length, "logit_length", n_batch, n_time, "the logits' frames")
    parts = _sparse_parts(labels)
    if parts is not None:
        if blank_index is None:
            raise ValueError("Argument `blank_index` must be provided when `labels` is a "
                             "`SparseTensor`.")
        blank = _blank(blank_index, n_classes)
        lab, ll = _sparse_rows(parts, n_batch, n_classes, blank, tl)
        floor = -np.inf
    else:
        raw = 0 if blank_index is None else blank_index
        blank = _blank(raw, n_classes)
        lab, lab_raw = _dense_rows(labels, n_batch, n_classes, blank, int(raw) != 0)
        ll = _lengths(label_length, "label_length", n_batch, lab.shape[1],
                      "the labels' max_label_length")
        if check_labels:
            _check_label_values(lab_raw, ll, n_classes)
        floor = TF_LOG_FLOOR
    return ctc_core(ctx, x, time_major, lab, ll, tl, blank, floor,
                    kernel64=kernel64 and x.dtype == np.float64, unique=unique is not None)
