"""`cyloss bench`: time cyloss against TensorFlow (eager and tf.function), a
careful NumPy implementation, PyTorch (eager and torch.compile) and JAX jit on
the same inputs, forward and forward+backward, in one process and one run.

    cyloss bench [--peers tf,numpy,torch,jax] [--cases ...] [--ops fwd,vag,vjp]
                 [--threads N] [--repeat N] [--quick] [--json FILE] [--markdown FILE]

Operations timed for every case:
  fwd  the loss only (peers run without gradient tracking);
  vag  loss and d(sum loss)/d logits: cyloss.value_and_grad(fn, wrt="logits"),
       the fused pass; peers take the gradient with dy = ones;
  vjp  cyloss.vjp(fn, ...) then backward(dy) with a random dy, which returns
       the gradient for every float argument (logits, and the labels of the
       dense and sigmoid losses); peers compute the same gradients with that dy.

Every timing sample runs a call enough times to last a few milliseconds; the
table shows the median over samples (and the minimum), after a warm-up. Peer
ratios are peer median / cyloss median (> 1: cyloss is faster). The memory
limit line is the copy bandwidth of a 256 MB array (bytes read + written per
second); for cyloss the table shows GB/s as logical bytes (inputs read +
outputs written) over the median time, and that as a fraction of the limit.

Only NumPy is needed: TensorFlow, PyTorch, JAX and rich are imported lazily
and skipped with a note when missing.
"""
import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

KINDS = {
    "sparse": "sparse_softmax_cross_entropy_with_logits",
    "dense": "softmax_cross_entropy_with_logits",
    "sigmoid": "sigmoid_cross_entropy_with_logits",
}
DEFAULT_CASES = ("sparse-8192x1000", "sparse-2048x32000", "sparse-65536x10", "sparse-2x3",
                 "dense-8192x1000", "sigmoid-8192x1000")
QUICK_CASES = ("sparse-8192x1000", "sparse-65536x10", "sparse-2x3")
OPS = ("fwd", "vag", "vjp")
OP_TITLES = {"fwd": "forward", "vag": "fwd+bwd (value_and_grad)", "vjp": "vjp + backward(dy)"}
IMPLS = ("cyloss", "tf-eager", "tf-function", "numpy", "torch-eager", "torch-compile", "jax-jit")
IMPL_TITLES = {"cyloss": "cyloss", "tf-eager": "TF eager", "tf-function": "tf.function",
               "numpy": "NumPy", "torch-eager": "torch", "torch-compile": "torch.compile",
               "jax-jit": "jax.jit"}
PEER_GROUPS = {"tf": ("tf-eager", "tf-function"), "numpy": ("numpy",),
               "torch": ("torch-eager", "torch-compile"), "jax": ("jax-jit",)}
COPY_BYTES = 256 << 20


# --------------------------------------------------------------------------- cases

class Case:
    """One loss at one shape and dtype, with its inputs."""

    def __init__(self, spec, dtype):
        kind, _, shape = spec.partition("-")
        if kind not in KINDS:
            raise ValueError(f"case {spec!r}: kind must be one of {sorted(KINDS)}")
        try:
            n, c = (int(v) for v in shape.lower().split("x"))
        except ValueError:
            raise ValueError(f"case {spec!r}: expected KIND-NxC, e.g. sparse-8192x1000") from None
        if n < 1 or c < 1:
            raise ValueError(f"case {spec!r}: sizes must be positive")
        self.kind, self.n, self.c = kind, n, c
        self.dtype = np.dtype(dtype)
        self.name = f"{kind}-{n}x{c}" + ("" if self.dtype == np.float32 else f"-{self.dtype.name}")
        self.fn_name = KINDS[kind]
        self.data = None

    def make(self, seed):
        rng = np.random.default_rng(seed)
        n, c, dt = self.n, self.c, self.dtype
        x = (rng.standard_normal((n, c), dtype=np.float32) * 3).astype(dt, copy=False)
        if self.kind == "sparse":
            lab = rng.integers(0, c, n, dtype=np.int32)
            dy = rng.standard_normal(n).astype(dt)
        elif self.kind == "dense":
            lab = rng.random((n, c), dtype=np.float32).astype(dt, copy=False)
            lab /= lab.sum(axis=1, keepdims=True)
            dy = rng.standard_normal(n).astype(dt)
        else:
            lab = (rng.random((n, c), dtype=np.float32) < 0.5).astype(dt)
            dy = rng.standard_normal((n, c), dtype=np.float32).astype(dt, copy=False)
        self.data = {"labels": lab, "logits": x, "dy": dy}
        return self.data

    def float_labels(self):
        return self.kind != "sparse"

    def bytes_moved(self, op):
        """Logical bytes: inputs read + outputs written, by an ideal one-pass kernel."""
        d = self.data
        x, lab, dy = d["logits"], d["labels"], d["dy"]
        loss = x.nbytes if self.kind == "sigmoid" else self.n * self.dtype.itemsize
        total = x.nbytes + lab.nbytes + loss
        if op == "vag":
            total += x.nbytes
        elif op == "vjp":
            total += dy.nbytes + x.nbytes + (lab.nbytes if self.float_labels() else 0)
        return total


# --------------------------------------------------------------------------- peers

class Skip(Exception):
    """A peer that cannot run here (not installed, unsupported): skipped with a note."""


