"""`cyloss bench --suite seq`: cyloss.seq2seq.sequence_loss against the TF
composition (TF_SEMANTICS.md sec. 3.3) inside tf.function.

[B, T, C] float32 logits (default [64, 128, 8000]), int32 targets, default
flags (average over time and batch). Forward+backward = value and gradient
w.r.t. the logits (dy = 1): cyloss.value_and_grad(..., wrt="logits") against
tf.GradientTape over the composition in one tf.function; forward = the value
alone. Two weight patterns on the same logits: padding (each sequence a
random length in [T/4, T], zeros after it: the usual seq2seq batch) and all
ones (no position skipped). Medians of repeated samples (cyloss._bench.time_call),
ratio = TF / cyloss.
"""
import statistics
import sys

import numpy as np

from . import _bench


def _inputs(b, t, c, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, t, c), dtype=np.float32)
    tg = rng.integers(0, c, (b, t)).astype(np.int32)
    lengths = rng.integers(t // 4, t + 1, b)
    pad = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float32)
    return x, tg, {"padding": pad, "ones": np.ones((b, t), np.float32)}


def _tf_fn(tf, grad):
    def loss(x, tg, w):
        c = tf.shape(x)[2]
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.reshape(tg, [-1]), logits=tf.reshape(x, [-1, c]))
        ce = ce * tf.reshape(w, [-1])
        return tf.math.divide_no_nan(tf.reduce_sum(ce), tf.reduce_sum(w))

    def body(x, tg, w):
        if not grad:
            return loss(x, tg, w)
        with tf.GradientTape() as tape:
            tape.watch(x)
            v = loss(x, tg, w)
        return v, tape.gradient(v, x)
    return tf.function(body)


def main(argv=None):
    p = _bench.suite_parser("seq", __doc__, repeat=7, sample_ms=200.0, warmup_ms=500.0)
    p.add_argument("--shape", default="64x128x8000", help="BxTxC")
    args = p.parse_args(argv)
    b, t, c = (int(v) for v in args.shape.split("x"))

    tf, times = _bench.suite_setup(args)
    import cyloss
    from cyloss import seq2seq

    def med(fn):
        return statistics.median(times(fn))

    x, tg, weights = _inputs(b, t, c, 0)
    vag = cyloss.value_and_grad(seq2seq.sequence_loss, wrt="logits")
    rows = []
    for wname, w in weights.items():
        skipped = float(np.mean(w == 0))
        for op, grad in (("fwd", False), ("fwd+bwd", True)):
            if grad:
                def run_cy():
                    return vag(x, tg, w)
            else:
                def run_cy():
                    return seq2seq.sequence_loss(x, tg, w)
            t_cy = med(run_cy)
            t_tf = None
            if tf is not None:
                body = _tf_fn(tf, grad)
                X, TG, W = tf.constant(x), tf.constant(tg), tf.constant(w)
                ref = body(X, TG, W)
                got = run_cy()
                rv = float((ref[0] if grad else ref).numpy())
                gv = float(got[0] if grad else got)
                if not np.isclose(gv, rv, rtol=1e-4):     # a sanity check, not the conformance
                    raise SystemExit(f"cyloss {gv} vs TF {rv}")
                if grad:
                    g_tf = ref[1].numpy()
                    if not np.allclose(got[1], g_tf, rtol=1e-3, atol=1e-9):
                        raise SystemExit("cyloss and TF gradients differ")
                    del g_tf
                t_tf = med(lambda: body(X, TG, W))
                del ref
            rows.append((wname, skipped, op, t_cy, t_tf))
    lines = [f"cyloss bench --suite seq: sequence_loss on [{b},{t},{c}] float32 logits, "
             f"int32 targets, average over time and batch; {args.threads} threads, SIMD "
             f"{cyloss.simd_level()}; medians of {args.repeat} samples; ratio = TF / cyloss",
             "",
             "| weights | positions skipped | op | cyloss | TF tf.function | ratio |",
             "| --- | --- | --- | --- | --- | --- |"]
    for wname, skipped, op, t_cy, t_tf in rows:
        tf_cell = f"{t_tf * 1e3:.1f} ms" if t_tf else "-"
        ratio = f"{t_tf / t_cy:.1f}x" if t_tf else "-"
        lines.append(f"| {wname} | {100 * skipped:.0f}% | {op} | {t_cy * 1e3:.1f} ms | "
                     f"{tf_cell} | {ratio} |")
    _bench.emit("\n".join(lines), args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
