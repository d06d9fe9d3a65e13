"""cyloss.nn.ctc_loss without TensorFlow: brute-force sums over every
alignment, an independent probability-space model of TF's dense path (with
its floor weights, padded states and the Lmax = 0 quirk), float64 finite
differences of the gradient, metamorphic relations (sparse = dense, time-major
= batch-major, negative blank_index, permuted classes), the error contract,
untouched inputs, and identical bits at every thread count and SIMD level."""
import itertools

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import cyloss
from cyloss import _kernels, nn
from cyloss._nn_ctc import TF_LOG_FLOOR

from _fd import central_diff_4, fd_tolerance, on_grid

REF = np.longdouble
EPS64 = np.finfo(np.float64).eps


# ------------------------------------------------------------- references --

def _log_softmax(x):
    x = np.asarray(x, REF)
    m = x.max(-1, keepdims=True)
    return (x - m) - np.log(np.exp(x - m).sum(-1, keepdims=True))


def brute_ctc(x_tbc, labels, label_length, logit_length, blank):
    """-log P(label | x) by enumerating all C**t paths (merge repeats, drop
    blanks), in long double. Only for tiny T and C."""
    n_time, n_batch, n_classes = x_tbc.shape
    lp = _log_softmax(x_tbc)
    out = np.empty(n_batch, REF)
    for b in range(n_batch):
        t_b = int(logit_length[b])
        target = tuple(int(v) for v in labels[b, :label_length[b]])
        total = REF(0)
        for path in itertools.product(range(n_classes), repeat=t_b):
            merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
            if tuple(k for k in merged if k != blank) == target:
                total += np.exp(sum(lp[t, b, k] for t, k in enumerate(path)))
        out[b] = -np.log(total) if total > 0 else np.inf
    return out


def tf_dense_model(x_tbc, labels, label_length, logit_length, blank_index=0):
    """TF 2.21's dense CTC state model (ctc_ops.ctc_loss_dense) written
    independently of the kernel: probability space, the full [S, S]
    transition matrix built by adding ones (so coinciding entries add up),
    long double (exp(-707)**2 is representable). Returns (loss [B], gradient
    [T, B, C] for dy = 1).

    As in TF, the loss is the backward probability of the start state alone
    (beta_0(start), ending with weight `floor` off the final states), while
    the gradient's occupancy uses a forward pass that starts with weight
    `floor` on every other state: on impossible alignments that gradient is
    not the derivative of the loss."""
    n_time, n_batch, n_classes = x_tbc.shape
    blank = blank_index % n_classes
    lab = np.asarray(labels, np.int64)
    if blank_index != 0:
        lab = np.where(lab < blank, lab + 1, lab)
    # rotated class r -> column: 0 -> blank, 1..blank -> r-1, above -> r
    col = np.concatenate(([blank], np.arange(blank), np.arange(blank + 1, n_classes)))
    lmax = lab.shape[1]
    nl = lmax + 1
    n_states = 2 * nl
    floor = np.exp(REF(TF_LOG_FLOOR))
    p = np.exp(_log_softmax(x_tbc))
    loss = np.empty(n_batch, REF)
    grad = np.zeros(x_tbc.shape, REF)
    for b in range(n_batch):
        trans = np.zeros((n_states, n_states), REF)            # [to, from]
        trans[1, 0] += 1
        for s in range(1, nl):
            trans[s, nl + s - 1] += 1
        for s in range(nl):
            trans[nl + s, s] += 1
        trans += np.eye(n_states, dtype=REF)
        for s in range(2, nl):
            if lab[b, s - 1] != lab[b, s - 2]:
                trans[s, s - 1] += 1
        tl = int(logit_length[b])
        obs = np.empty((tl, n_states), REF)
        obs[:, 0] = 0
        for s in range(1, nl):
            r = lab[b, s - 1]
            obs[:, s] = p[:tl, b, col[r]] if 0 <= r < n_classes else 1
        obs[:, nl:] = p[:tl, b, blank][:, None]
        beta = np.full((tl + 1, n_states), floor)
        beta[tl, label_length[b]] = beta[tl, nl + label_length[b]] = 1
        for t in range(tl - 1, -1, -1):
            beta[t] = trans.T @ (obs[t] * beta[t + 1])
        loss[b] = -np.log(beta[0, 0])
        alpha = np.full(n_states, floor)
        alpha[0] = 1
        for t in range(tl):
            alpha = (trans @ alpha) * obs[t]
            gamma = alpha * beta[t + 1]
            gamma /= gamma.sum()
            grad[t, b] = p[t, b]
            grad[t, b, blank] -= gamma[nl:].sum()
            for s in range(1, nl):
                if 1 <= lab[b, s - 1] < n_classes:
                    grad[t, b, col[lab[b, s - 1]]] -= gamma[s]
    return loss, grad