class CylossPeer:
    impls = ("cyloss",)

    def __init__(self, threads, notes):
        import cyloss
        self.cyloss = cyloss
        cyloss.set_num_threads(threads)
        notes.append(f"cyloss: cyloss.set_num_threads({threads}); arrays below "
                     f"{_serial_below()} elements run on one thread by design.")

    def version(self):
        from cyloss import _kernels
        return f"{self.cyloss.__version__} (SIMD {_kernels.level()})"

    def prepare(self, impl, case, op):
        cy = self.cyloss
        fn = getattr(cy.nn, case.fn_name)
        lab, x, dy = (case.data[k] for k in ("labels", "logits", "dy"))
        if op == "fwd":
            return lambda: fn(labels=lab, logits=x)
        if op == "vag":
            vg = cy.value_and_grad(fn, wrt="logits")
            return lambda: vg(labels=lab, logits=x)

        def run():
            v, back = cy.vjp(fn, labels=lab, logits=x)
            return v, back(dy)
        return run

    @staticmethod
    def to_numpy(op, out):
        if op == "fwd":
            return {"loss": out}
        if op == "vag":
            return {"loss": out[0], "logits": out[1]}
        return {"loss": out[0], **out[1]}


def _serial_below():
    try:
        from cyloss import _threads
        return _threads.SERIAL_BELOW
    except (ImportError, AttributeError):
        return "?"


class NumpyPeer:
    """Numerically stable, vectorized NumPy: max-shifted log-sum-exp, one
    temporary of the logits' size, in-place ufuncs, no Python loop over rows."""
    impls = ("numpy",)

    def __init__(self, threads, notes):
        notes.append("NumPy: the reference implementation is single-threaded "
                     "(elementwise ufuncs and reductions do not use threads).")

    def version(self):
        return np.__version__

    def prepare(self, impl, case, op):
        lab, x, dy = (case.data[k] for k in ("labels", "logits", "dy"))
        kind = case.kind
        rows = np.arange(case.n)

        if kind == "sparse":
            def run():
                m = x.max(axis=1, keepdims=True)
                e = np.subtract(x, m)
                picked = e[rows, lab]                      # x[label] - max
                np.exp(e, out=e)
                s = e.sum(axis=1)
                loss = np.log(s)
                loss -= picked                             # log sum exp(x - m) - (x_l - m)
                if op == "fwd":
                    return loss
                e /= s[:, None]                            # softmax
                e[rows, lab] -= 1
                if op == "vjp":
                    e *= dy[:, None]
                    return loss, {"logits": e}
                return loss, e
            return run

        if kind == "dense":
            def run():
                m = x.max(axis=1, keepdims=True)
                z = np.subtract(x, m)
                e = np.exp(z)
                s = e.sum(axis=1, keepdims=True)
                logs = np.log(s)
                np.subtract(z, logs, out=z)                # log_softmax
                loss = -np.einsum("ij,ij->i", lab, z)
                if op == "fwd":
                    return loss
                e /= s
                e -= lab                                   # softmax - labels
                if op == "vjp":
                    e *= dy[:, None]
                    z *= -dy[:, None]                      # d/dlabels = -log_softmax * dy
                    return loss, {"logits": e, "labels": z}
                return loss, e
            return run

        def run():                                         # sigmoid
            a = np.abs(x)
            np.negative(a, out=a)
            np.exp(a, out=a)                               # exp(-|x|)
            loss = np.maximum(x, 0)
            loss -= x * lab
            loss += np.log1p(a)
            if op == "fwd":
                return loss
            r = np.add(a, 1)
            np.reciprocal(r, out=r)                        # 1 / (1 + exp(-|x|))
            g = np.where(x >= 0, r, a * r)                 # sigmoid(x), stable
            g -= lab
            if op == "vjp":
                g *= dy
                return loss, {"logits": g, "labels": -(x * dy)}
            return loss, g
        return run

    to_numpy = staticmethod(CylossPeer.to_numpy)


class TFPeer:
    impls = ("tf-eager", "tf-function")

    def __init__(self, threads, notes):
        try:
            import tensorflow as tf
        except ImportError as e:
            raise Skip(f"TensorFlow not installed ({e})") from None
        self.tf = tf
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            how = (f"tf.config.threading intra_op={threads}, inter_op={threads}")
        except RuntimeError as e:                       # runtime already initialized
            how = f"could not set threads ({e})"
        onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
        notes.append(f"TensorFlow: {how}; TF defaults otherwise (TF_ENABLE_ONEDNN_OPTS="
                     f"{onednn if onednn is not None else 'unset, i.e. oneDNN on'}); "
                     f"tf.function without jit_compile; gradients by tf.GradientTape.")
        self._fns = {}

    def version(self):
        return self.tf.__version__

    def prepare(self, impl, case, op):
        tf = self.tf
        fn = getattr(tf.nn, case.fn_name)
        L = tf.constant(case.data["labels"])
        X = tf.constant(case.data["logits"])
        DY = tf.constant(case.data["dy"])
        float_labels = case.float_labels()

        if op == "fwd":
            def body(L, X):
                return fn(labels=L, logits=X)
        elif op == "vag":
            def body(L, X):
                with tf.GradientTape() as t:
                    t.watch(X)
                    v = fn(labels=L, logits=X)
                return v, t.gradient(v, X)
        else:
            def body(L, X, DY):
                with tf.GradientTape() as t:
                    t.watch(X)
                    if float_labels:
                        t.watch(L)
                    v = fn(labels=L, logits=X)
                if float_labels:
                    gl, gx = t.gradient(v, [L, X], output_gradients=DY)
                    return v, {"logits": gx, "labels": gl}
                return v, {"logits": t.gradient(v, X, output_gradients=DY)}
        if impl == "tf-function":
            body = tf.function(body)
        args = (L, X, DY) if op == "vjp" else (L, X)
        return lambda: body(*args)

    @staticmethod
    def to_numpy(op, out):
        return CylossPeer.to_numpy(op, _tree_numpy(out))


