"""The pool of large output blocks (pyx/_pool.h, src/cyloss/_pool.py): calls
with large inputs allocate through it, a dropped result's block is reused by
the next call of about its size, results are the same bits as without the
pool, a reused block never aliases a live array, and the limit holds."""
import os
import subprocess
import sys

import numpy as np
import pytest

import cyloss
from cyloss import _pool, _runtime, nn

pytestmark = pytest.mark.skipif(not _runtime.POOL_AVAILABLE,
                                reason="the pool is POSIX-only (not built on this platform)")

ROWS, COLS = 512, 1000          # 2 MB of float32 logits: above _pool.BIG_INPUT


def handler_name(a):
    from numpy._core.multiarray import get_handler_name
    while a.base is not None and isinstance(a.base, np.ndarray):
        a = a.base
    return get_handler_name(a)


@pytest.fixture
def pool():
    """A fresh pool with room for a few gradients; the limit restored after."""
    limit = _runtime.pool_stats()["limit"]
    _runtime.pool_release()
    _runtime.pool_set_limit(64 << 20)
    yield
    _runtime.pool_release()
    _runtime.pool_set_limit(limit)


def inputs(rng):
    x = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    return rng.integers(0, COLS, ROWS), x


def without_pool(monkeypatch, fn, *args):
    monkeypatch.setattr(_pool, "ON", False)
    try:
        return fn(*args)
    finally:
        monkeypatch.undo()


def test_large_call_allocates_from_the_pool_small_call_does_not(pool, rng):
    labels, x = inputs(rng)
    _, g = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits)(labels, x)
    assert handler_name(g) == "cyloss_pool"
    _, g_small = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits)(
        labels[:2], x[:2])
    assert handler_name(g_small) != "cyloss_pool"


def test_a_dropped_result_is_reused_and_bits_do_not_change(pool, rng, monkeypatch):
    labels, x = inputs(rng)
    f = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits)
    v0, g0 = without_pool(monkeypatch, f, labels, x)
    before = _runtime.pool_stats()
    for _ in range(3):
        v, g = f(labels, x)
        np.testing.assert_array_equal(v, v0)
        np.testing.assert_array_equal(g, g0)
        del v, g
    after = _runtime.pool_stats()
    assert after["hits"] - before["hits"] >= 2      # calls 2 and 3 reused call 1's block


def test_a_reused_block_never_aliases_a_live_array(pool, rng):
    labels, x = inputs(rng)
    f = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits)
    _, kept = f(labels, x)
    kept_copy = kept.copy()
    _, dropped = f(labels, 2 * x)
    dropped_ptr = dropped.__array_interface__["data"][0]
    del dropped
    _, again = f(labels, 3 * x)              # may take `dropped`'s block, never `kept`'s
    assert again.__array_interface__["data"][0] != kept.__array_interface__["data"][0]
    assert again.__array_interface__["data"][0] == dropped_ptr
    np.testing.assert_array_equal(kept, kept_copy)
    _, expect = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits)(
        labels, 3 * x)
    np.testing.assert_array_equal(again, expect)


def test_limit_zero_keeps_nothing(pool, rng):
    labels, x = inputs(rng)
    _runtime.pool_set_limit(0)
    _, g = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits)(labels, x)
    del g
    assert _runtime.pool_stats()["held"] == 0


def test_held_bytes_stay_under_the_limit(pool, rng):
    _runtime.pool_set_limit(5 << 20)         # room for two 2 MB gradients, not three
    labels, x = inputs(rng)
    f = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits)
    results = [f(labels, x)[1] for _ in range(4)]
    del results
    stats = _runtime.pool_stats()
    assert 0 < stats["held"] <= 5 << 20
    assert _runtime.pool_release() == stats["held"]
    assert _runtime.pool_stats()["held"] == 0


def test_zeros_and_resize_through_the_pool(pool):
    """calloc and realloc: NumPy's np.zeros and ndarray.resize on pool blocks."""
    previous = _runtime.pool_enter()
    try:
        z = np.zeros(1 << 20, np.float32)            # 4 MB: calloc
        assert handler_name(z) == "cyloss_pool"
        assert not z.any()
        a = np.arange(1 << 19, dtype=np.float64)      # 4 MB
        a.resize(1 << 20, refcheck=False)             # grows: a new block, data copied
        np.testing.assert_array_equal(a[:1 << 19], np.arange(1 << 19))
        a.resize(1 << 10, refcheck=False)             # shrinks to a small block
        np.testing.assert_array_equal(a, np.arange(1 << 10))
        del z, a
    finally:
        _runtime.pool_exit(previous)
    # a block kept from the np.zeros above comes back zeroed to a later np.zeros
    previous = _runtime.pool_enter()
    try:
        junk = np.full(1 << 20, 7.0, np.float32)
        del junk
        z = np.zeros(1 << 20, np.float32)
        assert not z.any()
    finally:
        _runtime.pool_exit(previous)


def test_pool_is_per_context_not_global(pool):
    previous = _runtime.pool_enter()
    _runtime.pool_exit(previous)
    assert handler_name(np.empty(1 << 20, np.float32)) != "cyloss_pool"


@pytest.mark.parametrize("value", ["-1", "lots"])
def test_bad_environment_value_is_an_error(value):
    env = dict(os.environ, CYLOSS_POOL_MB=value)
    r = subprocess.run([sys.executable, "-c", "import cyloss"], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "CYLOSS_POOL_MB" in r.stderr


def test_environment_sets_the_limit():
    env = dict(os.environ, CYLOSS_POOL_MB="3")
    code = "from cyloss import _pool, _runtime; print(_runtime.pool_stats()['limit'], _pool.ON)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == [str(3 << 20), "True"]
    env["CYLOSS_POOL_MB"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["0", "False"]
