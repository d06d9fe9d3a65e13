"""Reproducers and reports: the text printed for a failing case, the case
files (`.npz`) that `cyloss conformance --replay FILE` re-runs, and the JSON and
Markdown reports."""
import json
import os
import re

import numpy as np

from .samples import Case, Expect

INLINE = 12         # arrays up to this many elements are printed in full


def _fmt(v):
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _inline(a):
    a = np.asarray(a)
    return np.array2string(a, precision=9, separator=", ", threshold=INLINE + 1,
                           max_line_width=120)


def _inputs_at(case, index, shape):
    """Input values at the worst element's index, for inputs of the output's shape."""
    out = []
    if index is None:
        return out
    for k, v in case.args.items():
        a = np.asarray(v)
        if a.shape == tuple(shape) and a.ndim == len(index):
            out.append(f"{k}={a[tuple(index)].item()!r}")
    return out


def reproducer(result, suite_seed=None, case_file=None):
    """Multi-line text: function, seeds, shapes, dtype, arguments, problems and
    the worst element (index, got, expected)."""
    case = result.case
    lines = [f"FAIL {case.fn}  [{('fixed: ' + case.label) if case.label else 'random'}"
             f"; kind {case.kind}]"]
    seeds = [] if suite_seed is None else [f"suite seed {suite_seed}"]
    if not case.label:
        seeds.append(f"case seed {case.seed}")
    lines.append("  " + " | ".join(seeds + [f"dtype {case.dtype or '-'}",
                                            f"layout {case.layout}"]))
    lines.append(f"  call:  {case.call_repr()}")
    small = {k: v for k, v in case.args.items()
             if isinstance(v, np.ndarray) and 0 < v.size <= INLINE}
    for k, v in small.items():
        text = _inline(v).replace("\n", "\n" + " " * (12 + len(k)))
        lines.append(f"         {k} = {text}")
    if case.divergence:
        lines.append(f"  divergence: {case.divergence}")
    if case.expect:
        lines.append(f"  expected: TF raises {'/'.join(case.expect.tf)}, cyloss "
                     f"{case.expect.cyloss} ({case.expect.why})")
    for p in result.problems:
        lines.append(f"  problem: {p}")
    for c in result.comparisons:
        if c.ok:
            continue
        what = "value" if c.output == "value" else f"d/d{c.output}"
        if c.problem in ("dtype", "shape", "missing", "extra"):
            lines.append(f"  {what}: {c.detail}")
            continue
        lines.append(f"  {what}: {c.detail}; worst at {c.index}: got {c.got!r}, "
                     f"expected (TF) {c.expected!r}"
                     + (f", {c.units:.3g} eps > tol {c.tol:g}" if c.problem == "tolerance"
                        else f" ({c.problem} mismatch)"))
        shape = np.shape(case.args[c.output]) if c.output in case.args else None
        if c.output == "value" or shape is None:
            at = _inputs_at(case, c.index, _output_shape(case, c))
        else:
            at = _inputs_at(case, c.index, shape)
        if at:
            lines.append(f"         inputs there: {', '.join(at)}")
    if case_file:
        lines.append(f"  replay: cyloss conformance --replay {case_file}")
    return "\n".join(lines)


def _output_shape(case, c):
    # The value's shape equals the inputs' for element-wise functions.
    shapes = {np.shape(v) for v in case.args.values() if isinstance(v, np.ndarray)}
    return next(iter(shapes)) if len(shapes) == 1 else ()


# ------------------------------------------------------------ case files --

def _slug(s):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", s).strip("-")[:80]


def save_case(result, directory, n):
    """Write the case (arrays + description + dy) to DIR/cases/<fn>-<n>.npz."""
    case = result.case
    os.makedirs(os.path.join(directory, "cases"), exist_ok=True)
    path = os.path.join(directory, "cases", f"{_slug(case.fn)}-{n:03d}.npz")
    arrays, scalars = {}, {}
    for k, v in case.args.items():
        if isinstance(v, np.ndarray):
            arrays[f"arg_{k}"] = np.array(v, order="C")       # (keeps 0-d arrays 0-d)
        elif isinstance(v, np.generic):
            arrays[f"npscalar_{k}"] = np.asarray(v)
        else:
            scalars[k] = v
    meta = {"fn": case.fn, "options": case.options, "dtype": case.dtype, "kind": case.kind,
            "seed": case.seed, "layout": case.layout, "label": case.label,
            "divergence": case.divergence, "scalars": scalars,
            "order": list(case.args),
            "expect": None if case.expect is None else case.expect.__dict__}
    np.savez(path, __meta__=np.asarray(json.dumps(meta, default=_json_default)), **arrays)
    return path