class TorchPeer:
    impls = ("torch-eager", "torch-compile")

    def __init__(self, threads, notes):
        try:
            import torch
            import torch.nn.functional as F
        except ImportError as e:
            raise Skip(f"PyTorch not installed ({e})") from None
        self.torch, self.F = torch, F
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
            inter = f"set_num_interop_threads({threads})"
        except RuntimeError:
            inter = "interop threads already fixed"
        dyn = getattr(torch, "_dynamo", None)
        if dyn is not None:                            # one graph per case and op
            for attr in ("cache_size_limit", "recompile_limit"):
                if hasattr(dyn.config, attr):
                    setattr(dyn.config, attr, 256)
        notes.append(f"PyTorch: torch.set_num_threads({threads}), {inter}; sparse labels "
                     f"passed as int64 (F.cross_entropy rejects int32, converted outside the "
                     f"timing); torch.compile default mode, dynamic=False, compile time "
                     f"excluded (warm-up); forward under torch.no_grad().")

    def version(self):
        return self.torch.__version__

    def _loss(self, kind):
        F = self.F
        if kind == "sigmoid":
            return lambda lab, x: F.binary_cross_entropy_with_logits(x, lab, reduction="none")
        return lambda lab, x: F.cross_entropy(x, lab, reduction="none")

    def prepare(self, impl, case, op):
        torch = self.torch
        lab_np = case.data["labels"]
        if case.kind == "sparse":
            lab_np = lab_np.astype(np.int64)
        L = torch.from_numpy(lab_np)
        X = torch.from_numpy(case.data["logits"])
        DY = torch.from_numpy(case.data["dy"])
        loss = self._loss(case.kind)
        if impl == "torch-compile":
            loss = torch.compile(loss, dynamic=False)
        if op == "fwd":
            def run():
                with torch.no_grad():
                    return loss(L, X)
            return run
        XR = X.detach().clone().requires_grad_(True)
        if op == "vag":
            ones = torch.ones(case.data["dy"].shape, dtype=X.dtype)

            def run():
                v = loss(L, XR)
                (g,) = torch.autograd.grad(v, XR, ones)
                return v.detach(), g
            return run
        if case.float_labels():
            LR = L.detach().clone().requires_grad_(True)

            def run():
                v = loss(LR, XR)
                gl, gx = torch.autograd.grad(v, (LR, XR), DY)
                return v.detach(), {"logits": gx, "labels": gl}
            return run

        def run():
            v = loss(L, XR)
            (g,) = torch.autograd.grad(v, XR, DY)
            return v.detach(), {"logits": g}
        return run

    @staticmethod
    def to_numpy(op, out):
        return CylossPeer.to_numpy(op, _tree_numpy(out))


class JaxPeer:
    impls = ("jax-jit",)

    def __init__(self, threads, notes, dtypes):
        cores = _cores()
        if threads == 1:
            how = ("XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
                   if _ENV_SET.get("xla") else "XLA_FLAGS could not be set before jax was "
                   "imported: thread count not controlled")
        elif threads < cores:
            how = (f"CPU affinity narrowed to {threads} cores while the XLA CPU client is "
                   f"created (XLA sizes its pool from the affinity mask; no flag sets an "
                   f"arbitrary count)")
        else:
            how = f"XLA default ({cores} threads = all cores; no XLA flag sets a count > 1)"
        try:
            import jax
            import jax.numpy as jnp
        except ImportError as e:
            raise Skip(f"JAX not installed ({e})") from None
        if any(np.dtype(d) == np.float64 for d in dtypes):
            jax.config.update("jax_enable_x64", True)
        mask = None
        if 1 < threads < cores and hasattr(os, "sched_setaffinity"):
            mask = os.sched_getaffinity(0)
            os.sched_setaffinity(0, sorted(mask)[:threads])
        try:
            self.devices = jax.devices("cpu")
            jax.block_until_ready(jax.jit(lambda a: a + 1)(jnp.zeros(4)))
        except RuntimeError as e:
            raise Skip(f"JAX has no CPU backend ({e})") from None
        finally:
            if mask is not None:
                os.sched_setaffinity(0, mask)
        self.jax, self.jnp = jax, jnp
        notes.append(f"JAX: {how}; jax.jit of a log-sum-exp formulation, gradients by "
                     f"jax.vjp inside the jitted function; results block_until_ready().")

    def version(self):
        import jaxlib
        return f"{self.jax.__version__} (jaxlib {jaxlib.__version__})"

    def _loss(self, kind):
        jax, jnp = self.jax, self.jnp
        if kind == "sparse":
            def f(lab, x):
                lse = jax.nn.logsumexp(x, axis=-1)
                return lse - jnp.take_along_axis(x, lab[:, None], axis=-1)[:, 0]
        elif kind == "dense":
            def f(lab, x):
                return -jnp.sum(lab * jax.nn.log_softmax(x, axis=-1), axis=-1)
        else:
            def f(lab, x):
                return jnp.maximum(x, 0) - x * lab + jnp.log1p(jnp.exp(-jnp.abs(x)))
        return f

    def prepare(self, impl, case, op):
        jax, jnp = self.jax, self.jnp
        dev = self.devices[0]
        L, X, DY = (jax.device_put(case.data[k], dev) for k in ("labels", "logits", "dy"))
        f = self._loss(case.kind)
        if op == "fwd":
            jf = jax.jit(f)
            return lambda: jax.block_until_ready(jf(L, X))
        if op == "vag":
            def g(lab, x):
                v, pull = jax.vjp(lambda x: f(lab, x), x)
                return v, pull(jnp.ones_like(v))[0]
            jg = jax.jit(g)
            return lambda: jax.block_until_ready(jg(L, X))
        if case.float_labels():
            def g(lab, x, dy):
                v, pull = jax.vjp(f, lab, x)
                gl, gx = pull(dy)
                return v, {"logits": gx, "labels": gl}
        else:
            def g(lab, x, dy):
                v, pull = jax.vjp(lambda x: f(lab, x), x)
                return v, {"logits": pull(dy)[0]}
        jg = jax.jit(g)
        return lambda: jax.block_until_ready(jg(L, X, DY))

    @staticmethod
    def to_numpy(op, out):
        return CylossPeer.to_numpy(op, _tree_numpy(out))


