"""Run the cyloss benchmark: the same as `cyloss bench ARGS`.

    python benchmarks/run.py [--peers tf,numpy,torch,jax] [--cases ...] [--threads N]
                             [--repeat N] [--quick] [--json FILE] [--markdown FILE]

See `python benchmarks/run.py --help` and benchmarks/RESULTS.md.
"""
import os
import sys

try:
    from cyloss._bench import main
except ImportError:                      # a source checkout whose cyloss is built in place
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    from cyloss._bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
