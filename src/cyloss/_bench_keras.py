"""`cyloss bench --suite keras`: the cross-entropy classes of cyloss.keras
(tf.keras.losses), BinaryCrossentropy, CategoricalCrossentropy and
SparseCategoricalCrossentropy, each on probabilities and on logits.

Inputs [N, C] float32 (SCCE: [N] int64 labels), the default reduction
"sum_over_batch_size", no sample weight. Ops: the forward value, and
forward+backward (the value and its gradient w.r.t. y_pred, dy = 1:
cyloss.value_and_grad; TensorFlow: a GradientTape inside the tf.function).
Peer: the Keras class of TF 2.21 called inside tf.function on tf.constant
inputs. Same inputs for both, medians of repeated samples
(cyloss._bench.time_call), the ratio TF / cyloss (target >= 5x), the fraction
of the machine's copy bandwidth, and the largest relative difference of the
values and gradients against TF as a sanity check (not the conformance).
"""
import argparse
import json
import statistics
import sys

import numpy as np

from . import _bench

LOSSES = {   # case: (Keras class, constructor kwargs, label kind, prediction kind)
    "bce-probs": ("BinaryCrossentropy", {}, "binary", "prob"),
    "bce-logits": ("BinaryCrossentropy", {"from_logits": True}, "binary", "logit"),
    "cce-probs": ("CategoricalCrossentropy", {}, "onehot", "simplex"),
    "cce-logits": ("CategoricalCrossentropy", {"from_logits": True}, "onehot", "logit"),
    "scce-probs": ("SparseCategoricalCrossentropy", {}, "ids", "simplex"),
    "scce-logits": ("SparseCategoricalCrossentropy", {"from_logits": True}, "ids", "logit"),
}
TARGET = 5.0


def _inputs(case, n, c, seed):
    rng = np.random.default_rng(seed)
    _, _, lab_kind, pred_kind = LOSSES[case]
    if lab_kind == "binary":
        y = (rng.random((n, c), dtype=np.float32) < 0.5).astype(np.float32)
    elif lab_kind == "onehot":
        y = np.zeros((n, c), np.float32)
        y[np.arange(n), rng.integers(0, c, n)] = 1
    else:
        y = rng.integers(0, c, n).astype(np.int64)
    if pred_kind == "logit":
        x = rng.standard_normal((n, c), dtype=np.float32)
    elif pred_kind == "prob":
        x = rng.uniform(0.001, 0.999, (n, c)).astype(np.float32)
    else:
        x = rng.uniform(0.01, 1, (n, c)).astype(np.float32)
        x /= x.sum(axis=1, keepdims=True)
    return y, x


def _tf_fns(tf, case):
    cls, kw = LOSSES[case][:2]
    loss = getattr(tf.keras.losses, cls)(**kw)

    @tf.function
    def fwd(Y, X):
        return loss(Y, X)

    @tf.function
    def fwd_bwd(Y, X):
        with tf.GradientTape() as tape:
            tape.watch(X)
            v = loss(Y, X)
        return v, tape.gradient(v, X)
    return fwd, fwd_bwd


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-30, float(np.max(np.abs(b)))))


