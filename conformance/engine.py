"""Running cases: one Case against TensorFlow, and a whole Entry through
hypothesis (derandomized from the suite seed).

A value case runs TF's function under tf.GradientTape (output_gradients = a
random dy drawn from the case seed) and cyloss' plain call and vjp with the
same dy, then compares value, every gradient, dtypes and shapes; it also
checks that cyloss left its inputs untouched and that fn() and vjp() return
the same bits. An error case checks that TF raises what the registry says
(else the registry is stale) and that cyloss raises the documented class.
"""
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

import cyloss
from cyloss import _kernels

from . import oracle
from .compare import compare, extra, missing
from .samples import MODES, apply_layout


@dataclass
class CaseResult:
    case: object
    ok: bool
    comparisons: list = field(default_factory=list)
    problems: list = field(default_factory=list)    # failures that are not comparisons
    seconds: float = 0.0
    dy: object = None

    @property
    def worst(self):
        """(units, output) of the worst finite comparison."""
        best = (0.0, "")
        for c in self.comparisons:
            if np.isfinite(c.units) and c.units >= best[0]:
                best = (c.units, c.output)
        return best

    def first_failure(self):
        for c in self.comparisons:
            if not c.ok:
                return c
        return None


def _seed_for(suite_seed, key):
    """Per-entry hypothesis seed: entries do not perturb each other."""
    return (int(suite_seed) * 1_000_003 + zlib.crc32(key.encode())) % (2**63)


def dy_for(case, value):
    rng = np.random.default_rng([case.seed, 1])
    return np.asarray(rng.standard_normal(np.shape(value)), dtype=np.asarray(value).dtype)


def _snapshot(v):
    if isinstance(v, np.ndarray):
        return (v.shape, v.dtype.str, np.ascontiguousarray(v).tobytes())
    return None