def tbc(x, time_major):
    return x if time_major else np.transpose(x, (1, 0, 2))


def value_scale(x_tbc, logit_length, loss):
    """Magnitude of the terms of a CTC loss: one log-softmax and one
    normalising log-sum per frame, plus the loss itself."""
    lp = np.abs(np.asarray(_log_softmax(x_tbc), np.float64)).max(-1)       # [T, B]
    mask = np.arange(x_tbc.shape[0])[:, None] < np.asarray(logit_length)[None, :]
    return (np.where(mask, lp + 1, 0)).sum(0) + np.abs(np.asarray(loss, np.float64)) + 1


def assert_loss_close(got, want, scale, dtype, k=32):
    # k eps per unit of term magnitude: T log-sums of a few terms each, plus the
    # rounding of the log-softmax of every frame (measured worst: ~4).
    tol = k * np.finfo(dtype).eps * scale
    err = np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
    assert np.all(err <= tol), f"got {got}, want {want}, err {err}, tol {tol}"


# ------------------------------------------------------------ hand examples --

def test_one_frame_is_minus_log_softmax():
    x = np.array([[[0.5, -1.0, 2.0]]])                    # T=1, B=1, C=3
    loss = nn.ctc_loss(np.array([[2]]), x, [1], [1])      # blank 0
    want = -_log_softmax(x)[0, 0, 2]
    assert loss.dtype == np.float64 and loss.shape == (1,)
    assert abs(loss[0] - want) <= 4 * EPS64 * abs(want)


def test_two_frames_three_paths():
    # label [1] in 2 frames (blank 0): paths (1,1), (0,1), (1,0)
    x = np.array([[[0.3, -0.2]], [[1.1, 0.4]]])
    p = np.exp(_log_softmax(x))[:, 0, :]
    want = -np.log(p[0, 1] * p[1, 1] + p[0, 0] * p[1, 1] + p[0, 1] * p[1, 0])
    got = nn.ctc_loss(np.array([[1]]), x, [1], [2])[0]
    assert abs(got - want) <= 8 * EPS64 * (abs(want) + 2)


