"""The `cyloss` command: info, conformance, bench."""
import argparse
import os
import sys


def _openmp_libraries():
    """Paths of the OpenMP runtimes mapped into this process."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = os.path.basename(path)
                if base.startswith(("libgomp", "libomp", "libiomp")):
                    libs.add(path)
    except OSError:
        pass
    return sorted(libs)


def info(_args=None):
    import numpy as np

    import cyloss
    from cyloss import _kernels, _runtime, _threads
    ver = _runtime.openmp_version()
    rows = [
        ("cyloss", f"{cyloss.__version__} ({os.path.dirname(cyloss.__file__)})"),
        ("python", sys.version.split()[0]),
        ("numpy", np.__version__),
        ("built with", _runtime.compiler()),
        ("simd level", f"{_kernels.level()} (cpu supports {', '.join(_runtime.cpu_simd_levels())};"
                       f" built {', '.join(_kernels.built_levels())};"
                       f" CYLOSS_SIMD={os.environ.get('CYLOSS_SIMD', '') or 'unset'})"),
        ("openmp", f"_OPENMP {ver}" if ver else "not compiled in (single thread)"),
        ("openmp runtime", ", ".join(_openmp_libraries()) or "none loaded"),
        ("threads", f"{cyloss.get_num_threads()} (cores {_threads._cores()}, "
                    f"omp_get_max_threads {_runtime.omp_max_threads()}, CYLOSS_NUM_THREADS="
                    f"{os.environ.get('CYLOSS_NUM_THREADS', '') or 'unset'})"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="cyloss", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="version, build, SIMD level, OpenMP runtime, threads")
    sub.add_parser("conformance", add_help=False,
                   help="check every public function against TensorFlow")
    sub.add_parser("bench", add_help=False,
                   help="time cyloss against TensorFlow, NumPy (and PyTorch, JAX)")
    if not argv:
        parser.print_help()
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "conformance":
        from cyloss.conformance.runner import main as run
        return run(rest)
    if cmd == "bench":
        # `--suite NAME` runs cyloss._bench_NAME (losses, keras, seq, ctc, sampled);
        # without it the tf.nn suite of cyloss._bench
        suite = rest[rest.index("--suite") + 1:][:1] if "--suite" in rest else []
        import importlib
        mod = f"cyloss._bench_{suite[0]}" if suite else "cyloss._bench"
        try:
            run = importlib.import_module(mod).main
        except ModuleNotFoundError:
            print(f"cyloss bench: no suite {suite[0]!r}", file=sys.stderr)
            return 2
        return run(rest)
    parser.parse_args(argv)
    return info()


if __name__ == "__main__":
    sys.exit(main())