def _bits_equal(a, b):
    """Identical bits, except that any NaN equals any NaN (sign and payload of
    a NaN carry no meaning)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        na, nb = np.isnan(a), np.isnan(b)
        if not np.array_equal(na, nb):
            return False
        a, b = np.where(na, 0, a), np.where(nb, 0, b)
    return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def _exc(e):
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg[:300]}"


# ------------------------------------------------------------- the oracle --

def _tf_args(entry, case, tf):
    targs = {}
    for name, v in case.args.items():
        spec = entry.convert.get(name)
        if spec is not None and not isinstance(spec, str):     # registry.Weak
            weak = isinstance(v, float) or (isinstance(v, np.generic) and v.dtype.kind == "f")
            spec = spec.like if weak else None
        if spec is not None:
            like = np.asarray(case.args[spec]).dtype
            targs[name] = tf.constant(np.asarray(v), dtype=like)
        else:
            targs[name] = tf.constant(np.asarray(v))
    return targs


def _grad(tf, entry, case, targs, names, call):
    """value and {name: gradient} of call(tf, targs, options) under a tape."""
    with tf.GradientTape() as tape:
        for n in names:
            tape.watch(targs[n])
        out = call(tf, targs, case.options)
    value = out.numpy()
    dy = dy_for(case, value)
    grads = {}
    if names:
        gs = tape.gradient(out, [targs[n] for n in names], output_gradients=tf.constant(dy))
        grads = {n: g.numpy() for n, g in zip(names, gs) if g is not None}
    return value, dy, grads


def tf_reference(entry, case):
    """TF's value, dy and gradients (a divergence's gradients come from its
    substitute, after checking that TF still diverges). Returns
    (value, dy, grads, problems)."""
    tf = oracle.tf()
    targs = _tf_args(entry, case, tf)
    floating = [n for n in entry.wrt if n in targs and targs[n].dtype.is_floating]
    div = entry.divergences.get(case.divergence) if case.divergence else None
    direct = [n for n in floating if not div or n not in div.outputs]
    value, dy, grads = _grad(tf, entry, case, targs, direct, entry.call_tf)
    problems = []
    if div:
        aside = [n for n in floating if n in div.outputs]
        if aside:
            try:
                _grad(tf, entry, case, targs, aside, entry.call_tf)
                problems.append(f"divergence '{case.divergence}' is stale: TF's gradient "
                                f"for {aside} no longer raises {div.tf_raises}")
            except oracle.error_class(div.tf_raises):
                pass
            sub = {k: tf.identity(v) for k, v in targs.items()}
            sval, _, sgrads = _grad(tf, entry, case, sub, aside, div.substitute)
            grads.update(sgrads)
    return value, dy, grads, problems


# --------------------------------------------------------------- one case --

def run_case(entry, case):
    t0 = time.perf_counter()
    if entry.check is not None:
        res = entry.check(entry, case)
    else:
        res = _run_error_case(entry, case) if case.expect else _run_value_case(entry, case)
    res.seconds = time.perf_counter() - t0
    return res


def _run_value_case(entry, case):
    res = CaseResult(case, ok=True)
    try:
        ref, dy, ref_grads, problems = tf_reference(entry, case)
    except oracle.OracleUnavailable:
        raise
    except Exception as e:      # the harness expected TF to accept this case
        res.ok = False
        res.problems.append(f"TensorFlow raised on a case the registry thinks valid: {_exc(e)}")
        return res
    res.dy = dy
    res.problems.extend(problems)
    cy_args = {k: apply_layout(v, case.layout) for k, v in case.args.items()}
    before = {k: _snapshot(v) for k, v in cy_args.items()}
    try:
        with np.errstate(all="ignore"):     # NumPy warnings on inf/NaN inputs are not parity
            plain = entry.fn(**cy_args, **case.options)
            value, backward = cyloss.vjp(entry.fn, **cy_args, **case.options)
            grads = backward(dy)
    except Exception as e:
        res.ok = False
        res.problems.append(f"cyloss raised {_exc(e)}")
        _finish(res)
        return res
    for k, snap in before.items():
        if snap is not None and _snapshot(cy_args[k]) != snap:
            res.problems.append(f"cyloss modified its input {k!r}")
    if not _bits_equal(plain, value):
        res.problems.append("fn() and vjp() return different values")
    res.problems.extend(_other_levels_agree(entry, case, cy_args, dy, value, grads))
    ref64 = {"value": np.asarray(ref, np.float64)}
    ref64.update({k: np.asarray(v, np.float64) for k, v in ref_grads.items()})
    try:
        with np.errstate(all="ignore"):
            scales = entry.scale(case, ref64, np.asarray(dy, np.float64))
    except Exception as e:      # pragma: no cover - a harness bug
        res.problems.append(f"harness: scale function failed: {_exc(e)}")
        scales = {}
    outputs = [("value", np.asarray(plain), np.asarray(ref))]
    outputs += [(k, grads.get(k), v) for k, v in ref_grads.items()]
    nar = entry.narrowing if entry.narrowing and entry.narrowing.applies(case) else None
    ovf = bool(nar and nar.overflows and nar.overflows(case))
    for name, got, exp in outputs:
        if got is None:
            res.comparisons.append(missing(name, "TF returns a gradient, cyloss does not"))
            continue
        tol = entry.tol[name].k
        sc = scales.get(name, np.abs(np.asarray(exp, np.float64)))
        if nar and name in nar.outputs:     # TF computes this output in nar.to
            res.comparisons.append(compare(
                name, got, exp, sc, tol, dtype=nar.to,
                widened=case.dtype if name == "value" else None, overflow=ovf))
        else:
            res.comparisons.append(compare(name, got, exp, sc, tol, dtype=case.dtype))
    for k in grads:
        if k not in ref_grads:
            res.comparisons.append(extra(k, "cyloss returns a gradient TF does not "
                                            "(TF: None / not differentiable)"))
    _finish(res)
    return res


def other_levels():
    """SIMD levels each case is also run at: every other level this machine
    runs, unless CYLOSS_SIMD pins one. Every level must give the same bits as
    the current one (the build disables FMA contraction), so one comparison
    with TF covers them all."""
    import os
    if os.environ.get("CYLOSS_SIMD", "").strip():
        return []
    return [lv for lv in _kernels.available_levels() if lv != _kernels.level()]


def _other_levels_agree(entry, case, cy_args, dy, value, grads):
    problems = []
    here = _kernels.level()
    for lv in other_levels():
        _kernels.use(lv)
        try:
            with np.errstate(all="ignore"):
                v2, b2 = cyloss.vjp(entry.fn, **cy_args, **case.options)
                g2 = b2(dy)
        except Exception as e:
            problems.append(f"SIMD level {lv} raised {_exc(e)} (level {here} did not)")
            continue
        finally:
            _kernels.use(here)
        if not _bits_equal(v2, value):
            problems.append(f"SIMD level {lv}: value differs in bits from level {here}")
        for k in grads:
            if not _bits_equal(g2.get(k), grads[k]):
                problems.append(f"SIMD level {lv}: gradient {k!r} differs in bits from level {here}")
    return problems


def _finish(res):
    res.ok = not res.problems and all(c.ok for c in res.comparisons)


def _cyloss_error_class(name):
    import builtins
    return getattr(cyloss, name, None) or getattr(builtins, name)


def _run_error_case(entry, case):
    res = CaseResult(case, ok=True)
    exp = case.expect
    tf = oracle.tf()
    tf_classes = tuple(oracle.error_class(n) for n in exp.tf)
    try:
        entry.call_tf(tf, dict(case.args), case.options)
        res.problems.append(f"registry is stale: TF no longer raises {'/'.join(exp.tf)}")
    except tf_classes:
        pass
    except Exception as e:
        res.problems.append(f"registry is stale: TF raised {_exc(e)}, expected "
                            f"{'/'.join(exp.tf)}")
    want = _cyloss_error_class(exp.cyloss)
    cy_args = {k: apply_layout(v, case.layout) for k, v in case.args.items()}
    for how, call in (("fn()", lambda: entry.fn(**cy_args, **case.options)),
                      ("vjp()", lambda: cyloss.vjp(entry.fn, **cy_args, **case.options))):
        try:
            call()
            res.problems.append(f"cyloss {how} did not raise (expected {exp.cyloss})")
        except want as e:
            missing_bits = [m for m in exp.mention if m not in str(e)]
            if missing_bits:
                res.problems.append(f"cyloss {how} raised {exp.cyloss} but its message does "
                                    f"not name {missing_bits}: {_exc(e)}")
        except Exception as e:
            res.problems.append(f"cyloss {how} raised {_exc(e)}, expected {exp.cyloss}")
    _finish(res)
    return res


# ------------------------------------------------------------ whole entry --

@dataclass
class EntryStats:
    key: str
    cases: int = 0
    error_cases: int = 0
    divergent: dict = field(default_factory=dict)     # divergence key -> count
    failed: int = 0
    worst: dict = field(default_factory=dict)         # output -> worst finite units
    seconds: float = 0.0
    failures: list = field(default_factory=list)      # CaseResult (first `keep`)
    keep: int = 25

    def add(self, r):
        self.cases += 1
        self.seconds += r.seconds
        if r.case.expect:
            self.error_cases += 1
        if r.case.divergence:
            self.divergent[r.case.divergence] = self.divergent.get(r.case.divergence, 0) + 1
        for c in r.comparisons:
            if np.isfinite(c.units):
                self.worst[c.output] = max(self.worst.get(c.output, 0.0), c.units)
        if not r.ok:
            self.failed += 1
            if len(self.failures) < self.keep:
                self.failures.append(r)

    @property
    def worst_units(self):
        if not self.worst:
            return 0.0, ""
        out = max(self.worst, key=self.worst.get)
        return self.worst[out], out


def mode_of(name):
    if name not in MODES:
        raise ValueError(f"unknown conformance mode {name!r}; expected one of {sorted(MODES)}")
    return MODES[name]


def run_fixed(entry, on_result):
    for case in entry.fixed_cases():
        on_result(run_case(entry, case))


def examples_for(entry, mode):
    """Random cases per run: the entry's budget for this mode, else the mode's."""
    return int(entry.budget.get(mode.name, mode.examples))


def run_random(entry, mode, suite_seed, on_result, examples=None):
    """Run `examples` (default: examples_for) hypothesis cases of `entry`. Every
    case is checked and reported through on_result; nothing is raised, so
    hypothesis neither stops at the first failure nor shrinks (reports stay
    reproducible and the run time bounded)."""
    strategy = entry.cases(mode, entry.key)

    @hypothesis_seed(_seed_for(suite_seed, entry.key))
    @settings(max_examples=examples or examples_for(entry, mode), database=None, deadline=None,
              derandomize=False, phases=(Phase.generate,), print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def check(case):
        on_result(run_case(entry, case))

    check()


def run_entry(entry, mode, suite_seed, on_result=None, examples=None):
    stats = EntryStats(entry.key)

    def sink(r):
        stats.add(r)
        if on_result:
            on_result(r)

    run_fixed(entry, sink)
    run_random(entry, mode, suite_seed, sink, examples)
    return stats
