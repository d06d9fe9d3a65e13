"""`cyloss bench --suite sampled`: sampled softmax (and NCE) loss.

sampled_softmax_loss on [batch, dim] float32 inputs, a [classes, dim] weight
table and `num_sampled` candidates (default: TF_SEMANTICS' benchmark shape,
4096 examples, 64 sampled, 100000 classes, dim 256), forward and
forward+backward (gradients w.r.t. weights, biases and inputs, dy = 1),
against TF's tf.nn.sampled_softmax_loss inside tf.function. Both get the same
sampled_values (drawn once by cyloss' sampler; TF's `sampled_values` are
constants), so both do the same work; medians of repeated samples
(cyloss._bench.time_call) and ratios TF / cyloss.

TF returns the weight and bias gradients as IndexedSlices (rows of the
sampled and true ids); cyloss returns the dense [classes, dim] array (as
GradientTape's result densified, the conformance contract), so fwd+bwd is
timed against both: TF's IndexedSlices as they come, and TF densifying them
(tf.convert_to_tensor) inside the same tf.function. A dense [100000, 256]
float32 gradient is 100 MB: allocating it zeroed costs page faults on every
touched page (with transparent huge pages, 2 MB at a time), which bounds
cyloss' fwd+bwd from below whatever the kernels do.

NumPy's BLAS (the three matrix products) is limited to --threads with
threadpoolctl, as TF's intra-op pool is.
"""
import statistics
import sys

import numpy as np

from . import _bench

LOSSES = ("sampled_softmax_loss", "nce_loss")


def _inputs(b, d, c, s, nt, seed):
    import cyloss
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((c, d), dtype=np.float32) * np.float32(0.05)
    bias = rng.standard_normal(c, dtype=np.float32) * np.float32(0.1)
    x = rng.standard_normal((b, d), dtype=np.float32)
    lab = np.minimum(np.exp(rng.random((b, nt)) * np.log(c + 1)).astype(np.int64) - 1, c - 1)
    sv = cyloss.nn.log_uniform_candidate_sampler(lab, nt, s, True, c, seed=seed)
    return w, bias, lab, x, sv


def _tf_fn(tf, name, grad, s, c, nt, dense=False):
    """TF's loss in tf.function; with grad, also the gradients w.r.t. weights,
    biases and inputs (IndexedSlices for weights and biases, or, with dense,
    converted to dense tensors as cyloss returns them)."""
    fn = getattr(tf.nn, name)

    def body(W, bias, lab, x, sc, tec, sec):
        if not grad:
            return fn(W, bias, lab, x, s, c, num_true=nt, sampled_values=(sc, tec, sec))
        with tf.GradientTape() as t:
            t.watch([W, bias, x])
            v = fn(W, bias, lab, x, s, c, num_true=nt, sampled_values=(sc, tec, sec))
        gs = t.gradient(v, [W, bias, x])
        if dense:
            gs = [tf.convert_to_tensor(g) for g in gs]
        return v, gs
    return tf.function(body)


def main(argv=None):
    p = _bench.suite_parser("sampled", __doc__, sample_ms=50.0, warmup_ms=200.0)
    p.add_argument("--shape", default="4096x256", help="batch x dim")
    p.add_argument("--classes", type=int, default=100000)
    p.add_argument("--sampled", type=int, default=64)
    p.add_argument("--num-true", type=int, default=1)
    p.add_argument("--losses", default="sampled_softmax_loss")
    args = p.parse_args(argv)
    b, d = (int(v) for v in args.shape.split("x"))
    c, s, nt = args.classes, args.sampled, args.num_true
    tf, times = _bench.suite_setup(args)
    import cyloss
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(args.threads, user_api="blas")   # NumPy's BLAS
    except ImportError:
        limits = None

    def med(fn):
        return statistics.median(times(fn))

    w, bias, lab, x, sv = _inputs(b, d, c, s, nt, 0)
    rows = []
    for name in args.losses.split(","):
        fn = getattr(cyloss.nn, name)
        kw = dict(num_true=nt, sampled_values=tuple(sv))
        vag = cyloss.value_and_grad(fn, wrt=("weights", "biases", "inputs"))
        got = fn(w, bias, lab, x, s, c, **kw)
        consts = None
        if tf is not None:
            consts = [tf.constant(a) for a in (w, bias, lab, x, *sv)]
            ref = _tf_fn(tf, name, False, s, c, nt)(*consts).numpy()
            # a sanity check, not the conformance: float32 sums in another order
            if not np.allclose(got, ref, rtol=1e-4, atol=1e-4):
                raise SystemExit(f"{name}: cyloss and TF disagree (max |diff| "
                                 f"{np.max(np.abs(got - ref)):.3g})")
        t_vag = None
        for op, grad, dense in (("fwd", False, False),
                                ("fwd+bwd (TF: IndexedSlices)", True, False),
                                ("fwd+bwd (TF: densified)", True, True)):
            if grad:
                t_vag = t_vag or med(lambda: vag(w, bias, lab, x, s, c, **kw))
                t_cy = t_vag
            else:
                t_cy = med(lambda: fn(w, bias, lab, x, s, c, **kw))
            t_tf = None
            if consts is not None:
                body = _tf_fn(tf, name, grad, s, c, nt, dense)
                t_tf = med(lambda: body(*consts))
            rows.append((name, op, t_cy, t_tf))
    if limits is not None:
        limits.restore_original_limits()
    lines = [f"cyloss bench --suite sampled: batch {b}, dim {d}, {c} classes, {s} sampled, "
             f"num_true {nt}, float32, {args.threads} threads, SIMD {cyloss.simd_level()}; "
             f"same sampled_values for both; medians of {args.repeat} samples",
             "",
             "| loss | op | cyloss | tf.function | TF / cyloss |",
             "| --- | --- | --- | --- | --- |"]
    for name, op, t_cy, t_tf in rows:
        tf_cell = f"{t_tf * 1e3:.2f} ms" if t_tf else "-"
        ratio = f"{t_tf / t_cy:.2f}x" if t_tf else "-"
        lines.append(f"| {name} | {op} | {t_cy * 1e3:.2f} ms | {tf_cell} | {ratio} |")
    _bench.emit("\n".join(lines), args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