def build_parser():
    p = _bench.suite_parser("keras", __doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", default="8192x1000", help="N x C (default 8192x1000)")
    p.add_argument("--losses", default=",".join(LOSSES), help="comma-separated cases")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before each measurement wait up to S seconds for a quiet machine")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 64x100, 3 samples of 1 ms, no warm-up")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.quick:
        args.shape, args.repeat, args.sample_ms, args.warmup_ms = "64x100", 3, 1.0, 0.0
    n, c = (int(v) for v in args.shape.split("x"))
    cases = [s for s in args.losses.split(",") if s]
    unknown = [s for s in cases if s not in LOSSES]
    if unknown:
        print(f"cyloss bench --suite keras: unknown case(s) {unknown}; "
              f"choose from {list(LOSSES)}", file=sys.stderr)
        return 2
    tf, times = _bench.suite_setup(args)
    import cyloss
    import cyloss.keras as ck
    bw = _bench.copy_bandwidth(args.threads, repeat=3 if args.quick else 9)["limit"]

    def med(fn):
        if args.wait_quiet > 0:
            _bench.wait_quiet(args.wait_quiet, 0.5, quiet=True)
        s = times(fn)
        return statistics.median(s), min(s)

    results, notes = [], []
    for case in cases:
        cls, kw = LOSSES[case][:2]
        y, x = _inputs(case, n, c, 0)
        loss = getattr(ck, cls)(**kw)
        vag = cyloss.value_and_grad(loss, wrt="y_pred")
        v_cy = np.asarray(loss(y, x))
        v2, g_cy = vag(y, x)
        if not (np.isfinite(v_cy) and np.all(np.isfinite(g_cy)) and np.array_equal(v_cy, v2)):
            notes.append(f"CHECK {case}: forward {v_cy} vs value_and_grad {v2} "
                         f"(finite gradient: {bool(np.all(np.isfinite(g_cy)))})")
        tfc = None
        if tf is not None:
            fwd, fwd_bwd = _tf_fns(tf, case)
            Y, X = tf.constant(y), tf.constant(x)
            v_tf, g_tf = (np.asarray(t) for t in fwd_bwd(Y, X))
            tfc = {"fwd": lambda: fwd(Y, X), "fwd+bwd": lambda: fwd_bwd(Y, X)}
            err = max(_rel(v_cy, v_tf), _rel(g_cy, g_tf))
            if err > 1e-4:
                notes.append(f"CHECK {case}: max relative difference to TF {err:.3g}")
        nbytes = x.nbytes + y.nbytes
        for op in ("fwd", "fwd+bwd"):
            fn = (lambda: loss(y, x)) if op == "fwd" else (lambda: vag(y, x))
            t_cy, best_cy = med(fn)
            r = {"case": case, "class": cls, "kwargs": kw, "op": op, "shape": [n, c],
                 "cyloss_s": t_cy, "cyloss_min_s": best_cy,
                 "bytes": nbytes + (x.nbytes if op == "fwd+bwd" else 0)}
            r["cyloss_gbps"] = r["bytes"] / t_cy / 1e9
            if tfc is not None:
                r["tf_s"], r["tf_min_s"] = med(tfc[op])
                r["ratio"] = r["tf_s"] / t_cy
                r["max_rel_err"] = err
            results.append(r)

    lines = [f"cyloss bench --suite keras: [{n},{c}] float32, reduction sum_over_batch_size, "
             f"no sample weight, {args.threads} threads, SIMD {cyloss.simd_level()}, copy "
             f"bandwidth {bw / 1e9:.1f} GB/s; medians of {args.repeat} samples "
             f"(target: >= {TARGET:.0f}x tf.function)",
             "",
             "| case | op | cyloss | tf.function (ratio) | GB/s (% of copy) |",
             "| --- | --- | --- | --- | --- |"]
    for r in results:
        if "tf_s" in r:
            mark = "" if r["ratio"] >= TARGET else " below target"
            tf_cell = f"{r['tf_s'] * 1e3:.2f} ms ({r['ratio']:.1f}x{mark})"
        else:
            tf_cell = "-"
        lines.append(f"| {r['case']} | {r['op']} | {r['cyloss_s'] * 1e3:.3f} ms | {tf_cell} | "
                     f"{r['cyloss_gbps']:.1f} ({100 * r['cyloss_gbps'] * 1e9 / bw:.0f}%) |")
    lines += [f"- {n_}" for n_ in notes]
    _bench.emit("\n".join(lines), args.markdown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"suite": "keras", "threads": args.threads, "copy_bandwidth": bw,
                       "results": results, "notes": notes}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
