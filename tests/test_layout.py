"""The layout matrix: dtype x memory layout x thread count x SIMD level.

Every combination must give the bits of the C-contiguous, one-thread,
base-level call (values and gradients), and must leave every input -- its
values, flags, strides, and the array it is a view of -- as it was.
"""
import numpy as np
import pytest

import cyloss
from cyloss import _kernels, _threads, nn

from _cases import CORE_SPECS, LAYOUTS, SPECS, assert_same_bits, assert_unchanged, \
    snapshot, with_layout

MATRIX_SPECS = CORE_SPECS + [s for s in SPECS if s.name in (
    "softmax[axis=1]", "log_softmax[axis=0]", "softmax_xent[axis=0]",
    "softmax_xent[labels 1xC]",
    "sparse_xent[C=20,rank3]", "weighted_xent[pw full]", "log_poisson")]


def _run(spec, args, kw, dy):
    value, bwd = spec.vjp(args, kw)
    plain = spec.call(args, kw)
    return plain, value, bwd(dy), bwd(dy)


def _reference(spec, args, kw, dy):
    """C-contiguous inputs, one thread, base SIMD level."""
    level = _kernels.level()
    saved = _threads._explicit
    try:
        _kernels.use("base")
        cyloss.set_num_threads(1)
        return _run(spec, {n: np.ascontiguousarray(a) for n, a in args.items()}, kw, dy)
    finally:
        cyloss.set_num_threads(saved)
        _kernels.use(level)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("spec", MATRIX_SPECS, ids=str)
def test_layout_threads_simd_matrix(spec, dtype, layout, n_threads, simd_level, rng):
    arrays, kw = spec.make(rng)
    base = spec.cast(arrays, dtype)
    value0 = spec.call(base, kw)
    dy = rng.normal(size=np.shape(value0)).astype(dtype)
    want_plain, want_value, want_g, _ = _reference(spec, base, kw, dy)

    args = {n: with_layout(a, layout) for n, a in base.items()}
    snaps = {n: snapshot(a) for n, a in args.items()}
    dy_snap = snapshot(dy)
    plain, value, g1, g2 = _run(spec, args, kw, dy)

    tag = f"{spec} {np.dtype(dtype).name} {layout} {n_threads} threads {simd_level}"
    assert_same_bits(plain, want_plain, f"{tag}: value")
    assert_same_bits(value, want_value, f"{tag}: vjp value")
    assert sorted(g1) == sorted(want_g)
    for name in want_g:
        assert_same_bits(g1[name], want_g[name], f"{tag}: d{name}")
        assert_same_bits(g2[name], want_g[name], f"{tag}: d{name}, second backward")
    for name, snap in snaps.items():
        assert_unchanged(snap, f"{tag}: input {name}")
    assert_unchanged(dy_snap, f"{tag}: dy")


@pytest.mark.parametrize("shape, axis", [
    ((3, 5, 1), 1), ((2, 7, 15), 1), ((2, 4, 16), 1), ((3, 20, 17), 1), ((40, 6), 0),
    ((5, 3, 4, 9), 1), ((2, 1, 33), 1)], ids=str)
def test_non_last_class_axis_in_tiles(shape, axis, dtype, n_threads, simd_level, rng):
    # a class axis that is not last is processed in tiles of columns, split
    # over threads; every tile and thread count gives the bits of the same
    # rows moved last and run on one thread at the base level
    x = (rng.normal(size=shape) * 3).astype(dtype)
    y = rng.uniform(0, 1, size=shape).astype(dtype)
    dy_full = rng.normal(size=shape).astype(dtype)
    dy_loss = rng.normal(size=shape[:axis] + shape[axis + 1:]).astype(dtype)
    mx, my = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    cases = [(nn.softmax, (x,), {"axis": axis}, (mx,), dy_full),
             (nn.log_softmax, (x,), {"axis": axis}, (mx,), dy_full),
             (nn.softmax_cross_entropy_with_logits, (y, x), {"axis": axis}, (my, mx), dy_loss)]
    for fn, args, kw, margs, dy in cases:
        want_v, bwd = _reference_call(fn, margs, {},
                                      np.moveaxis(dy, axis, -1) if dy is dy_full else dy)
        value, b = cyloss.vjp(fn, *args, **kw)
        got = b(dy)
        back = (lambda a: np.moveaxis(a, -1, axis)) if dy is dy_full else (lambda a: a)
        assert_same_bits(value, back(want_v), f"{fn.__name__} {shape} axis {axis}")
        for name, g in bwd.items():
            assert_same_bits(got[name], np.moveaxis(g, -1, axis),
                             f"{fn.__name__} d{name} {shape} axis {axis}")


def _reference_call(fn, args, kw, dy):
    level = _kernels.level()
    saved = _threads._explicit
    try:
        _kernels.use("base")
        cyloss.set_num_threads(1)
        value, bwd = cyloss.vjp(fn, *[np.ascontiguousarray(a) for a in args], **kw)
        return value, bwd(dy)
    finally:
        cyloss.set_num_threads(saved)
        _kernels.use(level)


def test_non_native_byte_order(rng):
    # API.md: inputs are anything np.asarray takes; a byte-swapped float64 array
    # (from a .npy written on another machine, FITS, ...) is still float64 data.
    # One test over every function, listing all that fail.
    failures = []
    for dtype in (np.float32, np.float64):
        for spec in CORE_SPECS:
            arrays, kw = spec.make(rng)
            args = spec.cast(arrays, dtype)
            want = spec.call(args, kw)
            swapped = {n: a.astype(a.dtype.newbyteorder()) for n, a in args.items()}
            assert all(np.array_equal(swapped[n], args[n]) for n in args)
            try:
                got = spec.call(swapped, kw)
            except Exception as e:                     # noqa: BLE001 - reported below
                failures.append(f"{spec} {np.dtype(dtype).name}: {type(e).__name__}: {e}")
                continue
            if got.dtype.type != want.dtype.type or not np.array_equal(got, want):
                failures.append(f"{spec} {np.dtype(dtype).name}: different result")
    assert not failures, "byte-swapped inputs:\n" + "\n".join(failures)


def test_layouts_are_what_they_claim():
    a = np.arange(12.0).reshape(3, 4)
    s = with_layout(a, "strided")
    assert not s.flags.c_contiguous and not s.flags.f_contiguous and s.base is not None
    n = with_layout(a, "negative")
    assert all(st < 0 for st in n.strides)
    assert with_layout(a, "fortran").flags.f_contiguous
    assert not with_layout(a, "fortran").flags.c_contiguous
    assert not with_layout(a, "readonly").flags.writeable


PAIR_SPECS = [s for s in CORE_SPECS if s.name in (
    "softmax_xent", "sigmoid_xent", "weighted_xent[pw C]", "log_poisson[full]")]


@pytest.mark.parametrize("spec", PAIR_SPECS, ids=str)
def test_inputs_sharing_one_read_only_buffer(spec, dtype, rng):
    # labels and logits are the same read-only array: still nothing is written
    arrays, kw = spec.make(rng)
    args = spec.cast(arrays, dtype)
    first, second = list(args)[:2]
    buf = args[second].copy()
    buf.flags.writeable = False
    shared = {**args, first: buf, second: buf}
    snap = snapshot(buf)
    want = spec.call({**args, first: buf.copy(), second: buf.copy()}, kw)
    value, bwd = spec.vjp(shared, kw)
    bwd(np.ones_like(value))
    bwd(np.ones_like(value))
    assert_same_bits(value, want, f"{spec}: value")
    assert_unchanged(snap, f"{spec}: shared input")
