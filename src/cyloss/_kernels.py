"""Run-time choice of the compiled SIMD level.

The kernels are built once per level (cyloss._softmax_base, _softmax_avx2,
_softmax_avx512, ...). At import the best level that the CPU and OS support
and that was built is chosen; CYLOSS_SIMD=base|avx2|avx512 overrides it.
Every level computes the same bits (the build disables FMA contraction), so
the choice changes speed only.
"""
import importlib
import os
from types import SimpleNamespace

from . import _runtime

LEVELS = ("base", "avx2", "avx512")
_FAMILIES = ("softmax", "pointwise", "reduce", "rows", "ctc", "sampled")


def _load(level):
    return SimpleNamespace(level=level, **{
        fam: importlib.import_module(f"cyloss._{fam}_{level}") for fam in _FAMILIES})


def built_levels():
    """Levels compiled into this installation."""
    out = []
    for level in LEVELS:
        try:
            _load(level)
        except ImportError:
            continue
        out.append(level)
    return out


def available_levels():
    """Levels that are built and that this CPU can run, best last."""
    cpu = set(_runtime.cpu_simd_levels())
    return [lv for lv in built_levels() if lv in cpu]


def use(level):
    """Switch every kernel call to `level` (for tests and benchmarks)."""
    global K
    if level not in available_levels():
        raise ValueError(f"SIMD level {level!r} is not available here; "
                         f"available: {available_levels()}")
    K = _load(level)
    return K


def _initial():
    avail = available_levels()
    if not avail:
        raise ImportError("cyloss: no compiled kernel module could be imported")
    want = os.environ.get("CYLOSS_SIMD", "").strip().lower()
    if want:
        if want not in LEVELS:
            raise ImportError(f"CYLOSS_SIMD={want!r}: expected one of {LEVELS}")
        if want not in avail:
            raise ImportError(f"CYLOSS_SIMD={want!r} is not available on this machine "
                              f"(available: {avail})")
        return _load(want)
    return _load(avail[-1])


K = _initial()


def level():
    """The SIMD level the kernels run at."""
    return K.level
