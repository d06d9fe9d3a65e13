"""Fixtures for cyloss' unit tests (no TensorFlow needed).

* `seed` / `rng`: one global seed, CYLOSS_TEST_SEED=<int> to override, shown
  in the report header so a failing run can be replayed. Each test's `rng`
  mixes the seed with the test's name, so tests draw independent streams.
* `dtype`: float32 and float64.
* `n_threads`: 1, 2, 3 kernel threads, with the serial cut-off removed so that
  even small test inputs go through the parallel loops.
* `simd_level`: every SIMD level this machine can run.
Every test ends with the thread setting and the SIMD level restored.
"""
import zlib

import numpy as np
import pytest
from hypothesis import settings

import cyloss
from cyloss import _kernels, _runtime, _threads

from _cases import SEED

LEVELS = _kernels.available_levels()
_START_LEVEL = _kernels.level()

# Hypothesis: reproducible from SEED (its tests carry @hypothesis.seed(SEED)),
# no example database written into the repository, no per-example deadline
# (the machine is shared; timing is not what these tests check).
settings.register_profile("cyloss", deadline=None, database=None, print_blob=True,
                          max_examples=60)
settings.load_profile("cyloss")


def pytest_report_header(config):
    return [
        f"cyloss {cyloss.__version__}: seed {SEED} (CYLOSS_TEST_SEED to change), "
        f"SIMD level {_START_LEVEL} (testing {', '.join(LEVELS)}), "
        f"{cyloss.get_num_threads()} threads (OpenMP max {_runtime.omp_max_threads()}, "
        f"serial below {_threads.SERIAL_BELOW} elements), numpy {np.__version__}",
    ]


@pytest.fixture(autouse=True)
def _restore_runtime():
    """No test leaks a thread count or SIMD level into the next one."""
    explicit = _threads._explicit
    level = _kernels.level()
    yield
    cyloss.set_num_threads(explicit)
    if _kernels.level() != level:
        _kernels.use(level)


@pytest.fixture
def seed():
    return SEED


@pytest.fixture
def rng(seed, request):
    return np.random.default_rng([seed, zlib.crc32(request.node.name.encode())])


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture(params=[1, 2, 3], ids=lambda n: f"{n}thr")
def n_threads(request, monkeypatch):
    monkeypatch.setattr(_threads, "SERIAL_BELOW", 0)
    cyloss.set_num_threads(request.param)
    assert cyloss.get_num_threads() == request.param
    return request.param


@pytest.fixture(params=LEVELS)
def simd_level(request):
    _kernels.use(request.param)
    assert cyloss.simd_level() == request.param
    return request.param
