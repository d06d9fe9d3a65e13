"""cyloss next to other users of threads in one process: TensorFlow imported
before or after cyloss, threadpoolctl inspecting and limiting cyloss' OpenMP
runtime (also from a worker thread), fork() after a parallel call, and the
default thread count. (Thread-count precedence, CYLOSS_NUM_THREADS and
threadpoolctl limits set in the main thread are in test_threads.py.)

Whatever needs a fresh interpreter runs in a subprocess with a deadline, so a
hang fails the test instead of stopping the suite."""
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import cyloss
from cyloss import _threads, nn

from _cases import assert_same_bits


def _run(code, *args, timeout=300, **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("CYLOSS_NUM_THREADS", "OMP_NUM_THREADS", "CYLOSS_SIMD")}
    full.update(env, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=full,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


# Inputs big enough that every call below runs its parallel loops on 2 threads.
_BIG = """
import hashlib
import numpy as np
import cyloss
from cyloss import nn, _threads
rng = np.random.default_rng(7)
x = (rng.normal(size=(4500, 40)) * 3).astype(np.float32)
y = rng.dirichlet(np.ones(40), size=4500).astype(np.float32)
lab = rng.integers(0, 40, size=4500)
z = rng.uniform(0, 1, size=x.shape).astype(np.float32)
cyloss.set_num_threads(2)
assert _threads.for_work(x.size) == 2

def cyloss_digest():
    h = hashlib.sha256()
    for fn, args in [(nn.softmax_cross_entropy_with_logits, (y, x)),
                     (nn.sparse_softmax_cross_entropy_with_logits, (lab, x)),
                     (nn.sigmoid_cross_entropy_with_logits, (z, x)),
                     (nn.log_softmax, (x,))]:
        value, backward = cyloss.vjp(fn, *args)
        h.update(np.ascontiguousarray(value).tobytes())
        for name, g in sorted(backward(np.ones_like(value)).items()):
            h.update(name.encode() + np.ascontiguousarray(g).tobytes())
    return h.hexdigest()

def tf_digest(tf):
    h = hashlib.sha256()
    h.update(tf.nn.softmax_cross_entropy_with_logits(y, x).numpy().tobytes())
    h.update(tf.nn.sparse_softmax_cross_entropy_with_logits(lab, x).numpy().tobytes())
    h.update(tf.nn.sigmoid_cross_entropy_with_logits(z, x).numpy().tobytes())
    return h.hexdigest()
"""


def test_tensorflow_import_order_changes_no_result():
    # Each process runs the same cyloss and TF computations; only the import
    # order differs. cyloss' bits must not depend on whether TF (its own
    # thread pools, its own copies of runtime libraries) is loaded, and TF's
    # bits must not depend on whether cyloss' OpenMP runtime was loaded first.
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed (the oracle extra)")
    alone = _run(_BIG + "import json\nprint(json.dumps({'cyloss': cyloss_digest()}))")
    tf_first = _run("import tensorflow as tf\n" + _BIG + textwrap.dedent("""
        import json
        print(json.dumps({'cyloss': cyloss_digest(), 'tf': tf_digest(tf)}))
        """))
    tf_after = _run(_BIG + textwrap.dedent("""
        import json
        before = cyloss_digest()
        import tensorflow as tf
        after = cyloss_digest()
        print(json.dumps({'cyloss_before_tf': before, 'cyloss': after,
                          'tf': tf_digest(tf)}))
        """))
    alone, tf_first, tf_after = (json.loads(s.strip().splitlines()[-1])
                                 for s in (alone, tf_first, tf_after))
    assert tf_first["cyloss"] == alone["cyloss"]
    assert tf_after["cyloss_before_tf"] == alone["cyloss"]
    assert tf_after["cyloss"] == alone["cyloss"]
    assert tf_after["tf"] == tf_first["tf"]


def cyloss_openmp_path():
    """The file of the OpenMP runtime cyloss' modules are bound to: the library
    in which the dynamic linker finds omp_get_max_threads when it searches from
    cyloss._runtime (its own dependencies first), named by dladdr. (Also run in
    subprocesses, from its source: self-contained.)"""
    import ctypes
    import os
    from cyloss import _runtime

    class DlInfo(ctypes.Structure):
        _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p),
                    ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]
    fn = ctypes.CDLL(_runtime.__file__).omp_get_max_threads
    info = DlInfo()
    assert ctypes.CDLL(None).dladdr(ctypes.cast(fn, ctypes.c_void_p), ctypes.byref(info))
    return os.path.realpath(info.fname.decode())


