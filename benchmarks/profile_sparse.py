"""Where cyloss' time goes in sparse_softmax_cross_entropy_with_logits: the
public call split into its Python-side steps, the compiled kernel alone (into
preallocated buffers), the allocation of fresh outputs, and the memory floor
(a copy of the same bytes). Internal: it calls cyloss' private kernels with
the signatures of this revision, so it may need updating when they change.

    python benchmarks/profile_sparse.py [--threads 2] [--simd avx512] [--cases 8192x1000,...]
"""
import argparse
import statistics
import sys

import numpy as np


def med(fn, repeat=11, noise=0.25, tries=4):
    """Median per-call time; re-measured (after waiting for quiet) while other
    processes kept more than `noise` cores busy. Returns the quietest attempt."""
    from cyloss._bench import BusyMeter, wait_quiet
    best = None
    for attempt in range(tries):
        if attempt:
            wait_quiet(60, noise, True)
        meter = BusyMeter()
        t = _med(fn, repeat)
        bg = meter.cores() or 0.0
        if best is None or bg < best[1]:
            best = (t, bg)
        if bg <= noise:
            break
    NOISY.append(best[1] > noise)
    return best[0]


NOISY = []


def _med(fn, repeat):
    """Median per-call seconds of `repeat` samples of ~20 ms (cyloss bench's timer)."""
    from cyloss._bench import time_call
    return statistics.median(time_call(fn, repeat, 0.02, 0.0)[0])


def us(s):
    return f"{s * 1e6:9.1f}"


def profile(n, c, threads, K, cy, ck, for_work):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n, c), dtype=np.float32) * 3)
    lab = rng.integers(0, c, n, dtype=np.int32)
    fn = cy.nn.sparse_softmax_cross_entropy_with_logits
    vg = cy.value_and_grad(fn, wrt="logits")
    nt = for_work(x.size)
    loss = np.empty(n, np.float32)
    gx = np.empty_like(x)
    scratch = np.empty((2, n), np.float32)
    k = K.softmax.k_sparse_xent
    r = {}
    r["public fwd"] = med(lambda: fn(lab, x))
    r["public value_and_grad"] = med(lambda: vg(lab, x))
    r["kernel fwd (prealloc)"] = med(lambda: k(x, lab, loss, None, scratch[0], scratch[1], nt))
    r["kernel fwd+grad (prealloc)"] = med(lambda: k(x, lab, loss, gx, scratch[0], scratch[1], nt))
    r["kernel fwd+grad, 1 thread"] = med(lambda: k(x, lab, loss, gx, scratch[0], scratch[1], 1))

    def fresh():
        g = np.empty_like(x)
        k(x, lab, np.empty(n, np.float32), g, scratch[0], scratch[1], nt)
    r["kernel fwd+grad (fresh outputs)"] = med(fresh)
    r["np.empty_like(x) + first touch (memset)"] = med(lambda: np.empty_like(x).fill(0))
    r["label range check"] = med(lambda: ck.check_label_range(lab, c))
    r["checks: asarray/int_labels/contig/reshape"] = med(lambda: (
        ck.floating(x, "logits"), ck.int_labels(lab, "labels"),
        np.ascontiguousarray(lab).reshape(-1), np.ascontiguousarray(x).reshape(-1, c)))
    r["np.empty x3 (small outputs, scratch)"] = med(lambda: (
        np.empty(n, np.float32), np.empty((2, n), np.float32), np.empty_like(x)))
    r["for_work()"] = med(lambda: for_work(x.size))
    dst = np.empty_like(x)
    r["copy of logits (np.copyto, 1 thread)"] = med(lambda: np.copyto(dst, x))
    return r, nt


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--simd", default=None)
    p.add_argument("--cases", default="2x3,65536x10,8192x1000,2048x32000")
    a = p.parse_args(argv)
    import cyloss as cy
    from cyloss import _checks as ck
    from cyloss import _kernels
    from cyloss._threads import for_work
    if a.simd:
        _kernels.use(a.simd)
    cy.set_num_threads(a.threads)
    print(f"SIMD {_kernels.level()}, threads {a.threads}; medians in µs")
    for spec in a.cases.split(","):
        n, c = (int(v) for v in spec.split("x"))
        r, nt = profile(n, c, a.threads, _kernels.K, cy, ck, for_work)
        mb = n * c * 4 / 1e6
        print(f"\n[{n},{c}] float32  (logits {mb:.1f} MB; kernel threads {nt})")
        for name, v in r.items():
            print(f"  {name:<44}{us(v)}")
        if any(NOISY):
            print(f"  ({sum(NOISY)} of these measurements ran on a busy machine)")
        NOISY.clear()
        kf = r["kernel fwd+grad (prealloc)"]
        print(f"  {'-> kernel fwd+grad GB/s (read x + write g)':<44}{2 * n * c * 4 / kf / 1e9:9.1f}")
        print(f"  {'-> public vag minus kernel (overhead)':<44}{us(r['public value_and_grad'] - kf)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
