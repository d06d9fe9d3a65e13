"""`cyloss bench --suite ctc`: tf.nn.ctc_loss.

CTC on [T, B, C] float32 time-major logits (default 200 x 32 x 50), labels of
length 30..50 (dense [B, 50] + label_length, and the same labels as a sparse
triple with blank_index=0), logit_length = T; forward (loss) and
forward+backward (loss and gradient w.r.t. the logits, dy = 1). Peers on the
same inputs: tf.nn.ctc_loss inside tf.function and eagerly (dense labels: TF's
Python forward-backward; sparse labels: TF's C++ CTCLoss kernel). Medians of
repeated samples (cyloss._bench.time_call) and ratios TF / cyloss.
"""
import statistics
import sys

import numpy as np

from . import _bench


def _inputs(t, b, c, lmin, lmax, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((t, b, c), dtype=np.float32)
    labels = rng.integers(1, c, (b, lmax)).astype(np.int32)
    ll = rng.integers(lmin, lmax + 1, b).astype(np.int32)
    tl = np.full(b, t, np.int32)
    idx = np.array([(i, j) for i in range(b) for j in range(ll[i])], np.int64)
    sparse = (idx, labels[idx[:, 0], idx[:, 1]].astype(np.int32), np.array([b, lmax]))
    return x, labels, ll, tl, sparse


def _tf_body(tf, grad):
    def body(L, X, LL, TL):
        if not grad:
            return tf.nn.ctc_loss(L, X, LL, TL, blank_index=0)
        with tf.GradientTape() as tape:
            tape.watch(X)
            v = tf.nn.ctc_loss(L, X, LL, TL, blank_index=0)
        return v, tape.gradient(v, X)
    return body


def main(argv=None):
    p = _bench.suite_parser("ctc", __doc__, sample_ms=50.0, warmup_ms=200.0)
    p.add_argument("--shape", default="200x32x50", help="T x B x C")
    p.add_argument("--labels", default="30-50", help="label length range")
    p.add_argument("--eager-repeat", type=int, default=3,
                   help="samples for TF eager (dense eager takes seconds per call)")
    p.add_argument("--no-eager", action="store_true", help="skip TF eager")
    args = p.parse_args(argv)
    t, b, c = (int(v) for v in args.shape.split("x"))
    lmin, lmax = (int(v) for v in args.labels.split("-"))
    tf, times = _bench.suite_setup(args)
    import cyloss
    import cyloss.nn

    def med(fn, repeat=None):
        return statistics.median(times(fn, repeat))

    x, labels, ll, tl, sp = _inputs(t, b, c, lmin, lmax, 0)
    f = cyloss.nn.ctc_loss
    vag = cyloss.value_and_grad(f)
    rows = []
    for form in ("dense", "sparse"):
        lab = labels if form == "dense" else sp
        cy_ll = ll if form == "dense" else None
        kw = {"blank_index": 0}
        ref = None
        if tf is not None:
            L = tf.constant(labels) if form == "dense" else tf.SparseTensor(*sp)
            X, LL, TL = tf.constant(x), tf.constant(ll), tf.constant(tl)
            ref = tf.nn.ctc_loss(L, X, LL, TL, blank_index=0).numpy()
            got = f(lab, x, cy_ll, tl, **kw)
            if not np.allclose(got, ref, rtol=1e-4):    # a sanity check, not the conformance
                raise SystemExit(f"{form}: cyloss {got[:3]} vs TF {ref[:3]}")
        for op, grad in (("fwd", False), ("fwd+bwd", True)):
            if grad:
                t_cy = med(lambda: vag(lab, x, cy_ll, tl, **kw))
            else:
                t_cy = med(lambda: f(lab, x, cy_ll, tl, **kw))
            t_fn = t_eager = None
            if tf is not None:
                body = _tf_body(tf, grad)
                fn = tf.function(body)
                t_fn = med(lambda: fn(L, X, LL, TL))
                if not args.no_eager:
                    t_eager = med(lambda: body(L, X, LL, TL), args.eager_repeat)
            rows.append((form, op, t_cy, t_fn, t_eager))
    lines = [f"cyloss bench --suite ctc: logits [{t},{b},{c}] float32 time-major, labels "
             f"{lmin}..{lmax}, blank 0, {args.threads} threads, SIMD {cyloss.simd_level()}; "
             f"medians of {args.repeat} samples (TF eager: {args.eager_repeat})",
             "",
             "| labels | op | cyloss | tf.function (ratio) | TF eager (ratio) |",
             "| --- | --- | --- | --- | --- |"]

    def cell(tt, t_cy):
        return f"{tt * 1e3:.1f} ms ({tt / t_cy:.1f}x)" if tt else "-"
    for form, op, t_cy, t_fn, t_eager in rows:
        lines.append(f"| {form} | {op} | {t_cy * 1e3:.2f} ms | {cell(t_fn, t_cy)} | "
                     f"{cell(t_eager, t_cy)} |")
    _bench.emit("\n".join(lines), args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
