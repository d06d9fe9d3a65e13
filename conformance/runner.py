"""`cyloss conformance`: every public function against TensorFlow, outside pytest.

    cyloss conformance [--quick | --full] [--seed N] [--report DIR]
                       [--only SUBSTR] [--examples N] [--replay FILE]

--quick (the default) runs the same cases as `pytest conformance/`; --full
runs more examples on bigger shapes. The SIMD level is chosen with
CYLOSS_SIMD=base|avx2|avx512; unset, every case also runs at every other level
this machine supports and must give the same bits there. Prints a progress bar, a per-function table and a
reproducer for every failing case, writes DIR/report.json, DIR/report.md and
DIR/cases/*.npz (the failing cases, for --replay). Exit status 1 on any
failure, 2 when the oracle (TensorFlow) cannot be used.
"""
import argparse
import os
import platform
import sys
import time

from . import oracle      # first: sets TF_ENABLE_ONEDNN_OPTS=0 before TF is imported

SHOWN_PER_FUNCTION = 5    # reproducers printed per function (all go to the report)


def _parser():
    p = argparse.ArgumentParser(prog="cyloss conformance",
                                description="Check every public cyloss function against "
                                            "TensorFlow (values, gradients, errors).")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick",
                   help="the CI-sized run, same cases as pytest (default)")
    g.add_argument("--full", dest="mode", action="store_const", const="full",
                   help="more examples and bigger shapes (slow)")
    p.add_argument("--seed", type=int, default=None,
                   help="suite seed (default: $CYLOSS_SEED or 0)")
    p.add_argument("--report", metavar="DIR", default="conformance-report",
                   help="where report.json, report.md and failing cases go "
                        "(default: ./conformance-report)")
    p.add_argument("--only", metavar="SUBSTR", action="append", default=[],
                   help="only functions whose key contains SUBSTR (repeatable)")
    p.add_argument("--examples", type=int, default=None,
                   help="random examples per function (default: the entry's budget "
                        "for the mode, else the mode's)")
    p.add_argument("--replay", metavar="FILE",
                   help="re-run one saved case (DIR/cases/*.npz) and print the comparison")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _header(mode, seed, examples):
    import numpy as np
    import hypothesis

    import cyloss
    from . import engine
    tf = oracle.tf()
    return {
        "cyloss": f"{cyloss.__version__} ({os.path.dirname(cyloss.__file__)})",
        "simd level": f"{cyloss.simd_level()} (CYLOSS_SIMD="
                      f"{os.environ.get('CYLOSS_SIMD', '') or 'unset'}); same bits required at: "
                      f"{', '.join(engine.other_levels()) or 'no other level'}",
        "threads": str(cyloss.get_num_threads()),
        "mode": f"{mode.name} ({examples} random cases per function, arrays up to "
                f"{mode.max_size} elements, big cases up to {mode.big_size})",
        "seed": str(seed),
        "tensorflow": f"{tf.__version__} (TF_ENABLE_ONEDNN_OPTS="
                      f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS')}, op determinism off)",
        "numpy / hypothesis / python": f"{np.__version__} / {hypothesis.__version__} / "
                                       f"{platform.python_version()}",
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
    }


class _Console:
    """rich when available, plain text otherwise."""

    def __init__(self, progress):
        try:
            from rich.console import Console
            self.rich = Console(highlight=False,
                                width=None if sys.stdout.isatty() else 150)
        except ImportError:     # pragma: no cover - rich is in the oracle extra
            self.rich = None
        self.want_progress = progress and self.rich is not None

    def print(self, text="", style=None):
        if self.rich:
            self.rich.print(text, style=style, markup=False, soft_wrap=True)
        else:
            print(text)

    def progress(self):
        if not self.want_progress:
            return None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)
        return Progress(TextColumn("{task.description:<48}"), BarColumn(),
                        MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                        TimeElapsedColumn(), console=self.rich, transient=False)

    def table(self, rows):
        if not self.rich:
            for r in rows:
                print(f"{r['function']:<48} {r['cases']:>6} {r['failed']:>4} "
                      f"{r['worst_eps']:>8.3g} {r['worst_output']:<10} {r['result']}")
            return
        from rich.table import Table
        t = Table(title="cyloss vs TensorFlow")
        for col, just in (("function", "left"), ("cases", "right"), ("error cases", "right"),
                          ("divergent", "right"), ("failed", "right"),
                          ("worst (eps)", "right"), ("in", "left"), ("tol", "right"),
                          ("result", "left")):
            t.add_column(col, justify=just)
        for r in rows:
            t.add_row(r["function"], str(r["cases"]), str(r["error_cases"]),
                      str(r["divergent"]), str(r["failed"]), f"{r['worst_eps']:.3g}",
                      r["worst_output"], "" if r["tol_eps"] is None else f"{r['tol_eps']:g}",
                      r["result"], style=None if r["failed"] == 0 else "bold red")
        self.rich.print(t)


