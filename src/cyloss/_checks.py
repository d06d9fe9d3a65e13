"""Input checks shared by every public function. Everything here runs before
any compiled code: dtype errors raise TypeError, shape errors ValueError
naming both shapes, run-time value errors InvalidArgumentError."""
import numpy as np

from . import _kernels
from ._errors import InvalidArgumentError
from ._threads import for_work

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
LABEL_INTS = (np.dtype(np.int32), np.dtype(np.int64))


def require(value, name):
    if value is None:
        raise ValueError(f"`{name}` must be provided (got None)")
    return value


def native(a):
    """`a` in native byte order and aligned for its dtype (a copy only for
    byte-swapped or misaligned input: a kernel's load of a misaligned double
    is undefined behaviour in C, which tools/sanitize.sh's UBSan reports)."""
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a if a.flags.aligned else a.copy()


def floating(x, name):
    """`x` as an ndarray of float32 or float64 (the dtype it computes in)."""
    a = native(np.asarray(require(x, name)))
    if a.dtype not in FLOATS:
        raise TypeError(f"`{name}` must be float32 or float64, got {a.dtype}"
                        + (" (float16/bfloat16 are not supported yet)"
                           if a.dtype.kind == "f" or a.dtype.name == "bfloat16" else ""))
    return a


def same_dtype(x, name, like, like_name):
    """`x` in `like`'s float dtype: arrays must already have it (TF does not
    cast these), Python scalars and lists are converted to it."""
    require(x, name)
    if not isinstance(x, (list, tuple, np.generic, int, float)):
        a = native(np.asarray(x))
        if a.dtype != like.dtype:
            raise TypeError(f"`{name}` has dtype {a.dtype} but `{like_name}` has dtype "
                            f"{like.dtype}; they must match")
        return a
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be numeric, got {a.dtype}")
    return a.astype(like.dtype)


def castable(x, name, dtype, cast_op=False):
    """`x` cast to `dtype` (for inputs TF casts silently, e.g. dense labels):
    as TF converts a NumPy value (NumPy's cast), or with `cast_op` as TF's
    Cast op does it (tf_cast)."""
    a = native(np.asarray(require(x, name)))
    if a.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be a real number array, got {a.dtype}")
    return tf_cast(a, dtype) if cast_op else (a if a.dtype == dtype else a.astype(dtype))


def tf_cast(a, dtype):
    """The array `a` cast to `dtype` as TF's CPU Cast op does it: between
    float32 and float64 it flushes denormals (of the input's type, or of the
    result's) to a zero of their sign, e.g. a float32 1e-40 widened to float64
    becomes 0, and so does a float64 1e-40 narrowed to float32."""
    if a.dtype == dtype:
        return a
    r = a.astype(dtype)
    if {a.dtype, r.dtype} == {np.dtype(np.float32), np.dtype(np.float64)}:
        r = flush_denormals(r, max(np.finfo(a.dtype).tiny, np.finfo(r.dtype).tiny))
    return r


def int_labels(x, name):
    a = native(np.asarray(require(x, name)))
    if a.dtype not in LABEL_INTS:
        raise TypeError(f"`{name}` must be int32 or int64, got {a.dtype}")
    return a


def same_shape(a, a_name, b, b_name):
    if a.shape != b.shape:
        raise ValueError(f"`{a_name}` and `{b_name}` must have the same shape, "
                         f"received ({a.shape} vs {b.shape}).")


def check_label_range(labels, n_classes):
    """Sparse labels must lie in [0, n_classes); report the first bad one.
    `labels` is C-contiguous int32/int64 (any shape)."""
    flat = _kernels.K.reduce.k_first_bad_label(labels.reshape(-1), n_classes)
    if flat >= 0:
        pos = np.unravel_index(flat, labels.shape)
        value = labels.ravel()[flat]
        shown = " ".join(str(v) for v in labels.ravel()[:64])
        more = " ..." if labels.size > 64 else ""
        raise InvalidArgumentError(
            f"Received a label value of {value} which is outside the valid range of "
            f"[0, {n_classes}) at position {tuple(int(p) for p in pos)}.  "
            f"Label values: {shown}{more}")


def normalize_axis(axis, rank, name="axis"):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, got {axis!r}")
    axis = int(axis)
    if not -rank <= axis < rank:
        raise InvalidArgumentError(f"`{name}` must be in the range [{-rank}, {rank}) where "
                                   f"{rank} is the number of dimensions in the input. "
                                   f"Received: {name}={axis}")
    return axis % rank


def rows(x, axis):
    """x with `axis` moved last, as a C-contiguous [n_rows, n_classes] array
    (a view when the layout allows), and the shape of the moved array."""
    moved = x if axis == x.ndim - 1 else np.moveaxis(x, axis, -1)
    n_classes = moved.shape[-1]
    two = np.ascontiguousarray(moved).reshape(-1, n_classes) if moved.size else \
        np.empty((int(np.prod(moved.shape[:-1])), n_classes), x.dtype)
    return two, moved.shape


def mid(x, axis):
    """x (made C-contiguous) viewed as [outer, n_classes, inner] around `axis`:
    the layout the tiled kernels read without a transposed copy."""
    x = np.ascontiguousarray(x)
    outer = int(np.prod(x.shape[:axis]))
    inner = int(np.prod(x.shape[axis + 1:]))
    return x.reshape(outer, x.shape[axis], inner)


def unrows(two, moved_shape, axis, ndim):
    """Inverse of rows(): [n_rows, n_classes] back to the caller's layout."""
    out = two.reshape(moved_shape)
    return out if axis == ndim - 1 else np.moveaxis(out, -1, axis)


