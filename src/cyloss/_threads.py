"""Thread count for the OpenMP kernels.

Precedence: set_num_threads(n) > CYLOSS_NUM_THREADS > OMP_NUM_THREADS > the
cores this process may run on. A limit set on the OpenMP runtime itself
(threadpoolctl.threadpool_limits, omp_set_num_threads), also from a worker
thread, caps the count for calls made from that thread. Small inputs run on
one thread. Results are bitwise identical for every thread count.
In a child made by os.fork() the kernels run on one thread (see below).
"""
import os
import threading

from . import _runtime

# Below this many elements a parallel region costs more than it saves.
SERIAL_BELOW = 1 << 15

_lock = threading.Lock()
_explicit = None
_forked = False


def _after_fork_in_child():
    # GNU libgomp's thread pool does not survive fork(): the child has only the
    # forking thread, and its first multi-threaded parallel region would wait
    # for the parent's pool threads forever. One thread runs no pool.
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def _env_threads():
    for var in ("CYLOSS_NUM_THREADS", "OMP_NUM_THREADS"):
        val = os.environ.get(var, "").split(",")[0].strip()
        if val:
            try:
                n = int(val)
            except ValueError:
                raise ValueError(f"{var}={val!r} is not a positive integer") from None
            if n < 1:
                raise ValueError(f"{var}={val!r} is not a positive integer")
            return n
    return None


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_num_threads(n):
    """Use at most `n` OpenMP threads in cyloss' kernels (None: back to the default)."""
    global _explicit
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"set_num_threads expects a positive int, got {n!r}")
    with _lock:
        _explicit = n


def get_num_threads():
    """The number of threads cyloss' kernels use for large inputs."""
    if _forked:
        return 1
    n = _explicit
    if n is None:
        n = _env_threads()
    if n is None:
        n = _cores()
    return min(n, _omp_cap())


_OMP_INITIAL = _runtime.omp_max_threads()


def _omp_cap():
    # threadpoolctl and omp_set_num_threads change the calling thread's
    # nthreads ICV; when it differs from its start value, respect it.
    cur = _runtime.omp_max_threads()
    return cur if cur != _OMP_INITIAL else 1 << 30


def for_work(n_elements):
    """Threads for a kernel that touches n_elements values."""
    if n_elements < SERIAL_BELOW:
        return 1
    return get_num_threads()
