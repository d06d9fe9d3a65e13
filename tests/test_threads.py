"""Thread control and determinism: set_num_threads / get_num_threads, the
CYLOSS_NUM_THREADS and OMP_NUM_THREADS variables (in a fresh interpreter),
threadpoolctl limits, and bit-identical results for every thread count on
inputs big enough to run in parallel."""
import os
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import cyloss
from cyloss import _kernels, _runtime, _threads, nn

from _cases import assert_same_bits


@pytest.mark.parametrize("bad", [0, -1, -(2 ** 40)])
def test_set_num_threads_rejects_non_positive_counts(bad):
    before = cyloss.get_num_threads()
    with pytest.raises(ValueError, match=f"positive int, got {bad}"):
        cyloss.set_num_threads(bad)
    assert cyloss.get_num_threads() == before


@pytest.mark.parametrize("bad", [1.5, 2.0, "2", True, np.float64(2)])
def test_set_num_threads_rejects_non_ints(bad):
    before = cyloss.get_num_threads()
    with pytest.raises((TypeError, ValueError), match="positive int"):
        cyloss.set_num_threads(bad)
    assert cyloss.get_num_threads() == before


def test_set_num_threads_round_trip():
    default = cyloss.get_num_threads()
    cyloss.set_num_threads(3)
    assert cyloss.get_num_threads() == 3
    cyloss.set_num_threads(1)
    assert cyloss.get_num_threads() == 1
    cyloss.set_num_threads(2)
    assert cyloss.get_num_threads() == 2
    cyloss.set_num_threads(None)
    assert cyloss.get_num_threads() == default


def test_small_inputs_run_on_one_thread():
    cyloss.set_num_threads(3)
    assert _threads.for_work(_threads.SERIAL_BELOW - 1) == 1
    assert _threads.for_work(_threads.SERIAL_BELOW) == 3


def test_threadpool_limits_caps_the_count():
    cyloss.set_num_threads(3)
    with threadpool_limits(limits=1):
        assert cyloss.get_num_threads() == 1
        assert _threads.for_work(10 ** 6) == 1
    assert cyloss.get_num_threads() == 3
    with threadpool_limits(limits=1, user_api="openmp"):
        assert cyloss.get_num_threads() == 1


def test_threadpool_limits_also_caps_an_explicit_setting():
    # API.md: threadpoolctl limits the OpenMP runtime, so under
    # threadpool_limits(n) cyloss uses at most n threads, also after an explicit
    # set_num_threads. (A limit equal to the runtime's start-up maximum cannot be
    # told apart from no limit; README "Threads" documents that an explicit
    # cyloss setting wins then.)
    n0 = _runtime.omp_max_threads()
    cyloss.set_num_threads(n0 + 1)
    with threadpool_limits(limits=1):
        assert cyloss.get_num_threads() == 1
    assert cyloss.get_num_threads() == n0 + 1


def _fresh(code, **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("CYLOSS_NUM_THREADS", "OMP_NUM_THREADS", "CYLOSS_SIMD")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                         text=True, timeout=120)
    return out