_ENV_SET = {}


def _prepare_env(threads):
    """Environment that peers read at import (Keras imports jax when TensorFlow
    is imported, so XLA's flags must be in place before any peer loads)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads == 1 and "jax" not in sys.modules and "xla" not in _ENV_SET:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1").strip()
        _ENV_SET["xla"] = True


def _tree_numpy(out):
    if isinstance(out, dict):
        return {k: _tree_numpy(v) for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        return type(out)(_tree_numpy(v) for v in out)
    if hasattr(out, "detach"):                       # torch
        return out.detach().numpy()
    return np.asarray(out)


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- noise

class BusyMeter:
    """CPU time spent by *other* processes (in cores) over a window: busy jiffies
    of the whole machine (/proc/stat) minus this process' CPU time. The machine
    is small and shared; a measurement taken while something else ran is noisy."""

    def __init__(self):
        self.ok = os.path.exists("/proc/stat")
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.start()

    def _read(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
        t = os.times()
        return busy / self.hz, t.user + t.system, time.perf_counter()

    def start(self):
        self.t0 = self._read() if self.ok else None

    def cores(self):
        """Mean number of cores other processes kept busy since start() (None for
        windows too short to tell)."""
        if not self.ok:
            return None
        b1, o1, w1 = self._read()
        b0, o0, w0 = self.t0
        if w1 - w0 < 0.25:                 # jiffies are 10 ms: too coarse to judge
            return None
        return max(0.0, ((b1 - b0) - (o1 - o0)) / max(w1 - w0, 1e-9))


def wait_quiet(max_wait_s, threshold, quiet, window_s=1.0):
    """Wait (up to max_wait_s) for a window in which other processes use less
    than `threshold` cores. Returns the last window's background load."""
    meter, waited, bg = BusyMeter(), 0.0, None
    if not meter.ok:
        return None
    while True:
        meter.start()
        time.sleep(window_s)
        bg = meter.cores()
        if bg < threshold or waited >= max_wait_s:
            return bg
        if waited == 0:
            _progress(f"  machine busy ({bg:.2f} cores used by other processes); "
                      f"waiting up to {max_wait_s:.0f} s for quiet ...", quiet)
        waited += window_s


# --------------------------------------------------------------------------- timing

def time_call(fn, repeat, sample_s, warmup_s):
    """Per-call seconds of `repeat` samples, each `inner` back-to-back calls
    lasting about `sample_s`, after `warmup_s` of warm-up (at least 2 calls)."""
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - t0
        if calls >= 2 and elapsed >= warmup_s:
            break
    t1 = time.perf_counter()
    fn()
    one = min(time.perf_counter() - t1, elapsed / calls)
    inner = max(1, int(sample_s / max(one, 1e-9)))
    samples = []
    gc_on = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t = time.perf_counter_ns()
            for _ in range(inner):
                fn()
            samples.append((time.perf_counter_ns() - t) / inner * 1e-9)
    finally:
        if gc_on:
            gc.enable()
    return samples, inner


def _is_rate(key):
    """Copy-bandwidth entries: "1 thread", "N threads" -> (median, best) bytes/s."""
    return key.endswith(("thread", "threads"))


def copy_bandwidth(threads, repeat=9, nbytes=COPY_BYTES):
    """Bytes (read + written) per second of np.copyto on an `nbytes` array, on 1
    thread and split over `threads` Python threads (np.copyto releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor
    src = np.ones(nbytes // 8)
    dst = np.zeros_like(src)
    out = {"bytes": nbytes}
    meter = BusyMeter()

    def one(n):
        chunks = np.array_split(np.arange(src.size), n)
        bounds = [(int(c[0]), int(c[-1]) + 1) for c in chunks if c.size]
        if n == 1:
            run = lambda: np.copyto(dst, src)          # noqa: E731
        else:
            pool = ThreadPoolExecutor(n)

            def run():
                list(pool.map(lambda b: np.copyto(dst[b[0]:b[1]], src[b[0]:b[1]]), bounds))
        run()
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            run()
            ts.append(time.perf_counter() - t)
        if n > 1:
            pool.shutdown()
        return 2 * nbytes / statistics.median(ts), 2 * nbytes / min(ts)

    out["1 thread"] = one(1)
    if threads > 1:
        out[f"{threads} threads"] = one(threads)
    out["bg_cores"] = meter.cores()
    out["limit"] = max(v[0] for k, v in out.items() if _is_rate(k))
    return out


def _max_rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        a = a.reshape(b.shape) if a.size == b.size else a
        if a.shape != b.shape:
            return float("inf")
    if not a.size:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def check(ref, got):
    """Largest relative error of `got` against cyloss's outputs (same keys)."""
    errs = [_max_rel_err(got[k], ref[k]) for k in ref if k in got]
    missing = [k for k in ref if k not in got]
    return (max(errs) if errs else 0.0), missing


