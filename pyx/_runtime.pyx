# cython: language_level=3
"""Facts about the running machine and OpenMP runtime, compiled once at the
baseline level: which SIMD level the CPU and OS support, and the OpenMP
thread limits (which threadpoolctl changes through omp_set_num_threads)."""

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
    const char *CYL_COMPILER "__VERSION__"
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
