"""Memory: no call leaks, successful or failed.

For one representative public call per kernel family (values, gradients
through cyloss.vjp, a Keras class call) 100000 calls in a loop leave

* the process' resident set flat: RSS (/proc/self/statm) after the loop is
  within RSS_BOUND of RSS after a warm-up;
* cyloss' Python layer flat: tracemalloc snapshots before and after
  TRACE_CALLS more calls, filtered to cyloss' own files (which also holds the
  NumPy arrays those lines allocate: NumPy reports its data buffers to
  tracemalloc), grow by less than TRACE_BOUND.

Calls that raise (a label out of range -> InvalidArgumentError, a shape
mismatch -> ValueError, a wrong dtype -> TypeError) are checked the same way.
Inputs are tiny, so the loop measures per-call overhead, not data.
tools/sanitize.sh leaves this file out: under AddressSanitizer both
measurements are of ASan's allocator (see there).
"""
import gc
import os
import tracemalloc

import numpy as np
import pytest

import cyloss
import cyloss.keras as ck
from cyloss import InvalidArgumentError, losses, nn, seq2seq

N_CALLS = 100_000
TRACE_CALLS = 2_000
WARMUP = 500
# A per-call leak of the smallest thing a call allocates, one ndarray (its
# object alone is >= 112 bytes, 0-d, before any data), would grow RSS by
# >= 100000 * 112 B = 10.7 MiB; 4 MiB catches that with room for allocator
# noise (glibc arena growth, page-granular RSS), and any leak of >= 42 bytes
# per call.
RSS_BOUND = 4 << 20
# tracemalloc counts bytes exactly, so fewer calls suffice (it makes every
# allocation several times slower): a leak of one 16-byte block per call
# would hold 2000 * 16 B = 32000 B more in cyloss' files; what may stay
# legitimately is a cached object or two (a few hundred bytes).
TRACE_BOUND = 4 << 10

PAGE = os.sysconf("SC_PAGE_SIZE")
CYLOSS_DIR = os.path.dirname(cyloss.__file__)


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _families():
    rng = np.random.default_rng(5)
    f32, f64 = np.float32, np.float64
    x = rng.normal(size=(4, 5)).astype(f32)
    y = rng.dirichlet(np.ones(5), size=4).astype(f32)
    lab = np.array([0, 4, 2, 1])
    z = rng.uniform(0, 1, size=(4, 5))
    xd = x.astype(f64)
    xs = rng.normal(size=(2, 3, 5)).astype(f32)
    ts = rng.integers(0, 5, size=(2, 3))
    ws = np.ones((2, 3), f32)
    xc = rng.normal(size=(6, 2, 4))                 # ctc [T, B, C]
    lc = np.array([[1, 2], [3, 3]], np.int32)
    W = rng.normal(size=(20, 3)).astype(f32)
    b = np.zeros(20, f32)
    xi = rng.normal(size=(4, 3)).astype(f32)
    li = np.array([[1], [5], [7], [19]])
    sv = nn.log_uniform_candidate_sampler(li, 1, 2, True, 20, seed=1)
    cce = ck.CategoricalCrossentropy(from_logits=True)
    scce = ck.SparseCategoricalCrossentropy()

    def grad(fn, *args, **kw):
        return lambda: cyloss.vjp(fn, *args, **kw)[1]()

    return {
        "sparse_xent": lambda: nn.sparse_softmax_cross_entropy_with_logits(lab, x),
        "softmax_xent.vjp": grad(nn.softmax_cross_entropy_with_logits, y, x),
        "log_poisson.vjp": grad(nn.log_poisson_loss, z, xd, True),
        "l2_loss": lambda: nn.l2_loss(xd),
        "losses.huber": lambda: losses.huber_loss(z, xd, z[:, :1]),
        "keras.cce": lambda: cce(y, x),
        "keras.scce.vjp": grad(scce, lab, y),
        "seq2seq": lambda: seq2seq.sequence_loss(xs, ts, ws),
        "ctc.vjp": grad(nn.ctc_loss, lc, xc, [2, 2], [6, 5], blank_index=0),
        "nce": lambda: nn.nce_loss(W, b, li, xi, 2, 20, sampled_values=sv),
    }


def _failing():
    x = np.zeros((4, 5), np.float32)

    def expect(exc, fn, *args, **kw):
        def call():
            try:
                fn(*args, **kw)
            except exc:
                return
            raise AssertionError(f"{fn!r} did not raise {exc.__name__}")
        return call

    return {
        "bad_label": expect(InvalidArgumentError, nn.sparse_softmax_cross_entropy_with_logits,
                            np.array([0, 1, 5, 2]), x),
        "bad_label.vjp": expect(InvalidArgumentError, cyloss.vjp,
                                nn.sparse_softmax_cross_entropy_with_logits,
                                np.array([0, -1, 2, 2]), x),
        "keras.shape": expect(ValueError, ck.CategoricalCrossentropy(), x, x[:, :3]),
        "dtype": expect(TypeError, nn.sparse_softmax_cross_entropy_with_logits,
                        np.zeros(4, np.float32), x),
    }


CALLS = {**_families(), **_failing()}


def _loop(call, n):
    for _ in range(n):
        call()


@pytest.mark.parametrize("name", list(CALLS))
def test_rss_flat_over_many_calls(name):
    call = CALLS[name]
    _loop(call, WARMUP)
    gc.collect()
    before = _rss()
    _loop(call, N_CALLS)
    gc.collect()
    grown = _rss() - before
    assert grown < RSS_BOUND, (f"{name}: RSS grew by {grown / 2**20:.2f} MiB over {N_CALLS} "
                               f"calls ({grown / N_CALLS:.1f} B/call)")


@pytest.mark.parametrize("name", list(CALLS))
def test_tracemalloc_flat_over_many_calls(name):
    call = CALLS[name]
    _loop(call, WARMUP)
    gc.collect()
    tracemalloc.start(1)
    try:
        only_cyloss = [tracemalloc.Filter(True, os.path.join(CYLOSS_DIR, "*"))]
        _loop(call, 50)          # tracemalloc's own first-use allocations
        before = tracemalloc.take_snapshot().filter_traces(only_cyloss)
        _loop(call, TRACE_CALLS)
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(only_cyloss)
    finally:
        tracemalloc.stop()
    diff = after.compare_to(before, "lineno")
    grown = sum(d.size_diff for d in diff if d.size_diff > 0)
    worst = "\n".join(str(d) for d in diff[:5])
    assert grown < TRACE_BOUND, (f"{name}: cyloss' files hold {grown} B more after "
                                 f"{TRACE_CALLS} calls:\n{worst}")