# --------------------------------------------------------------------------- running

def _fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _progress(msg, quiet):
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def _load_peers(wanted, threads, dtypes, notes, quiet):
    peers, skipped = {"cyloss": CylossPeer(threads, notes)}, []
    classes = {"numpy": NumpyPeer, "tf": TFPeer, "torch": TorchPeer, "jax": JaxPeer}
    groups = []
    for w in wanted:
        g = w if w in classes else w.split("-")[0]
        if g not in groups:
            groups.append(g)
    for g in groups:
        _progress(f"loading {g} ...", quiet)
        try:
            peer = classes[g](threads, notes, dtypes) if g == "jax" else classes[g](threads, notes)
        except Skip as e:
            skipped.append(f"{g}: skipped, {e}")
            continue
        except Exception as e:                          # a broken install: skip, say why
            skipped.append(f"{g}: skipped, failed to load: {type(e).__name__}: {e}")
            continue
        peers[g] = peer
    return peers, skipped


def _selected_impls(wanted):
    out = ["cyloss"]
    for w in wanted:
        for impl in PEER_GROUPS.get(w, (w,)):
            if impl not in out:
                out.append(impl)
    return out


def _peer_for(impl, peers):
    group = "cyloss" if impl == "cyloss" else impl.split("-")[0]
    return peers.get(group)


def run(args):
    notes = []
    if args.simd:
        from cyloss import _kernels
        _kernels.use(args.simd)
    threads = args.threads
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    valid = set(PEER_GROUPS) | set(IMPLS) - {"cyloss"}
    for w in wanted:
        if w not in valid:
            raise SystemExit(f"cyloss bench: unknown peer {w!r}; choose from "
                             f"{', '.join(sorted(valid))}")
    impls = _selected_impls(wanted)
    if args.quick and "torch-compile" in impls and not args.peers_explicit:
        impls.remove("torch-compile")
        notes.append("--quick: torch.compile left out (its compile time alone exceeds the "
                     "quick budget); name it in --peers to include it.")
    dtypes = [d.strip() for d in args.dtype.split(",") if d.strip()]
    cases = [Case(spec.strip(), dt) for dt in dtypes for spec in args.cases.split(",")
             if spec.strip()]
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    for o in ops:
        if o not in OPS:
            raise SystemExit(f"cyloss bench: unknown op {o!r}; choose from {', '.join(OPS)}")

    t_start = time.perf_counter()
    _prepare_env(threads)
    peers, skipped = _load_peers(wanted, threads, dtypes, notes, args.quiet)
    _wait(args)
    impls = [i for i in impls if _peer_for(i, peers) is not None]
    _progress("measuring copy bandwidth ...", args.quiet)
    bw = copy_bandwidth(threads, repeat=5 if args.quick else 9, nbytes=args.copy_mb << 20)
    meta = _meta(args, peers, threads, bw)

    results = []
    for case in cases:
        case.make(args.seed)
        for op in ops:
            ref = None
            for impl in impls:
                peer = _peer_for(impl, peers)
                label = f"{case.name} {op} {impl}"
                rec = {"case": case.name, "kind": case.kind, "n": case.n, "c": case.c,
                       "dtype": case.dtype.name, "op": op, "impl": impl}
                try:
                    _progress(f"  {label}", args.quiet)
                    fn = peer.prepare(impl, case, op)
                    t = time.perf_counter()
                    out = fn()                                   # first call: compile
                    rec["first_call_s"] = time.perf_counter() - t
                    got = peer.to_numpy(op, out)
                    if impl == "cyloss":
                        ref = got
                    elif ref is not None:
                        err, missing = check(ref, got)
                        rec["max_rel_err"] = err
                        if missing:
                            rec["missing"] = missing
                    del out, got
                    samples, inner, bg = _measure(fn, args)
                    del fn
                except Exception as e:                            # report, go on
                    rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                    results.append(rec)
                    continue
                rec.update(median_s=statistics.median(samples), min_s=min(samples),
                           samples_s=samples, inner=inner, bg_cores=bg)
                if impl == "cyloss":
                    rec["bytes"] = case.bytes_moved(op)
                    rec["gbps"] = rec["bytes"] / rec["median_s"] / 1e9
                    rec["bw_fraction"] = rec["bytes"] / rec["median_s"] / bw["limit"]
                results.append(rec)
                gc.collect()
        case.data = None
        gc.collect()
    if not args.quick:                 # again at the end: the limit is the better of the two
        _progress("measuring copy bandwidth again ...", args.quiet)
        _wait(args)
        bw2 = copy_bandwidth(threads, nbytes=args.copy_mb << 20)
        bw["runs"] = [{k: v for k, v in b.items() if k != "runs"} for b in (dict(bw), bw2)]
        for k, v in bw2.items():
            if _is_rate(k) and v[0] > bw[k][0]:
                bw[k] = v
        if bw2["limit"] > bw["limit"]:
            bw["limit"] = bw2["limit"]
            meta["copy_limit_gbps"] = bw["limit"] / 1e9
            for r in results:
                if "bytes" in r and "median_s" in r:
                    r["bw_fraction"] = r["bytes"] / r["median_s"] / bw["limit"]
    _add_ratios(results)
    tol = 1e-4                     # float32 rounding of different but sound formulas
    for r in results:
        if r.get("max_rel_err", 0) > tol or r.get("missing"):
            notes.append(f"CHECK: {r['impl']} on {r['case']} {r['op']} differs from cyloss "
                         f"(max rel err {r.get('max_rel_err'):.2e}"
                         + (f", missing {r['missing']}" if r.get("missing") else "") + ")")
    meta["elapsed_s"] = time.perf_counter() - t_start
    meta["waited_s"] = args.waited
    bgs = [r["bg_cores"] for r in results if r.get("bg_cores") is not None]
    if bgs:
        meta["background_cores_max"] = max(bgs)
        meta["background_cores_median"] = statistics.median(bgs)
        noisy = [r for r in results if (r.get("bg_cores") or 0) > args.noise]
        if noisy:
            notes.append(f"NOISE: {len(noisy)} of {len(bgs)} measurements ran while other "
                         f"processes used > {args.noise} cores (max {max(bgs):.2f}); marked * "
                         f"in the table. Re-run on a quiet machine for trustworthy figures.")
    return {"meta": meta, "copy_bandwidth": bw, "impls": impls, "ops": ops,
            "cases": [c.name for c in cases], "results": results,
            "targets": targets(results), "notes": notes, "skipped": skipped}