CASES = [
    # (T, B, C, labels, label_length, logit_length, blank_index)
    (4, 2, 3, [[1, 2], [2, 2]], [2, 2], [4, 3], None),           # repeat needs a blank
    (5, 2, 3, [[1, 1, 2], [2, 0, 0]], [3, 1], [5, 5], None),
    (4, 2, 3, [[0, 1], [1, 0]], [2, 1], [4, 4], 2),             # blank last
    (4, 2, 3, [[0, 1], [1, 1]], [2, 2], [4, 3], -1),            # negative blank
    (5, 1, 4, [[3, 0, 3]], [3], [5], 1),                        # blank in the middle
    (3, 2, 3, [[1, 2], [1, 2]], [0, 1], [3, 2], None),          # zero-length label
    (5, 3, 3, [[2, 2, 2], [1, 2, 1], [1, 1, 1]], [3, 3, 2], [5, 5, 5], None),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_matches_brute_force(case, dtype, rng):
    n_time, n_batch, n_classes, labels, ll, tl, bi = case
    x = rng.normal(size=(n_time, n_batch, n_classes)) * 1.5
    labels = np.array(labels, np.int32)
    kw = {} if bi is None else {"blank_index": bi}
    got = nn.ctc_loss(labels, x.astype(dtype), ll, tl, **kw)
    want = brute_ctc(x.astype(dtype), labels, ll, tl, (bi or 0) % n_classes)
    assert got.dtype == dtype
    assert_loss_close(got, want, value_scale(x, tl, want), dtype)


IMPOSSIBLE = [
    # label + repeats longer than logit_length: TF's dense path gives ~707 + ...
    (3, 2, 4, [[1, 1, 2], [1, 2, 3]], [3, 3], [3, 2], None),
    (2, 1, 3, [[2, 2]], [2], [2], -1),
    (4, 2, 3, [[1, 2, 1, 2], [1, 1, 0, 0]], [4, 2], [0, 2], None),
]


@pytest.mark.parametrize("case", CASES + IMPOSSIBLE, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_matches_tf_dense_model(case, dtype, rng):
    n_time, n_batch, n_classes, labels, ll, tl, bi = case
    x = rng.normal(size=(n_time, n_batch, n_classes))
    labels = np.array(labels, np.int64)
    kw = {} if bi is None else {"blank_index": bi}
    got = nn.ctc_loss(labels, x.astype(dtype), ll, tl, **kw)
    want, want_g = tf_dense_model(x.astype(dtype), labels, ll, tl, bi or 0)
    scale = value_scale(x, tl, want)
    assert_loss_close(got, want, scale, dtype)
    # the gradient (TF's formula, also on impossible alignments): an
    # occupancy's relative error follows the log-space error of the loss
    _, g = cyloss.value_and_grad(nn.ctc_loss)(labels, x.astype(dtype), ll, tl, **kw)
    tol = 32 * np.finfo(dtype).eps * (1 + scale[None, :, None])
    assert np.all(np.abs(g - np.asarray(want_g, np.float64)) <= tol)


def test_impossible_alignment_is_finite_near_707(rng):
    x = rng.normal(size=(2, 1, 3))
    loss, g = cyloss.value_and_grad(nn.ctc_loss)(np.array([[1, 1]]), x, [2], [2])
    assert np.isfinite(loss).all() and 706.8 < loss[0] < 730
    assert np.isfinite(g).all() and np.abs(g).sum() > 0.1
    # the exact model (sparse labels, TF's C++ kernel): no path -> +inf, and the
    # gradient is the softmax (empty occupancy) on live frames, 0 beyond
    sp = (np.array([[0, 0], [0, 1]]), np.array([1, 1]), np.array([1, 2]))
    x3 = rng.normal(size=(3, 1, 3))
    v, g = cyloss.value_and_grad(nn.ctc_loss)(sp, x3, None, [2], blank_index=0)
    assert v[0] == np.inf
    p = np.exp(np.asarray(_log_softmax(x3), np.float64))
    np.testing.assert_allclose(g[:2], p[:2], rtol=8 * EPS64)
    assert not g[2:].any()
    # ... and rejects more labels than frames
    with pytest.raises(cyloss.InvalidArgumentError, match=r"required: 2, available: 1"):
        nn.ctc_loss(sp, x3, None, [1], blank_index=0)


def test_sparse_trailing_null_labels_are_dropped(rng):
    # values >= num_classes at the end of a row are TF's "null" labels
    x = rng.normal(size=(5, 2, 4))
    tl = [5, 4]
    a = nn.ctc_loss(_sparse([[1, 2, 4, 9], [3, 0, 0, 0]], [4, 1]), x, None, tl, blank_index=0)
    b = nn.ctc_loss(_sparse([[1, 2], [3]], [2, 1]), x, None, tl, blank_index=0)
    assert_array_equal(a, b)
    # a row of null labels only: TF's kernel indexes outside its matrices there
    with pytest.raises(cyloss.InvalidArgumentError, match="zero in batch 1 once its null"):
        nn.ctc_loss(_sparse([[1], [5]], [1, 1]), x, None, tl, blank_index=0)


def test_zero_frames_and_empty_label_axis(rng):
    # no frames: loss = -(final weight of the start state)
    x = np.zeros((0, 2, 3))
    assert_array_equal(nn.ctc_loss(np.array([[1], [1]]), x, [0, 1], [0, 0]),
                       [0, -TF_LOG_FLOOR])
    # labels of shape [B, 0]: TF's start->label-1 and start->blank-0 entries
    # coincide, so the all-blank path has weight 2: brute force - log 2
    x = rng.normal(size=(3, 2, 3))
    got = nn.ctc_loss(np.zeros((2, 0), np.int32), x, [0, 0], [3, 1])
    want = brute_ctc(x, np.zeros((2, 0), int), [0, 0], [3, 1], 0) - np.log(REF(2))
    assert_loss_close(got, want, value_scale(x, [3, 1], want), np.float64)
    # one padded column and length 0: the exact value
    got = nn.ctc_loss(np.zeros((2, 1), np.int32), x, [0, 0], [3, 1])
    want = brute_ctc(x, np.zeros((2, 0), int), [0, 0], [3, 1], 0)
    assert_loss_close(got, want, value_scale(x, [3, 1], want), np.float64)


def test_out_of_range_padding_is_used_as_tf_does(rng):
    # beyond label_length labels are not checked; TF gives such a state
    # observation probability 1 (it only matters on the floor paths)
    x = rng.normal(size=(2, 1, 3))
    lab = np.array([[1, 1, -7, 9]])
    got = nn.ctc_loss(lab, x, [2], [2])
    want = tf_dense_model(x, lab, [2], [2])[0]
    assert_loss_close(got, want, value_scale(x, [2], want), np.float64)


# -------------------------------------------------------------- gradients --

# (impossible alignments: TF's gradient is not the loss' derivative there,
# see tf_dense_model; test_matches_tf_dense_model checks it)
GRAD_CASES = CASES + [
    (6, 3, 5, [[1, 2, 2, 3], [4, 4, 4, 0], [1, 0, 0, 0]], [4, 3, 0], [6, 6, 4], 0),
    (6, 2, 4, [[3, 1, 3], [2, 2, 0]], [3, 2], [5, 6], 3),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
@pytest.mark.parametrize("time_major", [True, False])
def test_gradient_matches_finite_differences(case, time_major, rng):
    n_time, n_batch, n_classes, labels, ll, tl, bi = case
    x = tbc(on_grid(rng.normal(size=(n_time, n_batch, n_classes))), time_major)
    labels = np.array(labels, np.int32)
    kw = {"logits_time_major": time_major}
    if bi is not None:
        kw["blank_index"] = bi
    dy = rng.normal(size=n_batch)
    value, bwd = cyloss.vjp(nn.ctc_loss, labels, x, ll, tl, **kw)
    got = bwd(dy)["logits"]
    assert got.shape == x.shape and got.dtype == np.float64

    def f(t):
        return nn.ctc_loss(labels, t, ll, tl, **kw)
    # rounding scale of each loss: its terms (see value_scale)
    scale = value_scale(tbc(x, time_major), tl, value)
    fd, noise = central_diff_4(f, x, dy=dy, scale=scale)
    tol = fd_tolerance(noise) + 16 * EPS64 * np.abs(fd)
    assert np.all(np.abs(got - fd) <= tol), np.max(np.abs(got - fd) - tol)
    # frames at or beyond logit_length get exactly 0
    gt = tbc(got, time_major)
    for b, t_b in enumerate(tl):
        assert not gt[t_b:, b].any()


def test_gradient_is_softmax_minus_occupancy(rng):
    # sum over classes of the local gradient is 1 - 1 = 0 on every live frame
    x = rng.normal(size=(7, 3, 6))
    _, g = cyloss.value_and_grad(nn.ctc_loss)(np.array([[1, 2, 3], [4, 4, 1], [5, 0, 0]]),
                                              x, [3, 2, 1], [7, 6, 5])
    assert np.all(np.abs(g.sum(-1)) <= 32 * EPS64)


def test_dy_scales_each_example(rng):
    x = rng.normal(size=(5, 3, 4))
    lab = np.array([[1, 2], [3, 3], [2, 0]])
    args = (lab, x, [2, 2, 1], [5, 5, 4])
    _, b1 = cyloss.vjp(nn.ctc_loss, *args)
    _, b2 = cyloss.vjp(nn.ctc_loss, *args)
    dy = np.array([2.0, -0.5, 0.0])
    assert_array_equal(b2(dy)["logits"], b1(None)["logits"] * dy[None, :, None])


# ----------------------------------------------------- metamorphic checks --

def _sparse(labels, lengths):
    idx = np.array([(b, j) for b in range(len(lengths)) for j in range(lengths[b])],
                   np.int64).reshape(-1, 2)
    vals = np.array([labels[b][j] for b, j in idx], np.int32)
    return idx, vals, np.array([len(lengths), max(lengths)], np.int64)


class FakeSparseTensor:
    """Anything with .indices / .values / .dense_shape is taken as sparse."""
    def __init__(self, idx, vals, shape):
        self.indices, self.values, self.dense_shape = idx, vals, shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("blank", [0, 2, -1])
def test_sparse_equals_dense(dtype, blank, rng):
    n_classes = 5
    x = rng.normal(size=(8, 3, n_classes)).astype(dtype)
    b = blank % n_classes
    labels = np.array([[1, 2, 2, 3], [4, 1, 0, 0], [3, 0, 0, 0]])
    labels = np.where(labels >= b, labels + 1, labels) % n_classes    # never the blank
    labels[labels == b] = (b + 1) % n_classes
    ll, tl = [4, 2, 1], [8, 6, 3]
    dense, gd = cyloss.value_and_grad(nn.ctc_loss)(labels, x, ll, tl, blank_index=blank)
    for sp in (_sparse(labels, ll), FakeSparseTensor(*_sparse(labels, ll))):
        v, gs = cyloss.value_and_grad(nn.ctc_loss)(sp, x, None, tl, blank_index=blank)
        # the two models differ only on paths of weight exp(-707) relative
        k = 64 * np.finfo(dtype).eps
        np.testing.assert_allclose(v, dense, rtol=k, atol=k)
        np.testing.assert_allclose(gs, gd, rtol=0, atol=k)


@pytest.mark.parametrize("sparse", [False, True])
def test_time_major_and_batch_major_give_the_same_bits(sparse, rng):
    x = rng.normal(size=(9, 4, 6)).astype(np.float32)
    labels = np.array([[1, 2, 3], [5, 5, 1], [2, 0, 0], [4, 3, 0]])
    ll, tl = [3, 3, 1, 2], [9, 7, 2, 5]
    lab = _sparse(labels, ll) if sparse else labels
    kw = {"blank_index": 0}
    v1, g1 = cyloss.value_and_grad(nn.ctc_loss)(lab, x, ll, tl, **kw)
    xb = np.transpose(x, (1, 0, 2))
    v2, g2 = cyloss.value_and_grad(nn.ctc_loss)(lab, xb, ll, tl, logits_time_major=False,
                                                **kw)
    assert_array_equal(v1, v2)
    assert_array_equal(g1, np.transpose(g2, (1, 0, 2)))


def test_negative_blank_index_is_blank_plus_classes(rng):
    x = rng.normal(size=(6, 2, 5))
    labels = np.array([[1, 2, 0], [3, 3, 1]])
    for neg in range(-5, 0):
        a = cyloss.value_and_grad(nn.ctc_loss)(labels, x, [3, 2], [6, 5], blank_index=neg)
        b = cyloss.value_and_grad(nn.ctc_loss)(labels, x, [3, 2], [6, 5], blank_index=neg + 5)
        if neg + 5 != 0:        # -5 -> 0 also shifts negative padding, like TF; no effect here
            assert_array_equal(a[0], b[0])
            assert_array_equal(a[1], b[1])
        else:
            np.testing.assert_array_equal(a[0], b[0])


def test_blank_index_equals_moving_the_blank_column(rng):
    n_classes, blank = 5, 3
    x = rng.normal(size=(6, 2, n_classes))
    labels = np.array([[1, 4, 0], [2, 2, 4]])
    v, g = cyloss.value_and_grad(nn.ctc_loss)(labels, x, [3, 3], [6, 6], blank_index=blank)
    perm = [blank] + [k for k in range(n_classes) if k != blank]       # blank first
    new_id = {old: new for new, old in enumerate(perm)}
    labels0 = np.vectorize(new_id.get)(labels)
    v0, g0 = cyloss.value_and_grad(nn.ctc_loss)(labels0, x[:, :, perm], [3, 3], [6, 6])
    np.testing.assert_allclose(v, v0, rtol=64 * EPS64)
    np.testing.assert_allclose(g[:, :, perm], g0, atol=64 * EPS64)


def test_float32_agrees_with_float64(rng):
    x = rng.normal(size=(40, 3, 7)) * 2
    labels = rng.integers(1, 7, (3, 12))
    ll, tl = [12, 5, 0], [40, 30, 10]
    v64, g64 = cyloss.value_and_grad(nn.ctc_loss)(labels, x, ll, tl)
    v32, g32 = cyloss.value_and_grad(nn.ctc_loss)(labels, x.astype(np.float32), ll, tl)
    assert v32.dtype == g32.dtype == np.float32
    scale = value_scale(x, tl, v64)
    assert_loss_close(v32, v64, scale, np.float32)
    # a posterior's relative error follows the log-space error of the loss
    eps32 = np.finfo(np.float32).eps
    assert np.all(np.abs(g32 - g64) <= 32 * eps32 * (1 + scale[None, :, None]))


def test_unique_is_accepted_and_ignored(rng):
    x = rng.normal(size=(5, 2, 4))
    labels = np.array([[1, 2, 1], [3, 3, 0]])
    a = nn.ctc_loss(labels, x, [3, 2], [5, 5])
    uniq = (np.array([[1, 2, 0], [3, 0, 0]]), np.array([[0, 1, 0], [0, 0, 1]]))
    assert_array_equal(nn.ctc_loss(labels, x, [3, 2], [5, 5], unique=uniq), a)
    with pytest.raises(ValueError, match="unique"):
        nn.ctc_loss(labels, x, [3, 2], [5, 5], unique=(1,))


def test_empty_batch():
    v, g = cyloss.value_and_grad(nn.ctc_loss)(np.zeros((0, 2), np.int32),
                                              np.zeros((4, 0, 3), np.float32),
                                              np.zeros(0, int), np.zeros(0, int))
    assert v.shape == (0,) and g.shape == (4, 0, 3) and v.dtype == np.float32


# ------------------------------------------------------------------ errors --

def _base():
    x = np.zeros((4, 2, 3), np.float32)
    return np.array([[1, 2], [2, 0]], np.int32), x, np.array([2, 1]), np.array([4, 3])


@pytest.mark.parametrize("change, exc, match", [
    (lambda a: {**a, "labels": np.array([[1, 3], [2, 0]])}, cyloss.InvalidArgumentError,
     r"label value of 3 .*\[0, 3\) at position \(0, 1\)"),
    (lambda a: {**a, "labels": np.array([[1, 2], [-1, 0]])}, cyloss.InvalidArgumentError,
     r"label value of -1 .*position \(1, 0\)"),
    (lambda a: {**a, "label_length": np.array([3, 1])}, cyloss.InvalidArgumentError,
     r"label_length\[0\] = 3 is outside \[0, 2\]"),
    (lambda a: {**a, "label_length": np.array([2, -1])}, cyloss.InvalidArgumentError,
     r"label_length\[1\] = -1"),
    (lambda a: {**a, "logit_length": np.array([5, 3])}, cyloss.InvalidArgumentError,
     r"logit_length\[0\] = 5 is outside \[0, 4\]"),
    (lambda a: {**a, "logit_length": np.array([4, -2])}, cyloss.InvalidArgumentError,
     r"logit_length\[1\] = -2"),
    (lambda a: {**a, "blank_index": 3}, cyloss.InvalidArgumentError,
     r"blank_index = 3 is outside \[-3, 3\)"),
    (lambda a: {**a, "blank_index": -4}, cyloss.InvalidArgumentError, r"blank_index = -4"),
    (lambda a: {**a, "blank_index": 1.0}, TypeError, r"blank_index"),
    (lambda a: {**a, "labels": a["labels"][:1]}, ValueError, r"\(1, 2\)"),
    (lambda a: {**a, "labels": a["labels"][0]}, ValueError, r"\(2,\)"),
    (lambda a: {**a, "label_length": np.array([2])}, ValueError, r"\(1,\)"),
    (lambda a: {**a, "logit_length": np.array([[4, 3]])}, ValueError, r"\(1, 2\)"),
    (lambda a: {**a, "label_length": None}, ValueError, r"label_length"),
    (lambda a: {**a, "logits": a["logits"][0]}, ValueError, r"rank 3.*\(2, 3\)"),
    (lambda a: {**a, "logits": a["logits"].astype(np.int32)}, TypeError, r"float32 or float64"),
    (lambda a: {**a, "logits": a["logits"].astype(np.float16)}, TypeError, r"float16"),
    (lambda a: {**a, "labels": a["labels"].astype(np.float32)}, TypeError, r"labels"),
    (lambda a: {**a, "labels": a["labels"].astype(np.int16)}, TypeError, r"labels"),
    (lambda a: {**a, "logit_length": np.array([4.0, 3.0])}, TypeError, r"logit_length"),
    (lambda a: {**a, "logits": np.zeros((4, 2, 0), np.float32)}, cyloss.InvalidArgumentError,
     r"no classes"),
])
def test_dense_errors(change, exc, match):
    lab, x, ll, tl = _base()
    args = change({"labels": lab, "logits": x, "label_length": ll, "logit_length": tl})
    with pytest.raises(exc, match=match):
        nn.ctc_loss(**args)
    with pytest.raises(exc, match=match):
        cyloss.vjp(nn.ctc_loss, **args)


@pytest.mark.parametrize("sp, tl, blank, exc, match", [
    (([[0, 0], [1, 0]], [1, 2], [2, 2]), [4, 3], None, ValueError,
     r"`blank_index` must be provided"),
    (([[0, 0]], [1], [2, 1]), [4, 3], 0, cyloss.InvalidArgumentError,
     r"Labels length is zero in batch 1"),
    (([[0, 0], [1, 0]], [0, 2], [2, 1]), [4, 3], 0, cyloss.InvalidArgumentError,
     r"label value of 0 .*\[0, 0\]"),
    (([[0, 0], [0, 1], [1, 0]], [3, 1, 2], [2, 2]), [4, 3], 0, cyloss.InvalidArgumentError,
     r"non-null label .* following a null label"),
    (([[0, 0], [1, 0]], [-1, 2], [2, 1]), [4, 3], 2, cyloss.InvalidArgumentError,
     r"label value of -1"),
    (([[1, 0], [0, 0]], [1, 2], [2, 1]), [4, 3], 0, cyloss.InvalidArgumentError,
     r"indices\[1\] = \[0, 0\] is out of order"),
    (([[0, 0], [0, 0], [1, 0]], [1, 1, 2], [2, 2]), [4, 3], 0, cyloss.InvalidArgumentError,
     r"repeated"),
    (([[0, 0], [2, 0]], [1, 2], [3, 1]), [4, 3], 0, cyloss.InvalidArgumentError,
     r"out of bounds"),
    (([[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [1, 0]], [1, 2, 1, 2, 1, 2], [2, 5]),
     [4, 3], 0, cyloss.InvalidArgumentError, r"required: 5, available: 4"),
    (([[0, 0], [1, 0]], [1, 2], [2, 1]), [5, 3], 0, cyloss.InvalidArgumentError,
     r"logit_length\[0\] = 5"),
    (([[0, 0, 0], [1, 0, 0]], [1, 2], [2, 1]), [4, 3], 0, ValueError, r"indices \[N, 2\]"),
])
def test_sparse_errors(sp, tl, blank, exc, match):
    x = np.zeros((4, 2, 3), np.float32)
    sp = tuple(np.array(a) for a in sp)
    with pytest.raises(exc, match=match):
        nn.ctc_loss(sp, x, None, tl, blank_index=blank)


def test_inputs_unchanged(rng):
    x = rng.normal(size=(5, 3, 4)).astype(np.float32)
    lab = np.array([[1, 2], [3, 3], [2, 0]], np.int32)
    ll, tl = np.array([2, 2, 1]), np.array([5, 5, 4])
    sp = _sparse(lab, ll)
    before = [a.copy() for a in (x, lab, ll, tl, *sp)]
    for f in (lambda: cyloss.vjp(nn.ctc_loss, lab, x, ll, tl, blank_index=-1)[1](None),
              lambda: cyloss.vjp(nn.ctc_loss, sp, x, None, tl, blank_index=2)[1](None)):
        f()
    for a, b in zip((x, lab, ll, tl, *sp), before):
        assert_array_equal(a, b)


def test_read_only_and_strided_inputs(rng):
    big = rng.normal(size=(10, 6, 8)).astype(np.float32)
    x = big[::2, ::2, ::2]
    ro = x.copy()
    ro.setflags(write=False)
    lab = np.array([[1, 2], [3, 3], [2, 0]])
    a = cyloss.value_and_grad(nn.ctc_loss)(lab, x, [2, 2, 1], [5, 5, 4])
    b = cyloss.value_and_grad(nn.ctc_loss)(lab, ro, [2, 2, 1], [5, 5, 4])
    c = cyloss.value_and_grad(nn.ctc_loss)(lab, np.ascontiguousarray(x), [2, 2, 1], [5, 5, 4])
    for r in (a, b):
        assert_array_equal(r[0], c[0])
        assert_array_equal(r[1], c[1])


# ------------------------------------------------------------- determinism --

def _big_case(rng, dtype):
    x = rng.normal(size=(60, 11, 13)).astype(dtype) * 3
    labels = rng.integers(0, 13, (11, 25))
    labels[:, 5] = labels[:, 4]
    ll = rng.integers(0, 26, 11)
    tl = rng.integers(0, 61, 11)
    return labels, x, ll, tl


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_threads_keep_bits(dtype, n_threads, rng):
    args = _big_case(rng, dtype)
    v, g = cyloss.value_and_grad(nn.ctc_loss)(*args, blank_index=-1)
    cyloss.set_num_threads(1)
    v1, g1 = cyloss.value_and_grad(nn.ctc_loss)(*args, blank_index=-1)
    assert_array_equal(v, v1)
    assert_array_equal(g, g1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_simd_levels_keep_bits(dtype, rng):
    args = _big_case(rng, dtype)
    start = _kernels.level()
    results = []
    try:
        for level in _kernels.available_levels():
            _kernels.use(level)
            results.append(cyloss.value_and_grad(nn.ctc_loss)(*args, blank_index=4))
    finally:
        _kernels.use(start)
    for v, g in results[1:]:
        assert_array_equal(v, results[0][0])
        assert_array_equal(g, results[0][1])