def _replay(path, console):
    from . import engine, registry, report
    case = report.load_case(path)
    entry = registry.REGISTRY[case.fn]
    res = engine.run_case(entry, case)
    console.print(case.call_repr())
    for c in res.comparisons:
        console.print(f"  {c.output:<12} {'ok ' if c.ok else 'BAD'} {c.units:.3g} eps "
                      f"(tol {c.tol:g}) {c.detail}")
    if res.ok:
        console.print("PASS")
        return 0
    console.print(report.reproducer(res, case_file=path))
    return 1


def main(argv=None):
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    console = _Console(progress=not args.no_progress and sys.stdout.isatty())
    try:
        oracle.tf()
    except oracle.OracleUnavailable as e:
        console.print(f"cyloss conformance: {e}", style="bold red")
        return 2
    from . import engine, registry, report
    if args.replay:
        return _replay(args.replay, console)
    mode = engine.mode_of(args.mode or "quick")
    seed = args.seed if args.seed is not None else int(os.environ.get("CYLOSS_SEED", "0"))
    entries = [e for k, e in registry.REGISTRY.items()
               if not args.only or any(s in k for s in args.only)]
    if not entries:
        console.print(f"no function matches {args.only}", style="bold red")
        return 2
    header = _header(mode, seed, args.examples or
                     f"{mode.examples} (or the entry's budget)")
    console.print("cyloss conformance", style="bold")
    for k, v in header.items():
        console.print(f"  {k:<28} {v}")
    warn = oracle.version_warning()
    if warn:
        console.print(f"  warning: {warn}", style="yellow")

    t0 = time.perf_counter()
    all_stats, failures = [], []
    progress = console.progress()
    if progress:
        progress.start()
    try:
        for entry in entries:
            n_random = args.examples or engine.examples_for(entry, mode)
            total = len(entry.fixed_cases()) + n_random
            task = progress.add_task(entry.key, total=total, status="") if progress else None
            if not progress:
                console.print(f"  {entry.key} ...")

            def on_result(r, task=task):
                if progress:
                    progress.advance(task)
                    if not r.ok:
                        progress.update(task, status="FAIL")

            stats = engine.run_entry(entry, mode, seed, on_result, n_random)
            if progress:
                progress.update(task, completed=total,
                                status="ok" if stats.failed == 0 else f"{stats.failed} FAILED")
            all_stats.append(stats)
    finally:
        if progress:
            progress.stop()
    elapsed = time.perf_counter() - t0
    header["elapsed"] = f"{elapsed:.1f} s"

    rows = report.summary_rows(all_stats, registry.REGISTRY)
    console.print()
    console.table(rows)
    n = 0
    for stats in all_stats:
        for i, r in enumerate(stats.failures):
            path = report.save_case(r, args.report, n)
            text = report.reproducer(r, suite_seed=seed, case_file=path)
            failures.append((r, text, path))
            n += 1
            if i < SHOWN_PER_FUNCTION:
                console.print()
                console.print(text, style="red")
        if stats.failed > SHOWN_PER_FUNCTION:
            console.print(f"  ... {stats.failed - SHOWN_PER_FUNCTION} more failing cases of "
                          f"{stats.key} in the report", style="red")
    jpath, mpath = report.write_reports(args.report, header, all_stats, registry.REGISTRY,
                                        failures)
    failed = sum(s.failed for s in all_stats)
    cases = sum(s.cases for s in all_stats)
    console.print()
    console.print(f"{cases} cases, {failed} failed, {elapsed:.1f} s; report: {jpath}, {mpath}",
                  style="bold red" if failed else "bold green")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