def reduce_to(g, shape):
    """Sum a broadcast gradient back to the shape of the input it came from
    (as TF's broadcast gradient does: in its order of additions, tf_sum)."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    return tf_sum(g, axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def tf_runs(shape, axes):
    """How TF's CPU reduction sees `shape` summed over `axes`: leading 1s
    dropped, each size-1 axis joined to the run before it, neighbouring axes
    of the same kind merged. Returns (runs, first_summed): the run sizes, which
    alternate between summed and kept, and whether the first run is summed."""
    summed = [i in axes for i in range(len(shape))]
    d = next((i for i, n in enumerate(shape) if n != 1), len(shape))
    if d == len(shape):
        return [], True
    runs = [shape[d]]
    for i in range(d + 1, len(shape)):
        if shape[i] == 1:
            summed[i] = summed[i - 1]
        if summed[i] == summed[i - 1]:
            runs[-1] *= shape[i]
        else:
            runs.append(shape[i])
    return runs, summed[d]


def tf_sum(a, axis=None, keepdims=False):
    """np.sum(a, axis) of a float array in TF's order of additions (its CPU
    Sum kernel on the view tf_runs gives): where partial sums overflow, the
    order alone decides inf, -inf or NaN.
      [R] or [K, R] (all, or the last axes): rows, _vec.h cyl_tfsum;
      [R, K] or [A, R, B] (a leading or middle run): cyl_tfsum_cols;
      [R1, K, R2]: each output added one by one, R2 the outer loop;
      more runs: the summed axes moved last, then rows."""
    a = np.asarray(a)
    axes = tuple(range(a.ndim)) if axis is None else tuple(
        sorted(normalize_axis(x, a.ndim) for x in np.atleast_1d(axis)))
    if a.dtype not in (np.float32, np.float64) or a.size == 0:
        return np.sum(a, axis=axes, keepdims=keepdims)
    kept = tuple(1 if i in axes else d for i, d in enumerate(a.shape)) if keepdims \
        else tuple(d for i, d in enumerate(a.shape) if i not in axes)
    runs, first = tf_runs(a.shape, axes)
    if len(runs) == 0 or (len(runs) == 1 and not first):     # nothing is summed
        return np.array(a).reshape(kept)
    k, threads = _kernels.K.reduce, for_work(a.size)
    x = np.ascontiguousarray(a).reshape(runs)
    if len(runs) in (2, 3) and (len(runs) == 3) != first:    # columns
        cols = x.reshape(1, *runs) if first else x
        out = np.empty((cols.shape[0], cols.shape[2]), a.dtype)
        k.k_tfsum_cols(cols, out, True, threads)
    elif len(runs) == 3:                                      # [R1, K, R2]
        cols = np.ascontiguousarray(x.transpose(2, 0, 1)).reshape(1, -1, runs[1])
        out = np.empty((1, runs[1]), a.dtype)
        k.k_tfsum_cols(cols, out, False, threads)
    else:                                                     # rows
        if len(runs) > 2:
            summed = [i for i in range(len(runs)) if (i % 2 == 0) == first]
            x = np.ascontiguousarray(x.transpose(
                [i for i in range(len(runs)) if i not in summed] + summed))
        n = int(np.prod([runs[i] for i in range(len(runs)) if (i % 2 == 0) == first]))
        x = x.reshape(-1, n)
        out = np.empty(x.shape[0], a.dtype)
        k.k_tfsum_rows(x, out, threads)
    return out.reshape(kept)


def tf_add_n(xs):
    """The sum of the arrays xs[0], xs[1], ... (stacked on axis 0) in the
    order of TF's CPU AddN: the first n mod 8 of them (8 when that is 0, 9
    when it is 1; all of them when n <= 9) added left to right, then each
    following group of 8 added left to right and that group's sum added on."""
    n = len(xs)
    head = n if n <= 9 else (n % 8 or 8) + (8 if n % 8 == 1 else 0)
    with np.errstate(over="ignore", invalid="ignore"):
        out = xs[0].copy()
        for i in range(1, head):
            out = out + xs[i]
        for g in range(head, n, 8):
            group = xs[g]
            for i in range(g + 1, g + 8):
                group = group + xs[i]
            out = out + group
    return out


def divisor_grad(dy, s, d, div=np.divide):
    """What TF's s / d sends back to the divisor d for the upstream dy, in
    its op order: dy ((-s / d) / d) -- d * d is never formed (it overflows
    where the quotients do not) -- each quotient and the product (in the
    quotients' dtype) flushed as TF's CPU does. `div`: the division (a
    div_no_nan gives 0 where d == 0)."""
    with np.errstate(all="ignore"):
        q = flush_denormals(div(flush_denormals(div(-s, d)), d))
        return flush_denormals(np.asarray(dy * q, q.dtype))


_TINY = {np.dtype(t): np.finfo(t).tiny for t in (np.float32, np.float64)}


def flush_denormals(a, tiny=None):
    """`a` with every |value| below `tiny` (default: the smallest normal
    number of a's dtype) as a zero of its sign. TF's CPU kernels treat
    denormal inputs as zero and flush denormal results; cyloss applies this
    where it changes a result (counts of nonzero weights, clips, logs,
    divisions by a tiny total). NaN stays NaN; `a` itself is returned when
    nothing is flushed (exact zeros need nothing)."""
    a = np.asarray(a)
    if tiny is None:
        tiny = _TINY.get(a.dtype)
        tiny = np.finfo(a.dtype).tiny if tiny is None else tiny
    small = np.abs(a) < tiny                # (NaN compares false)
    if not small.any():
        return a
    small &= a != 0
    if not small.any():
        return a
    with np.errstate(invalid="ignore"):     # (inf * 0 is not among them)
        return np.where(small, a * a.dtype.type(0), a)
