"""Every public cyloss function against TensorFlow.

    pytest conformance/                       # quick: the cases of `cyloss conformance --quick`
    CYLOSS_CONFORMANCE=full pytest conformance/
    CYLOSS_SEED=123 pytest conformance/       # another reproducible draw

* completeness: each name in the __all__ of each public namespace has a
  registry entry (or a reason in NOT_CHECKED); each entry is public.
* signatures: TF's argument names, order and defaults are a prefix of cyloss'.
* fixed cases (examples, error parity, divergences) at every SIMD level this
  machine runs (only $CYLOSS_SIMD's when it is set).
* random cases: the entry's hypothesis strategy, derandomized from the seed;
  every case is checked, all failures are reported with reproducers. Each
  case also runs at every other SIMD level (unless $CYLOSS_SIMD pins one) and
  must give the same bits there (engine.other_levels).
"""
import importlib
import inspect
import os
import types

import numpy as np
import pytest

import cyloss
from cyloss import _kernels
from cyloss.conformance import engine, registry, report

ENTRIES = list(registry.REGISTRY.values())
FIXED = [(e, c) for e in ENTRIES for c in e.fixed_cases()]
LEVELS = ([_kernels.level()] if os.environ.get("CYLOSS_SIMD", "").strip()
          else _kernels.available_levels())
MAX_SHOWN = 5


def _key(e):
    return e.key


# ----------------------------------------------------------- completeness --

def public_namespaces():
    """{module name: registry prefix}: NAMESPACES plus every module reachable
    through cyloss.__all__ (recursively through the modules' own __all__)."""
    found = dict(registry.NAMESPACES)
    todo = [cyloss]
    while todo:
        mod = todo.pop()
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name, None)
            if isinstance(obj, types.ModuleType) and obj.__name__.startswith("cyloss."):
                if obj.__name__ not in found:
                    found[obj.__name__] = obj.__name__[len("cyloss."):]
                todo.append(obj)
    return found


def public_names():
    names = {}
    for modname, prefix in public_namespaces().items():
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            if not isinstance(getattr(mod, name, None), types.ModuleType):
                names[f"{prefix}.{name}"] = getattr(mod, name, None)
    return names


def test_every_public_function_has_an_entry():
    missing = sorted(k for k in public_names()
                     if k not in registry.REGISTRY and k not in registry.NOT_CHECKED)
    assert not missing, (
        f"public names without a conformance entry: {missing}. Add an Entry to "
        f"conformance/registry.py (or a reason to NOT_CHECKED).")


def test_every_entry_is_public():
    public = public_names()
    stale = sorted(k for k in registry.REGISTRY if k not in public)
    assert not stale, f"registry entries that are not public names: {stale}"
    for k, e in registry.REGISTRY.items():
        assert e.fn is public[k], f"{k}: the entry does not test the public object"


@pytest.mark.parametrize("entry", ENTRIES, ids=_key)
def test_entry_is_complete(entry):
    """Tolerances with reasons for the value and every differentiated input;
    each divergence has a reason and a fixed case that exercises it."""
    for out in ("value",) + tuple(entry.wrt):
        assert out in entry.tol, f"{entry.key}: no tolerance for {out!r}"
        assert entry.tol[out].reason, f"{entry.key}: tolerance for {out!r} has no reason"
    assert set(entry.wrt) <= set(inspect.signature(entry.fn).parameters)
    for key, div in entry.divergences.items():
        assert div.reason
        assert any(c.divergence == key for c in entry.examples), \
            f"{entry.key}: divergence {key!r} has no fixed case re-confirming it"
    assert any(c.expect for c in entry.errors) or not entry.errors


@pytest.mark.parametrize("entry", ENTRIES, ids=_key)
def test_signature_matches_tensorflow(entry, tf_oracle):
    """Every call written for TF works unchanged: TF's parameter names open
    cyloss' in the same order, and TF's defaults are cyloss' defaults (cyloss
    may give a default where TF has none, e.g. to accept a v1 alias)."""
    tf_params = list(inspect.signature(entry.tf_fn(tf_oracle)).parameters.values())
    cy_params = list(inspect.signature(entry.fn).parameters.values())
    assert [p.name for p in cy_params[:len(tf_params)]] == [p.name for p in tf_params], (
        f"{entry.key}: TF's parameters {[p.name for p in tf_params]} must open cyloss' "
        f"{[p.name for p in cy_params]}")
    for t, c in zip(tf_params, cy_params):
        if t.default is not inspect.Parameter.empty:
            assert c.default == t.default, (f"{entry.key}: default of {t.name!r} is "
                                            f"{c.default!r}, TF's is {t.default!r}")


# ------------------------------------------------------------ fixed cases --

@pytest.fixture(params=LEVELS)
def simd(request):
    before = _kernels.level()
    _kernels.use(request.param)
    yield request.param
    _kernels.use(before)


@pytest.mark.parametrize("entry,case", FIXED,
                         ids=[f"{e.key}:{c.label}" for e, c in FIXED])
def test_fixed_case(entry, case, simd, tf_oracle):
    r = engine.run_case(entry, case)
    assert r.ok, "\n" + report.reproducer(r)


# ----------------------------------------------------------- random cases --

@pytest.mark.parametrize("entry", ENTRIES, ids=_key)
def test_random_cases(entry, conformance_mode, conformance_seed, tf_oracle):
    stats = engine.EntryStats(entry.key, keep=MAX_SHOWN)
    engine.run_random(entry, conformance_mode, conformance_seed, stats.add)
    worst, out = stats.worst_units
    if stats.failed:
        texts = [report.reproducer(r, suite_seed=conformance_seed) for r in stats.failures]
        pytest.fail(f"{entry.key}: {stats.failed} of {stats.cases} random cases disagree with "
                    f"TensorFlow (seed {conformance_seed}, mode {conformance_mode.name}); "
                    f"first {len(texts)}:\n\n" + "\n\n".join(texts), pytrace=False)
    assert stats.cases > 0
    assert np.isfinite(worst)
