"""pytest configuration for the conformance suite.

* `conformance_seed`: the suite seed, 0 unless CYLOSS_SEED is set; shown in the
  report header with the mode, the SIMD level and the TensorFlow version.
* `conformance_mode`: "quick" (the size of `cyloss conformance --quick`) unless
  CYLOSS_CONFORMANCE=full.
* `tf_oracle`: TensorFlow; if it cannot be imported every oracle test FAILS
  with the reason (it is never skipped: a green run must mean "checked").
"""
import os

import pytest

from cyloss.conformance import oracle     # sets TF_ENABLE_ONEDNN_OPTS=0 before TF loads

import cyloss
from cyloss.conformance import engine

SEED = int(os.environ.get("CYLOSS_SEED", "0"))
MODE = os.environ.get("CYLOSS_CONFORMANCE", "quick").strip().lower() or "quick"


def _summary():
    return (f"cyloss conformance: seed {SEED} (CYLOSS_SEED), mode {MODE} "
            f"(CYLOSS_CONFORMANCE=quick|full), SIMD level {cyloss.simd_level()} "
            f"(CYLOSS_SIMD={os.environ.get('CYLOSS_SIMD', '') or 'unset'})")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The seed again at the end (pytest -q hides the header)."""
    terminalreporter.write_line(_summary())


def pytest_report_header(config):
    lines = [f"{_summary()}, {cyloss.get_num_threads()} threads"]
    try:
        tf = oracle.tf()
        lines.append(f"oracle: tensorflow {tf.__version__}, TF_ENABLE_ONEDNN_OPTS="
                     f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, op determinism off")
        if oracle.version_warning():
            lines.append("WARNING: " + oracle.version_warning())
    except oracle.OracleUnavailable as e:
        lines.append("oracle: NOT AVAILABLE, every conformance test will fail: "
                     + str(e).splitlines()[0])
    return lines


@pytest.fixture(scope="session")
def conformance_seed():
    return SEED


@pytest.fixture(scope="session")
def conformance_mode():
    return engine.mode_of(MODE)


@pytest.fixture(scope="session")
def tf_oracle():
    try:
        return oracle.tf()
    except oracle.OracleUnavailable as e:
        reason = str(e)
    pytest.fail(f"TensorFlow is required for the conformance suite and is not usable:\n"
                f"{reason}", pytrace=False)