@pytest.mark.parametrize("env, want", [
    ({"CYLOSS_NUM_THREADS": "3"}, 3),
    ({"CYLOSS_NUM_THREADS": "1"}, 1),
    ({"CYLOSS_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, 3),   # CYLOSS_ first
    ({"OMP_NUM_THREADS": "1"}, 1),
    ({"OMP_NUM_THREADS": "3,2"}, 3),                              # nested list: first
])
def test_environment_sets_the_default(env, want):
    out = _fresh("import cyloss; print(cyloss.get_num_threads())", **env)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == want


def test_set_num_threads_beats_the_environment():
    out = _fresh("import cyloss; cyloss.set_num_threads(1); a = cyloss.get_num_threads(); "
                 "cyloss.set_num_threads(None); print(a, cyloss.get_num_threads())",
                 CYLOSS_NUM_THREADS="3")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "3"]


@pytest.mark.parametrize("value", ["0", "-2", "four"])
def test_bad_environment_value_is_an_error(value):
    out = _fresh("import cyloss\n"
                 "try:\n    cyloss.get_num_threads()\n"
                 "except ValueError as e:\n    print('ValueError', e)\n",
                 CYLOSS_NUM_THREADS=value)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ValueError") and "CYLOSS_NUM_THREADS" in out.stdout


def test_threadpool_limits_with_omp_num_threads_set():
    # same rule as above when OMP_NUM_THREADS sets the runtime's start-up value
    out = _fresh("import cyloss\nfrom threadpoolctl import threadpool_limits\n"
                 "cyloss.set_num_threads(3)\n"
                 "with threadpool_limits(limits=1):\n    print(cyloss.get_num_threads())\n",
                 OMP_NUM_THREADS="2")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == 1


def test_cyloss_simd_selects_the_level():
    out = _fresh("import cyloss; print(cyloss.simd_level())", CYLOSS_SIMD="base")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "base"
    out = _fresh("import cyloss", CYLOSS_SIMD="sse9")
    assert out.returncode != 0 and "CYLOSS_SIMD" in out.stderr


# ----------------------------------------------- big inputs, real threading --

def _big_cases(dtype, rng):
    n, c = 4500, 40              # 180000 elements, and 36000 with C = 8: > SERIAL_BELOW
    x = (rng.normal(size=(n, c)) * 3).astype(dtype)
    y = rng.dirichlet(np.ones(c), size=n).astype(dtype)
    lab = rng.integers(0, c, size=n)
    xs = (rng.normal(size=(n, 8)) * 3).astype(dtype)      # C = 8: block path
    labs = rng.integers(0, 8, size=n)
    x1 = x.reshape(-1)
    z1 = rng.uniform(0, 1, size=x1.size).astype(dtype)
    pw = rng.uniform(0.5, 3, size=c).astype(dtype)
    return [
        (nn.softmax, (x,)), (nn.log_softmax, (xs,)), (nn.softmax, (xs,)),
        (nn.softmax_cross_entropy_with_logits, (y, x)),
        (nn.sparse_softmax_cross_entropy_with_logits, (lab, x)),
        (nn.sparse_softmax_cross_entropy_with_logits, (labs, xs)),
        (nn.sigmoid_cross_entropy_with_logits, (z1, x1)),
        (nn.weighted_cross_entropy_with_logits, (y, x, pw)),
        (nn.log_poisson_loss, (z1 * 4, x1 / 4, True)),
        (nn.l2_loss, (x,)),
    ]


def _all(cases, dy_rng):
    out = []
    for fn, args in cases:
        value, bwd = cyloss.vjp(fn, *args)
        dy = dy_rng.normal(size=value.shape).astype(value.dtype)
        out.append((fn.__name__, value, bwd(dy)))
    return out


def test_bits_do_not_depend_on_thread_count(dtype, rng):
    cases = _big_cases(dtype, rng)
    cyloss.set_num_threads(1)
    ref = _all(cases, np.random.default_rng(0))
    for n in (2, 3, 4):
        cyloss.set_num_threads(n)
        # every input is big enough to be split over n threads
        assert all(_threads.for_work(max(np.size(a) for a in args if np.ndim(a) > 0
                                         and np.asarray(a).dtype == dtype)) == n
                   for fn, args in cases)
        got = _all(cases, np.random.default_rng(0))
        for (name, v0, g0), (_, v, g) in zip(ref, got):
            assert_same_bits(v, v0, f"{name} value, {n} threads")
            for k in g0:
                assert_same_bits(g[k], g0[k], f"{name} d{k}, {n} threads")


def test_bits_do_not_depend_on_threads_or_level_together(rng):
    cases = _big_cases(np.float32, rng)
    start = _kernels.level()
    _kernels.use("base")
    cyloss.set_num_threads(1)
    ref = _all(cases, np.random.default_rng(1))
    for level in _kernels.available_levels():
        _kernels.use(level)
        cyloss.set_num_threads(2)
        got = _all(cases, np.random.default_rng(1))
        for (name, v0, g0), (_, v, g) in zip(ref, got):
            assert_same_bits(v, v0, f"{name} value at {level}")
            for k in g0:
                assert_same_bits(g[k], g0[k], f"{name} d{k} at {level}")
    _kernels.use(start)


def test_calls_from_python_threads_agree(rng):
    # the kernels release the GIL; concurrent calls must not disturb each other
    from concurrent.futures import ThreadPoolExecutor
    x = (rng.normal(size=(800, 50)) * 3).astype(np.float64)
    lab = rng.integers(0, 50, size=800)
    want = nn.sparse_softmax_cross_entropy_with_logits(lab, x)
    cyloss.set_num_threads(2)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: nn.sparse_softmax_cross_entropy_with_logits(lab, x),
                                range(16)))
    for r in results:
        assert_same_bits(r, want, "threaded call")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streamed_gradient_has_the_plain_bits(dtype, rng, monkeypatch):
    # Large sparse cross-entropy gradients are written with streaming stores
    # (nn.STREAM_BYTES); forced here on small inputs, with odd class counts so
    # that rows start misaligned, and compared with the plain stores' bits.
    vag = cyloss.value_and_grad(nn.sparse_softmax_cross_entropy_with_logits)
    start = _kernels.level()
    for n, c in ((300, 4099), (64, 1000), (7, 16), (3, 50021)):
        x = (rng.normal(size=(n, c)) * 4).astype(dtype)
        x[1, 5] = np.nan
        x[2, :7] = np.inf
        lab = rng.integers(0, c, size=n)
        monkeypatch.setattr(nn, "STREAM_BYTES", 1 << 62)
        _kernels.use("base")
        cyloss.set_num_threads(1)
        v0, g0 = vag(lab, x)
        monkeypatch.setattr(nn, "STREAM_BYTES", 0)
        assert nn._stream_scratch(x, g0, 2) is not None
        for level in _kernels.available_levels():
            _kernels.use(level)
            for threads in (1, 2, 3):
                cyloss.set_num_threads(threads)
                v, g = vag(lab, x)
                assert_same_bits(v, v0, f"value [{n},{c}] {level} {threads} threads")
                assert_same_bits(g, g0, f"gradient [{n},{c}] {level} {threads} threads")
    _kernels.use(start)
