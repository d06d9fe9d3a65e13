"""`cyloss bench --suite losses`: the tf.compat.v1.losses pointwise losses.

Each loss on [N, C] float32 with [N, 1] weights and SUM_BY_NONZERO_WEIGHTS
(TF's default reduction), forward and forward+backward (gradient w.r.t. the
predictions / logits, dy = 1), against tf.compat.v1.losses inside
tf.function and a careful NumPy implementation, on the same inputs in one
run; medians of repeated samples (see cyloss._bench.time_call), ratios to
each peer and the fraction of the machine's copy bandwidth.
"""
import statistics
import sys

import numpy as np

from . import _bench

LOSSES = {   # name: (cyloss.losses function, label kind, extra kwargs)
    "absolute_difference": ("absolute_difference", "real", {}),
    "mean_squared_error": ("mean_squared_error", "real", {}),
    "huber_loss": ("huber_loss", "real", {"delta": 1.0}),
    "log_loss": ("log_loss", "prob", {}),
    "hinge_loss": ("hinge_loss", "binary", {}),
    "sigmoid_cross_entropy": ("sigmoid_cross_entropy", "binary", {}),
}


def _inputs(name, n, c, seed):
    rng = np.random.default_rng(seed)
    kind = LOSSES[name][1]
    if kind == "binary":
        lab = (rng.random((n, c), dtype=np.float32) < 0.5).astype(np.float32)
    else:
        lab = rng.random((n, c), dtype=np.float32)
    pred = rng.random((n, c), dtype=np.float32) if kind == "prob" else \
        rng.standard_normal((n, c), dtype=np.float32)
    w = rng.random((n, 1), dtype=np.float32)
    w[::7] = 0                       # some zero weights: the nonzero count matters
    return lab, pred, w


def _numpy(name, lab, pred, w, grad):
    """Vectorized NumPy reference: loss, weight, reduce (and d/dpred)."""
    n_present = np.count_nonzero(w) * lab.shape[1]
    if name == "absolute_difference":
        e = pred - lab
        loss, d = np.abs(e), np.sign(e)
    elif name == "mean_squared_error":
        e = pred - lab
        loss, d = e * e, 2 * e
    elif name == "huber_loss":
        e = pred - lab
        a = np.abs(e)
        q = np.minimum(a, 1.0)
        loss, d = 0.5 * q * q + (a - q), np.sign(e) * q
    elif name == "log_loss":
        eps = np.float32(1e-7)
        loss = -lab * np.log(pred + eps) - (1 - lab) * np.log(1 - pred + eps)
        d = -lab / (pred + eps) + (1 - lab) / (1 - pred + eps)
    elif name == "hinge_loss":
        m = 1 - (2 * lab - 1) * pred
        loss, d = np.maximum(m, 0), -(2 * lab - 1) * (m > 0)
    else:
        e = np.exp(-np.abs(pred))
        loss = np.maximum(pred, 0) - pred * lab + np.log1p(e)
        d = np.where(pred >= 0, 1 / (1 + e), e / (1 + e)) - lab
    value = np.float32((loss * w).sum() / n_present) if n_present else np.float32(0)
    if not grad:
        return value
    return value, d * (w / n_present)


def _tf_fn(tf, name, grad):
    fn = getattr(tf.compat.v1.losses, LOSSES[name][0])
    kw = LOSSES[name][2]

    def body(L, P, W):
        if not grad:
            return fn(L, P, W, **kw)
        with tf.GradientTape() as t:
            t.watch(P)
            v = fn(L, P, W, **kw)
        return v, t.gradient(v, P)
    return tf.function(body)


def main(argv=None):
    p = _bench.suite_parser("losses", __doc__)
    p.add_argument("--shape", default="8192x1000")
    p.add_argument("--losses", default=",".join(LOSSES))
    args = p.parse_args(argv)
    n, c = (int(v) for v in args.shape.split("x"))
    bw = _bench.copy_bandwidth(args.threads)["limit"]

    tf, times = _bench.suite_setup(args)
    import cyloss

    def med(fn):
        return statistics.median(times(fn))

    rows = []
    for name in args.losses.split(","):
        lab, pred, w = _inputs(name, n, c, 0)
        fn = getattr(cyloss.losses, LOSSES[name][0])
        kw = LOSSES[name][2]
        wrt = "logits" if name in ("hinge_loss", "sigmoid_cross_entropy") else "predictions"
        vag = cyloss.value_and_grad(fn, wrt=wrt)
        got = fn(lab, pred, w, **kw)
        ref = _numpy(name, lab, pred, w, False)
        if not np.isclose(got, ref, rtol=1e-4):    # a sanity check, not the conformance
            raise SystemExit(f"{name}: cyloss {got} vs NumPy {ref}")
        for op, grad in (("fwd", False), ("fwd+bwd", True)):
            t_cy = med((lambda: vag(lab, pred, w, **kw)) if grad else (lambda: fn(lab, pred, w, **kw)))
            t_np = med(lambda: _numpy(name, lab, pred, w, grad))
            t_tf = None
            if tf is not None:
                body = _tf_fn(tf, name, grad)
                L, P, W = (tf.constant(a) for a in (lab, pred, w))
                t_tf = med(lambda: body(L, P, W))
            nbytes = lab.nbytes + pred.nbytes + w.nbytes + (pred.nbytes if grad else 0)
            rows.append((name, op, t_cy, t_tf, t_np, nbytes / t_cy))
    lines = [f"cyloss bench --suite losses: [{n},{c}] float32, weights [{n},1], "
             f"SUM_BY_NONZERO_WEIGHTS, {args.threads} threads, SIMD {cyloss.simd_level()}, "
             f"copy bandwidth {bw / 1e9:.1f} GB/s; medians of {args.repeat} samples",
             "",
             "| loss | op | cyloss | tf.function (ratio) | NumPy (ratio) | GB/s (% of copy) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, op, t_cy, t_tf, t_np, rate in rows:
        tf_cell = f"{t_tf * 1e3:.2f} ms ({t_tf / t_cy:.1f}x)" if t_tf else "-"
        lines.append(f"| {name} | {op} | {t_cy * 1e3:.2f} ms | {tf_cell} | "
                     f"{t_np * 1e3:.2f} ms ({t_np / t_cy:.1f}x) | "
                     f"{rate / 1e9:.1f} ({100 * rate / bw:.0f}%) |")
    _bench.emit("\n".join(lines), args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
