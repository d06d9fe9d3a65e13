"""Which kernel loops does gcc vectorize, at each SIMD level?

Compiles every generated kernel .c (from a prior build) with the build's flags
plus -fopt-info-vec, and maps each "loop vectorized" / "couldn't vectorize
loop" note back to the .pyx line it came from (Cython's source markers).
Only loops inside the kernel sources are listed (not Cython's runtime).

    python tools/vecreport.py            # after pip install -e .
"""
import re
import subprocess
import sys
import sysconfig
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
from setup import BASE_FLAGS, X86_LEVELS  # noqa: E402  (setup() runs only as __main__)

MARK = re.compile(r'/\* "([^"]+\.pyx)":(\d+)')
NOTE = re.compile(r":(\d+):\d+: (optimized: loop vectorized using (\d+) byte vectors|missed: couldn't vectorize loop)")


def pyx_lines(c_file):
    """c line number -> (pyx, line) of the nearest preceding Cython marker."""
    out, cur = {}, None
    for i, line in enumerate(c_file.read_text().splitlines(), 1):
        m = MARK.search(line)
        if m:
            cur = (Path(m.group(1)).name, int(m.group(2)))
        out[i] = cur
    return out


def report(level, c_file):
    flags = BASE_FLAGS + X86_LEVELS[level] + ["-fopenmp", "-fPIC", "-fopt-info-vec-all"]
    inc = ["-I", str(HERE / "pyx"), "-I", sysconfig.get_paths()["include"], "-I", np.get_include()]
    res = subprocess.run(["gcc", *flags, *inc, "-c", str(c_file), "-o", "/dev/null"],
                         capture_output=True, text=True)
    where = pyx_lines(c_file)
    src = (HERE / "pyx" / f"{c_file.stem.rsplit('_', 1)[0]}.pyx").read_text().splitlines()
    seen = defaultdict(set)
    for line in res.stderr.splitlines():
        if not line.startswith(str(c_file)):
            continue
        m = NOTE.search(line)
        if not m or where.get(int(m.group(1))) is None:
            continue
        pyx, ln = where[int(m.group(1))]
        code = src[ln - 1].strip() if ln <= len(src) else ""
        if not code.startswith("for ") and "prange" not in code:
            continue
        seen[(ln, code)].add(f"{m.group(3)}B" if m.group(3) else "missed")
    return seen


def main():
    gen = HERE / "build" / "cyloss_gen" / "c"
    for c_file in sorted(gen.rglob("*_*.c")):
        level = c_file.stem.rsplit("_", 1)[1]
        if level not in X86_LEVELS:
            continue
        print(f"== {c_file.stem}")
        for (ln, code), kinds in sorted(report(level, c_file).items()):
            print(f"   {ln:4d} {','.join(sorted(kinds)):18s} {code}")


if __name__ == "__main__":
    main()
