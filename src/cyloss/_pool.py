"""Reuse of large output buffers across calls (the allocator is in pyx/_pool.h).

A call whose array inputs hold at least 1 MiB runs with NumPy allocating its
new arrays through cyloss' pool: a large array such a call returned, once the
caller drops it, goes back to the pool, and the next call of about that size
gets it already mapped instead of a fresh zeroed mapping (~40% of a
[2048, 32000] softmax cross-entropy's time is otherwise page faults). The pool
keeps at most CYLOSS_POOL_MB mebibytes (default 1024; 0 turns it off) in at
most 8 blocks of 1 MiB or more; smaller calls do not touch it.
"""
import os

import numpy as np

from . import _runtime

BIG_INPUT = 1 << 20


def _limit_from_env():
    val = os.environ.get("CYLOSS_POOL_MB", "").strip()
    if not val:
        return 1024 << 20
    try:
        mb = int(val)
    except ValueError:
        raise ValueError(f"CYLOSS_POOL_MB={val!r} is not a non-negative integer") from None
    if mb < 0:
        raise ValueError(f"CYLOSS_POOL_MB={val!r} is not a non-negative integer")
    return mb << 20


_runtime.pool_set_limit(_limit_from_env())
ON = _runtime.POOL_AVAILABLE and _runtime.pool_stats()["limit"] > 0
os.register_at_fork(after_in_child=_runtime.pool_after_fork)


def wanted(args, kwargs):
    """Whether a call with these arguments should allocate from the pool."""
    if ON:
        for a in args:
            if type(a) is np.ndarray and a.nbytes >= BIG_INPUT:
                return True
        for a in kwargs.values():
            if type(a) is np.ndarray and a.nbytes >= BIG_INPUT:
                return True
    return False


def run(pooled, fn, *args, **kwargs):
    """fn(*args, **kwargs), allocating from the pool if `pooled`."""
    if not pooled:
        return fn(*args, **kwargs)
    previous = _runtime.pool_enter()
    try:
        return fn(*args, **kwargs)
    finally:
        _runtime.pool_exit(previous)