def _wait(args):
    """wait_quiet within the run's --wait-budget; False when it gave up."""
    left = min(args.wait_quiet, args.wait_budget - args.waited)
    if left <= 0:
        return False
    t = time.perf_counter()
    bg = wait_quiet(left, args.noise, args.quiet)
    args.waited += time.perf_counter() - t
    return bg is not None and bg < args.noise


def _measure(fn, args):
    """time_call, repeated (after waiting for quiet) while other processes
    kept more than --noise cores busy; keeps the quietest attempt."""
    meter, best = BusyMeter(), None
    for attempt in range(1 + max(0, args.retries)):
        if attempt and not _wait(args):
            break
        meter.start()
        samples, inner = time_call(fn, args.repeat, args.sample_ms * 1e-3,
                                   args.warmup_ms * 1e-3)
        bg = meter.cores()
        if best is None or (bg is not None and bg < best[2]):
            best = (samples, inner, bg)
        if bg is None or bg <= args.noise or args.wait_quiet <= 0:
            break
        _progress(f"    noisy ({bg:.2f} background cores), measuring again", args.quiet)
    return best


def _add_ratios(results):
    cy = {(r["case"], r["op"]): r for r in results if r["impl"] == "cyloss" and "median_s" in r}
    for r in results:
        base = cy.get((r["case"], r["op"]))
        if r["impl"] != "cyloss" and base and "median_s" in r:
            r["ratio"] = r["median_s"] / base["median_s"]
            r["ratio_min"] = r["min_s"] / base["min_s"]


def _meta(args, peers, threads, bw):
    from cyloss import _kernels
    return {
        "command": "cyloss bench " + " ".join(args.argv),
        "cpu": _cpu_model(), "cores": _cores(), "platform": platform.platform(),
        "python": sys.version.split()[0],
        "simd": _kernels.level(), "CYLOSS_SIMD": os.environ.get("CYLOSS_SIMD", ""),
        "kernels_built": _built_at(_kernels), "git": _git_head(),
        "threads": threads,
        "versions": {name: p.version() for name, p in peers.items() if name != "numpy"},
        "numpy": np.__version__,
        "repeat": args.repeat, "sample_ms": args.sample_ms, "warmup_ms": args.warmup_ms,
        "seed": args.seed, "quick": args.quick, "noise": args.noise,
        "wait_quiet_s": args.wait_quiet, "wait_budget_s": args.wait_budget,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "copy_limit_gbps": bw["limit"] / 1e9,
    }


def _built_at(kernels):
    """Modification time of the kernel modules in use (they may be rebuilt)."""
    try:
        path = kernels.K.softmax.__file__
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(path)))
    except (AttributeError, OSError):
        return None


def _git_head():
    """`git describe` of the checkout cyloss is imported from, if it is one."""
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --------------------------------------------------------------------------- targets

def _find(results, case=None, op=None, impl=None, pred=None):
    for r in results:
        if "median_s" not in r:
            continue
        if (case is None or r["case"] == case) and (op is None or r["op"] == op) and \
                (impl is None or r["impl"] == impl) and (pred is None or pred(r)):
            yield r


def targets(results):
    """The issue's targets, evaluated on medians (printed, never asserted)."""
    out = []

    def add(name, value, met, detail):
        out.append({"target": name, "value": value, "met": met, "detail": detail})

    cy = {r["case"]: r for r in _find(results, op="vag", impl="cyloss")}
    peers = {}
    for r in _find(results, op="vag"):
        peers.setdefault(r["case"], {})[r["impl"]] = r
    for name, r in cy.items():
        if r["kind"] != "sparse" or r["dtype"] != "float32":
            continue
        p = peers.get(name, {})
        if r["c"] >= 1000:
            tf = p.get("tf-function")
            if tf:
                add(f"{name} fwd+bwd >= 8x tf.function", f"{tf['ratio']:.1f}x",
                    tf["ratio"] >= 8, f"tf.function {_fmt_time(tf['median_s'])} vs cyloss "
                    f"{_fmt_time(r['median_s'])}")
            fast = [p[i] for i in ("torch-eager", "torch-compile", "jax-jit") if i in p]
            if fast:
                best = min(fast, key=lambda q: q["median_s"])
                add(f"{name} fwd+bwd faster than torch/torch.compile/jax.jit",
                    f"{best['ratio']:.2f}x vs {IMPL_TITLES[best['impl']]}",
                    best["ratio"] > 1, f"fastest peer {IMPL_TITLES[best['impl']]} "
                    f"{_fmt_time(best['median_s'])}; compared: "
                    + ", ".join(IMPL_TITLES[q["impl"]] for q in fast))
            add(f"{name} fwd+bwd >= 50% of copy bandwidth", f"{r['bw_fraction'] * 100:.0f}%",
                r["bw_fraction"] >= 0.5, f"{r['gbps']:.1f} GB/s logical")
        elif r["c"] <= 10 and r["n"] * r["c"] >= 1 << 15:
            tf = p.get("tf-function")
            if tf:
                eager = p.get("tf-eager")
                add(f"{name} fwd+bwd >= 4x tf.function", f"{tf['ratio']:.1f}x",
                    tf["ratio"] >= 4, f"tf.function {_fmt_time(tf['median_s'])}"
                    + (f", TF eager {eager['ratio']:.1f}x" if eager else ""))
    for r in _find(results, impl="cyloss", pred=lambda r: r["n"] * r["c"] <= 6):
        if r["op"] in ("fwd", "vag"):
            add(f"{r['case']} {r['op']} call < 10 µs", _fmt_time(r["median_s"]),
                r["median_s"] < 10e-6, f"min {_fmt_time(r['min_s'])}")
    return out


