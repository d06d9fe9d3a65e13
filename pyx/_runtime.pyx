# cython: language_level=3
"""Facts about the running machine and OpenMP runtime, compiled once at the
baseline level: which SIMD level the CPU and OS support, and the OpenMP
thread limits (which threadpoolctl changes through omp_set_num_threads).
Also the NumPy allocator that recycles large output blocks (_pool.h)."""
cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uint64_t

cnp.import_array()

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int cyl_omp_version(void) { return _OPENMP; }
    static int cyl_omp_max_threads(void) { return omp_get_max_threads(); }
    static int cyl_omp_num_procs(void) { return omp_get_num_procs(); }
    #else
    static int cyl_omp_version(void) { return 0; }
    static int cyl_omp_max_threads(void) { return 1; }
    static int cyl_omp_num_procs(void) { return 1; }
    #endif
    #if defined(__VERSION__)
    #define CYL_COMPILER_VERSION __VERSION__
    #elif defined(_MSC_FULL_VER)
    #define CYL_STR_(x) #x
    #define CYL_STR(x) CYL_STR_(x)
    #define CYL_COMPILER_VERSION "MSVC " CYL_STR(_MSC_FULL_VER)
    #else
    #define CYL_COMPILER_VERSION "unknown"
    #endif
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    /* __builtin_cpu_supports reads CPUID and checks with XGETBV that the OS
       saves the AVX / AVX-512 register state. */
    static int cyl_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int cyl_has_avx512(void) {
        __builtin_cpu_init();
        return cyl_has_avx2() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl");
    }
    #else
    static int cyl_has_avx2(void) { return 0; }
    static int cyl_has_avx512(void) { return 0; }
    #endif
    """
    const char *CYL_COMPILER "CYL_COMPILER_VERSION"
    int cyl_omp_version() nogil
    int cyl_omp_max_threads() nogil
    int cyl_omp_num_procs() nogil
    int cyl_has_avx2() nogil
    int cyl_has_avx512() nogil


def compiler():
    """Version string of the C compiler that built the kernels."""
    return CYL_COMPILER.decode()


def openmp_version():
    """The _OPENMP date the kernels were compiled with (0: built without OpenMP)."""
    return cyl_omp_version()


def omp_max_threads():
    """omp_get_max_threads() as seen from the calling thread."""
    return cyl_omp_max_threads()


def omp_num_procs():
    return cyl_omp_num_procs()


def cpu_simd_levels():
    """SIMD levels this CPU and OS can run, best last."""
    levels = ["base"]
    if cyl_has_avx2():
        levels.append("avx2")
    if cyl_has_avx512():
        levels.append("avx512")
    return levels


# ---------------------------------------------------------------- the pool --
cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMem_Handler:
        pass
    object PyDataMem_SetHandler(object handler)     # returns the previous one

cdef extern from "_pool.h":
    int CYL_POOL_AVAILABLE
    PyDataMem_Handler cyl_pool_handler
    size_t cyl_pool_held, cyl_pool_limit
    uint64_t cyl_pool_hits, cyl_pool_misses
    size_t cyl_pool_release()
    void cyl_pool_unlock()

POOL_AVAILABLE = bool(CYL_POOL_AVAILABLE)
cdef object _pool = (PyCapsule_New(&cyl_pool_handler, "mem_handler", NULL)
                     if CYL_POOL_AVAILABLE else None)


def pool_enter():
    """Make NumPy allocate new arrays of this context from the pool; returns
    the previous handler, for pool_exit."""
    return PyDataMem_SetHandler(_pool)


def pool_exit(previous):
    PyDataMem_SetHandler(previous)


def pool_set_limit(size_t nbytes):
    """Keep at most nbytes of freed blocks (0: keep none). Kept blocks beyond
    a lower limit go at the next free."""
    global cyl_pool_limit
    cyl_pool_limit = nbytes if CYL_POOL_AVAILABLE else 0


def pool_release():
    """Return every kept block to the system; the bytes released."""
    return cyl_pool_release()


def pool_after_fork():
    """In a fork child: free the table's lock, in case another thread of the
    parent held it at the fork (that thread does not exist in the child)."""
    if CYL_POOL_AVAILABLE:
        cyl_pool_unlock()


def pool_stats():
    return {"held": cyl_pool_held, "limit": cyl_pool_limit,
            "hits": cyl_pool_hits, "misses": cyl_pool_misses}
