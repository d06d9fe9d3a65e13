"""Concurrency: cyloss called from many Python threads at once.

The kernels release the GIL, so calls from different Python threads run their
OpenMP regions side by side. For every kernel family the same calls made by 8
threads at once (released together by a Barrier, so they overlap) give values
AND gradients (cyloss.vjp) bitwise equal to serial calls; and
set_num_threads, changed over and over from one thread while others compute,
never changes a result (results do not depend on the thread count).
Per-thread / per-task loss collections are covered by tests/test_collections.py
(test_each_thread_has_its_own_collection and the two after it).
"""
import threading

import numpy as np
import pytest

import cyloss
import cyloss.keras as ck
from cyloss import losses, nn, seq2seq

from _cases import assert_same_bits

N_THREADS = 8
ROUNDS = 3


def _cases(rng):
    """One or two public calls per kernel family, each on an input big enough
    (> _threads.SERIAL_BELOW elements, so the kernel also runs its OpenMP
    loops) that concurrent calls overlap, and small enough for a quick test."""
    f32, f64 = np.float32, np.float64
    n, c = 2000, 40                                       # 80000 elements
    x = (rng.normal(size=(n, c)) * 3).astype(f32)
    y = rng.dirichlet(np.ones(c), size=n).astype(f32)
    lab = rng.integers(0, c, size=n)
    z = rng.uniform(0, 1, size=(n, c)).astype(f64)
    xd = x.astype(f64)
    pw = rng.uniform(0.5, 3, size=c).astype(f64)
    # seq2seq: [batch, time, classes]
    xs = rng.normal(size=(40, 50, 40)).astype(f32)
    ts = rng.integers(0, 40, size=(40, 50))
    ws = rng.uniform(0, 1, size=(40, 50)).astype(f32)
    # ctc: logits [T, B, C], dense labels [B, L], blank 0
    T, B, C, L = 60, 16, 30, 12
    xc = rng.normal(size=(T, B, C)).astype(f64)
    lc = rng.integers(1, C, size=(B, L)).astype(np.int32)
    ll = rng.integers(4, L + 1, size=B).astype(np.int32)
    tl = rng.integers(2 * L + 1, T + 1, size=B).astype(np.int32)
    # sampled: weights [classes, dim], inputs [batch, dim], fixed samples
    V, D, Bs, S = 3000, 32, 256, 64
    W = (rng.normal(size=(V, D)) * 0.1).astype(f32)
    b = (rng.normal(size=V) * 0.1).astype(f32)
    xi = rng.normal(size=(Bs, D)).astype(f32)
    li = rng.integers(0, V, size=(Bs, 2))
    sv = nn.log_uniform_candidate_sampler(li, 2, S, True, V, seed=7)
    return [
        ("softmax_xent", nn.softmax_cross_entropy_with_logits, (y, x), {}),
        ("sparse_xent", nn.sparse_softmax_cross_entropy_with_logits, (lab, x), {}),
        ("log_softmax", nn.log_softmax, (xd,), {}),
        ("sigmoid_xent", nn.sigmoid_cross_entropy_with_logits, (z, xd), {}),
        ("weighted_xent", nn.weighted_cross_entropy_with_logits, (z, xd, pw), {}),
        ("log_poisson", nn.log_poisson_loss, (z * 4, xd / 4, True), {}),
        ("l2_loss", nn.l2_loss, (x,), {}),
        ("losses.huber", losses.huber_loss, (z, xd), {"weights": z[:, :1]}),
        ("losses.mpse", losses.mean_pairwise_squared_error, (z[:, :20], xd[:, :20]), {}),
        ("losses.cosine", losses.cosine_distance, (z, xd), {"axis": 1}),
        ("keras.cce", ck.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
         (y, x), {}),
        ("keras.scce", ck.SparseCategoricalCrossentropy(), (lab, y), {}),
        ("keras.focal", ck.CategoricalFocalCrossentropy(), (y, y[::-1]), {}),
        ("seq2seq", seq2seq.sequence_loss, (xs, ts, ws), {}),
        ("ctc", nn.ctc_loss, (lc, xc, ll, tl), {"blank_index": 0}),
        ("sampled_softmax", nn.sampled_softmax_loss, (W, b, li, xi, S, V),
         {"num_true": 2, "sampled_values": sv}),
        ("nce", nn.nce_loss, (W, b, li, xi, S, V),
         {"num_true": 2, "sampled_values": sv}),
    ]


def _run(fn, args, kwargs):
    value, backward = cyloss.vjp(fn, *args, **kwargs)
    dy = np.linspace(-1, 2, num=max(value.size, 1)).reshape(value.shape).astype(value.dtype)
    return value, backward(dy)


def _assert_same(got, want, what):
    v, g = got
    v0, g0 = want
    assert_same_bits(v, v0, f"{what} value")
    assert set(g) == set(g0), what
    for k in g0:
        assert_same_bits(g[k], g0[k], f"{what} d{k}")


def _in_threads(work, n=N_THREADS):
    """Run work(i) in n threads released together; return their results
    (re-raising the first exception)."""
    barrier = threading.Barrier(n)
    out, errors = [None] * n, []

    def target(i):
        try:
            barrier.wait(timeout=60)
            out[i] = work(i)
        except BaseException as e:       # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


CASE_NAMES = [c[0] for c in _cases(np.random.default_rng(0))]


@pytest.fixture(scope="module")
def cases():
    return {name: (fn, args, kw) for name, fn, args, kw in _cases(np.random.default_rng(1234))}


@pytest.mark.parametrize("omp_threads", [1, 2], ids=lambda n: f"omp{n}")
@pytest.mark.parametrize("name", CASE_NAMES)
def test_concurrent_calls_equal_serial_calls(cases, name, omp_threads):
    fn, args, kw = cases[name]
    cyloss.set_num_threads(omp_threads)
    want = _run(fn, args, kw)
    for _ in range(ROUNDS):
        got = _in_threads(lambda i: _run(fn, args, kw))
        for i, r in enumerate(got):
            _assert_same(r, want, f"{name}, python thread {i}")


def test_every_family_at_once(cases):
    # 8 threads, each going through every family in a different order: the
    # kernels of different modules overlap too
    want = {name: _run(*cases[name]) for name in cases}
    names = list(cases)

    def work(i):
        order = names[i % len(names):] + names[:i % len(names)]
        return {name: _run(*cases[name]) for name in order}

    for r in _in_threads(work):
        for name in names:
            _assert_same(r[name], want[name], name)


def test_set_num_threads_from_another_thread_changes_no_result(cases):
    # results are thread-count independent by design, so a thread count
    # changed while a call runs (the call reads it once, at its start) can
    # change nothing but speed; and the setting is not corrupted
    want = {name: _run(*cases[name]) for name in cases}
    names = list(cases)
    stop = threading.Event()
    flips = [0]

    def flipper():
        k = 0
        while not stop.is_set():
            cyloss.set_num_threads(1 + k % 4)
            cyloss.set_num_threads(None if k % 7 == 0 else 1 + (k * 3) % 4)
            k += 1
        flips[0] = k

    t = threading.Thread(target=flipper)
    t.start()
    try:
        def work(i):
            return [(name, _run(*cases[name])) for name in names[i::4] + names[:2]]
        results = _in_threads(work, n=4)
    finally:
        stop.set()
        t.join()
    assert flips[0] > 10, "the flipper thread did not run alongside the calls"
    for r in results:
        for name, got in r:
            _assert_same(got, want[name], f"{name} with set_num_threads flipping")
    cyloss.set_num_threads(3)
    assert cyloss.get_num_threads() == min(3, cyloss._threads._omp_cap())