# --------------------------------------------------------------------------- output

def _table_rows(res):
    """Wide rows: case, op, cyloss median (min), GB/s (% copy), one cell per peer."""
    by = {}
    for r in res["results"]:
        by.setdefault((r["case"], r["op"]), {})[r["impl"]] = r
    peers = [i for i in res["impls"] if i != "cyloss"]
    header = ["case", "op", "cyloss median (min)", "GB/s (% copy)"] + \
        [IMPL_TITLES[p] for p in peers]
    rows = []
    for case in res["cases"]:
        for op in res["ops"]:
            cells = by.get((case, op), {})
            cy = cells.get("cyloss", {})
            if "median_s" in cy:
                c0 = f"{_fmt_time(cy['median_s'])} ({_fmt_time(cy['min_s'])}){_mark(cy, res)}"
                c1 = f"{cy['gbps']:.1f} ({cy['bw_fraction'] * 100:.0f}%)" \
                    if cy["bytes"] >= 1 << 20 else "-"
            else:
                c0, c1 = cy.get("error", "-"), "-"
            row = [case, op, c0, c1]
            for p in peers:
                r = cells.get(p)
                if r is None:
                    row.append("-")
                elif "error" in r:
                    row.append("error")
                else:
                    row.append((f"{_fmt_time(r['median_s'])} ({r['ratio']:.1f}x)"
                                if "ratio" in r else _fmt_time(r["median_s"])) + _mark(r, res))
            rows.append(row)
    return header, rows


def args_quick(meta):
    return meta.get("quick", False)


def _mark(r, res):
    return "*" if (r.get("bg_cores") or 0) > res["meta"]["noise"] else ""


def _meta_lines(res):
    m, bw = res["meta"], res["copy_bandwidth"]
    lines = [f"machine: {m['cpu']}, {m['cores']} cores; {m['platform']}; run {m['date']}",
             f"cyloss SIMD level: {m['simd']} (CYLOSS_SIMD={m['CYLOSS_SIMD'] or 'unset'}; "
             f"kernels built {m.get('kernels_built')}, git {m.get('git')}); "
             f"threads: {m['threads']} for cyloss and every peer",
             "versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
             + f", numpy {m['numpy']}, python {m['python']}",
             f"timing: median of {m['repeat']} samples of >= {m['sample_ms']} ms each, after "
             f"{m['warmup_ms']} ms warm-up; ratio = peer median / cyloss median",
             f"copy bandwidth (np.copyto, {bw['bytes'] >> 20} MB, read+write): " + ", ".join(
                 f"{k} {v[0] / 1e9:.1f} GB/s" for k, v in bw.items()
                 if _is_rate(k)) + f"; limit line {bw['limit'] / 1e9:.1f} GB/s"
             + ("" if args_quick(m) else " (best of a measurement before and after the run)")]
    if m.get("background_cores_median") is not None:
        lines.append(f"background load (other processes) during measurements: median "
                     f"{m['background_cores_median']:.2f} cores, max "
                     f"{m['background_cores_max']:.2f}")
    return lines


def render_text(res, out=None):
    out = sys.stdout if out is None else out
    header, rows = _table_rows(res)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        Console = None
    if Console is not None:
        con = Console(file=out, width=max(160, getattr(out, "columns", 0) or 0))
        for line in _meta_lines(res):
            con.print(line, highlight=False, markup=False)
        t = Table(title="cyloss bench: median (min); peers: median (peer / cyloss)")
        for h in header:
            t.add_column(h, justify="left" if h in ("case", "op") else "right")
        for row in rows:
            t.add_row(*row)
        con.print(t)
        tt = Table(title="targets (medians)")
        for h in ("target", "value", "met", "detail"):
            tt.add_column(h)
        for tg in res["targets"]:
            tt.add_row(tg["target"], tg["value"], "[green]yes[/]" if tg["met"] else "[red]NO[/]",
                       tg["detail"])
        con.print(tt)
        for n in res["skipped"] + res["notes"]:
            con.print("note: " + n, highlight=False, markup=False)
        return
    for line in _meta_lines(res):
        print(line, file=out)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)), file=out)
    print("\ntargets (medians):", file=out)
    for tg in res["targets"]:
        print(f"  [{'met' if tg['met'] else 'MISSED'}] {tg['target']}: {tg['value']} "
              f"({tg['detail']})", file=out)
    for n in res["skipped"] + res["notes"]:
        print("note: " + n, file=out)