_RUNTIME_PATH = inspect.getsource(cyloss_openmp_path)


def _cyloss_openmp_entries(info):
    path = cyloss_openmp_path()
    return [i for i in info if os.path.realpath(i["filepath"]) == path]


def test_threadpool_info_lists_the_runtime_cyloss_loads():
    # In a fresh process: the OpenMP runtime that appears when cyloss is
    # imported is the one threadpoolctl reports, it is loaded exactly once,
    # and a wheel install uses the copy bundled in cyloss.libs/.
    out = _run(_RUNTIME_PATH + textwrap.dedent("""
        import json, os
        import numpy
        from threadpoolctl import threadpool_info
        def omp():
            return sorted(i["filepath"] for i in threadpool_info() if i["user_api"] == "openmp")
        before = omp()
        import cyloss
        from cyloss import _cli, _runtime
        libs = os.path.join(os.path.dirname(os.path.dirname(cyloss.__file__)), "cyloss.libs")
        print(json.dumps({"before": before, "after": omp(), "mapped": _cli._openmp_libraries(),
                          "info": [i for i in threadpool_info() if i["user_api"] == "openmp"],
                          "bound": cyloss_openmp_path(),
                          "max_threads": _runtime.omp_max_threads(),
                          "bundled": os.path.isdir(libs) and libs}))
        """))
    r = json.loads(out.strip().splitlines()[-1])
    new = sorted(set(r["after"]) - set(r["before"]))
    assert len(new) == 1, r
    assert os.path.realpath(new[0]) == r["bound"], r     # the one cyloss is bound to
    assert r["mapped"] == new, r                 # the only OpenMP runtime in the process
    entry = next(i for i in r["info"] if i["filepath"] == new[0])
    assert entry["internal_api"] == "openmp", entry
    assert entry["num_threads"] == r["max_threads"]
    if r["bundled"]:
        assert os.path.dirname(r["bound"]) == os.path.realpath(r["bundled"]), r


def test_threadpool_limits_from_a_worker_thread(rng):
    x = (rng.normal(size=(4500, 40)) * 3).astype(np.float64)
    lab = rng.integers(0, 40, size=4500)
    cyloss.set_num_threads(3)
    want = nn.sparse_softmax_cross_entropy_with_logits(lab, x)

    def in_worker():
        with threadpool_limits(limits=1, user_api="openmp"):
            limited = _cyloss_openmp_entries(threadpool_info())
            inside = (cyloss.get_num_threads(), _threads.for_work(x.size),
                      nn.sparse_softmax_cross_entropy_with_logits(lab, x))
        return limited, inside, cyloss.get_num_threads()

    with ThreadPoolExecutor(1) as pool:
        limited, (n, n_work, got), after = pool.submit(in_worker).result()
    assert len(limited) == 1 and limited[0]["num_threads"] == 1
    assert (n, n_work) == (1, 1)
    assert_same_bits(got, want, "one thread under a worker's limit")
    assert after == 3                            # the limit ended with the block
    assert cyloss.get_num_threads() == 3         # and never applied to this thread


def test_fork_after_a_parallel_call():
    # The parent runs a 2-thread kernel, then forks; the child must finish the
    # same call with the same bits. The parent gives the child 60 s and kills
    # it otherwise, so a hung child (an OpenMP thread pool that did not survive
    # fork) fails the test instead of leaving a process behind.
    out = _run(_BIG + textwrap.dedent("""
        import os, signal, time
        a = cyloss_digest()
        pid = os.fork()
        if pid == 0:
            try:
                os._exit(0 if cyloss_digest() == a else 3)
            finally:
                os._exit(4)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                print("child", os.waitstatus_to_exitcode(status))
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                print("child hung")
                break
            time.sleep(0.05)
        print("parent", cyloss_digest() == a)
        """))
    assert out.split("\n")[-3:-1] == ["child 0", "parent True"], out


def test_default_is_the_cores_this_process_may_use():
    # API.md: without set_num_threads, CYLOSS_NUM_THREADS or OMP_NUM_THREADS,
    # all cores, i.e. those the process' CPU affinity allows.
    code = """
        import os, sys
        if sys.argv[1] == "one":
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        import cyloss
        print(cyloss.get_num_threads(), len(os.sched_getaffinity(0)))
        """
    n, cores = map(int, _run(code, "all").split())
    assert n == cores
    assert _run(code, "one").split() == ["1", "1"]