def load_case(path):
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    args = {}
    for k in meta["order"]:
        if f"arg_{k}" in arrays:
            args[k] = arrays[f"arg_{k}"]
        elif f"npscalar_{k}" in arrays:
            args[k] = arrays[f"npscalar_{k}"][()]
        else:
            args[k] = meta["scalars"][k]
    expect = meta.get("expect")
    if expect:
        expect = Expect(tuple(expect["tf"]), expect["cyloss"], expect["why"],
                        tuple(expect.get("mention", ())))
    return Case(meta["fn"], args, meta["options"], dtype=meta["dtype"], kind=meta["kind"],
                seed=meta["seed"], layout=meta["layout"], expect=expect,
                divergence=meta["divergence"], label=meta.get("label", ""))


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.ndarray,)):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    return str(o)


# --------------------------------------------------------------- reports --

def summary_rows(stats_list, registry):
    rows = []
    for st in stats_list:
        entry = registry[st.key]
        worst, out = st.worst_units
        tol = entry.tol.get(out).k if out in entry.tol else None
        rows.append({
            "function": st.key, "cases": st.cases, "error_cases": st.error_cases,
            "divergent": sum(st.divergent.values()), "failed": st.failed,
            "worst_eps": round(float(worst), 3), "worst_output": out,
            "tol_eps": tol, "result": "pass" if st.failed == 0 else "FAIL",
            "seconds": round(st.seconds, 2),
            "worst_by_output": {k: round(float(v), 3) for k, v in st.worst.items()},
        })
    return rows


def write_reports(directory, header, stats_list, registry, failures):
    """failures: list of (result, reproducer text, case file)."""
    os.makedirs(directory, exist_ok=True)
    rows = summary_rows(stats_list, registry)
    entries = {}
    for st in stats_list:
        e = registry[st.key]
        entries[st.key] = {
            "tolerances": {k: {"k_eps": t.k, "reason": t.reason} for k, t in e.tol.items()},
            "divergences": {k: {"reason": d.reason, "outputs": list(d.outputs),
                                "cases": st.divergent.get(k, 0)}
                            for k, d in e.divergences.items()},
            "differentiated": list(e.wrt), "notes": e.notes,
            "narrowing": None if e.narrowing is None else {
                "to": e.narrowing.to, "outputs": list(e.narrowing.outputs),
                "reason": e.narrowing.reason},
        }
    doc = {
        "header": header, "ok": all(r["failed"] == 0 for r in rows), "functions": rows,
        "entries": entries,
        "failures": [{"function": r.case.fn, "case": r.case.describe(),
                      "problems": r.problems,
                      "comparisons": [c.to_dict() for c in r.comparisons if not c.ok],
                      "case_file": path, "reproducer": text}
                     for r, text, path in failures],
    }
    jpath = os.path.join(directory, "report.json")
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=2, default=_json_default)
    mpath = os.path.join(directory, "report.md")
    with open(mpath, "w") as f:
        f.write(_markdown(doc))
    return jpath, mpath


def _markdown(doc):
    h = doc["header"]
    out = ["# cyloss conformance report", ""]
    out += [f"- **{k}**: {v}" for k, v in h.items()]
    out += ["", f"**Result: {'PASS' if doc['ok'] else 'FAIL'}**", "",
            "| function | cases | error cases | divergent | failed | worst (eps) | in | tol "
            "| result |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for r in doc["functions"]:
        out.append(f"| `{r['function']}` | {r['cases']} | {r['error_cases']} | "
                   f"{r['divergent']} | {r['failed']} | {r['worst_eps']:.3g} | "
                   f"{r['worst_output']} | {r['tol_eps'] if r['tol_eps'] is not None else ''} | "
                   f"{r['result']} |")
    out += ["", "Errors are |cyloss - TF| / (eps(dtype) * scale), scale = magnitude of the "
                "terms behind each element (see conformance/registry.py). NaN positions and "
                "infinities are compared exactly (except where a narrowing entry's float32 "
                "overflows and cyloss' float64 does not, see compare.py).", ""]
    out += ["## Tolerances and divergences", ""]
    for key, e in doc["entries"].items():
        out.append(f"### `{key}`")
        out.append(f"Differentiated: {', '.join(e['differentiated'])}." +
                   (f" {e['notes']}." if e["notes"] else ""))
        for k, t in e["tolerances"].items():
            out.append(f"- `{k}`: {t['k_eps']:g} eps: {t['reason']}")
        for k, d in e["divergences"].items():
            out.append(f"- divergence `{k}` ({d['cases']} cases): {d['reason']}")
        if e.get("narrowing"):
            n = e["narrowing"]
            out.append(f"- narrowing: TF computes {', '.join(n['outputs'])} in {n['to']} for "
                       f"wider inputs; compared in eps({n['to']}): {n['reason']}")
        out.append("")
    if doc["failures"]:
        out += ["## Failures", ""]
        for f in doc["failures"]:
            out += ["```", f["reproducer"], "```", ""]
    return "\n".join(out) + "\n"