def render_markdown(res):
    header, rows = _table_rows(res)
    lines = ["# cyloss bench", ""] + [f"- {x}" for x in _meta_lines(res)]
    lines += [f"- command: `{res['meta']['command']}`", "",
              "Cells: median (min) for cyloss; median (peer median / cyloss median) for peers.",
              "", "| " + " | ".join(header) + " |",
              "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "## Targets", "", "| target | value | met | detail |",
              "| --- | --- | --- | --- |"]
    lines += [f"| {t['target']} | {t['value']} | {'yes' if t['met'] else '**no**'} | "
              f"{t['detail']} |" for t in res["targets"]]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in res["skipped"] + res["notes"]]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- CLI

def build_parser():
    p = argparse.ArgumentParser(
        prog="cyloss bench", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peers", default=None,
                   help="comma list from tf, numpy, torch, jax (or tf-eager, tf-function, "
                        "torch-eager, torch-compile, jax-jit); default: all, skipping "
                        "those not installed")
    p.add_argument("--cases", default=None,
                   help="comma list of KIND-NxC, KIND in sparse, dense, sigmoid "
                        f"(default: {','.join(DEFAULT_CASES)})")
    p.add_argument("--ops", default=",".join(OPS), help="comma list from fwd, vag, vjp")
    p.add_argument("--dtype", default="float32", help="float32, float64 or both (comma list)")
    p.add_argument("--threads", type=int, default=2,
                   help="threads for cyloss and every peer (default 2)")
    p.add_argument("--repeat", type=int, default=None, help="timing samples (default 15; 5 quick)")
    p.add_argument("--sample-ms", type=float, default=None,
                   help="minimum length of one sample (default 20 ms; 5 quick)")
    p.add_argument("--warmup-ms", type=float, default=None,
                   help="warm-up per measurement (default 200 ms; 50 quick)")
    p.add_argument("--simd", choices=("base", "avx2", "avx512"), default=None,
                   help="switch cyloss' SIMD level in-process (default: CYLOSS_SIMD or best)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--copy-mb", type=int, default=COPY_BYTES >> 20,
                   help="size of the array copied for the bandwidth limit line (default 256)")
    p.add_argument("--wait-quiet", type=float, default=None, metavar="S",
                   help="wait up to S seconds for a quiet machine before the run and before "
                        "re-measuring a noisy measurement (default 30; 0 with --quick)")
    p.add_argument("--wait-budget", type=float, default=900.0, metavar="S",
                   help="total seconds a run may spend waiting for quiet (default 900)")
    p.add_argument("--noise", type=float, default=0.25, metavar="CORES",
                   help="a measurement is noisy when other processes kept more than this "
                        "many cores busy meanwhile (default 0.25)")
    p.add_argument("--retries", type=int, default=2,
                   help="re-measure a noisy measurement up to this many times (default 2)")
    p.add_argument("--quick", action="store_true",
                   help="3 sparse cases, fwd and vag, fewer samples, no torch.compile")
    p.add_argument("--json", metavar="FILE", help="write every measurement as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the tables as Markdown")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p



# ------------------------------------------------------- the --suite modules --

def suite_parser(suite, doc, repeat=11, sample_ms=20.0, warmup_ms=100.0, **kw):
    """The options every `cyloss bench --suite NAME` module shares."""
    p = argparse.ArgumentParser(prog=f"cyloss bench --suite {suite}", description=doc, **kw)
    p.add_argument("--suite", default=suite)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=repeat)
    p.add_argument("--sample-ms", type=float, default=sample_ms)
    p.add_argument("--warmup-ms", type=float, default=warmup_ms)
    p.add_argument("--no-tf", action="store_true", help="skip the TensorFlow peer")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    return p


def emit(text, markdown=None):
    """Print a suite's table (and write it to `markdown` when given)."""
    print(text)
    if markdown:
        with open(markdown, "w") as f:
            f.write(text + "\n")


def suite_setup(args):
    """Thread counts for cyloss and TensorFlow (oneDNN off, as the conformance
    runs it); returns TF (None with --no-tf or when it is not installed) and
    the samples function `times(fn, repeat=None)` of time_call."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import cyloss
    cyloss.set_num_threads(args.threads)
    tf = None
    if not args.no_tf:
        try:
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        except ImportError:
            tf = None

    def times(fn, repeat=None):
        return time_call(fn, repeat or args.repeat, args.sample_ms / 1e3,
                         args.warmup_ms / 1e3)[0]
    return tf, times


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.threads < 1:
        raise SystemExit("cyloss bench: --threads must be >= 1")
    args.peers_explicit = args.peers is not None
    if args.peers is None:
        args.peers = "tf,numpy,torch,jax"
    if args.cases is None:
        args.cases = ",".join(QUICK_CASES if args.quick else DEFAULT_CASES)
    if args.quick and "--ops" not in " ".join(argv):
        args.ops = "fwd,vag"
    if args.repeat is None:
        args.repeat = 5 if args.quick else 15
    if args.sample_ms is None:
        args.sample_ms = 5.0 if args.quick else 20.0
    if args.warmup_ms is None:
        args.warmup_ms = 50.0 if args.quick else 200.0
    args.waited = 0.0
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 30.0
    if args.repeat < 1:
        raise SystemExit("cyloss bench: --repeat must be >= 1")
    try:
        res = run(args)
    except ValueError as e:
        print(f"cyloss bench: {e}", file=sys.stderr)
        return 2
    render_text(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(render_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
