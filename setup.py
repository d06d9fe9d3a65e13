"""Build of cyloss' compiled kernels.

The kernel sources in pyx/ are compiled once per SIMD level into separate
extension modules (cyloss._softmax_base, cyloss._softmax_avx2, ...); the
package imports the best level the CPU supports at run time (cyloss._kernels).
_runtime (CPU and OpenMP facts) is built once, at the baseline level.

Environment:
  CYLOSS_REQUIRE_OPENMP=1  fail if the compiler cannot build OpenMP code
  CYLOSS_DEBUG_CYTHON=1    Cython bounds checks on
  CYLOSS_SANITIZE=1        AddressSanitizer + UndefinedBehaviorSanitizer build
                           with Cython bounds/initialized checks (for
                           tools/sanitize.sh; not for distribution)
  CYLOSS_SIMD_LEVELS=...   comma list of levels to build (default: all the
                           compiler can target on this architecture)
  CYLOSS_BUILD_ONLY=...    comma list of modules to build (kernel modules or
                           _runtime; developer rebuilds, tools/install_so.sh);
                           default all
"""
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
PYX = HERE / "pyx"
GEN = HERE / "build" / "cyloss_gen"

# Cython's utility code (memoryviews, buffer and error helpers) compiled once
# into this module and imported by every kernel module, instead of a copy in
# each of the 3 x 6 modules (~40% of a stripped module's size).
CY_UTILITY = "cyloss._cyutility"

# One module per mathematical family (see each file's docstring).
KERNEL_MODULES = ["_softmax", "_pointwise", "_reduce", "_rows", "_ctc", "_sampled"]

# -ffp-contract=off: no implicit FMA, so every SIMD level computes the same
# bits. Never -ffast-math (gcc links crtfastmath, which sets flush-to-zero in
# the user's whole process). -fno-trapping-math lets gcc vectorize the
# branch-free selects in _vec.h.
# The inline-growth params: each kernel module instantiates its scalar maths
# for many loss kinds x 2 dtypes; with gcc's default unit-growth budget the
# later instantiations stop inlining exp/log (and then do not vectorize).
BASE_FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=off",
              "--param=vect-max-version-for-alias-checks=64",
              "--param=inline-unit-growth=2000", "--param=large-function-growth=10000",
              "--param=large-stack-frame-growth=10000",
              "-fno-semantic-interposition"]
# CYLOSS_SANITIZE=1: every module (kernels, _runtime, _cyutility) compiled and
# linked with ASan + UBSan; the first report ends the process. -O1 instead of
# -O3: the level the sanitizers' documentation recommends (exact stacks) and
# a build that fits tools/sanitize.sh's time budget. gcc does not vectorize at
# -O1, so this checks the index arithmetic of the source (the same at every
# SIMD level, each still built with its -m flags), not the vectorizer's code.
SANITIZE = os.environ.get("CYLOSS_SANITIZE") == "1"
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                  "-fno-sanitize-recover=all", "-g"]
if SANITIZE:
    BASE_FLAGS = [f for f in BASE_FLAGS if f != "-O3"] + ["-O1"] + SANITIZE_FLAGS

X86_LEVELS = {
    "base": [],
    "avx2": ["-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mf16c"],
    "avx512": ["-mavx2", "-mfma", "-mbmi", "-mbmi2", "-mf16c", "-mavx512f",
               "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mprefer-vector-width=512"],
}


def simd_levels():
    wanted = os.environ.get("CYLOSS_SIMD_LEVELS")
    is_x86 = platform.machine().lower() in ("x86_64", "amd64")
    levels = dict(X86_LEVELS) if is_x86 else {"base": []}
    if wanted:
        levels = {k: v for k, v in levels.items() if k in wanted.split(",")}
        levels.setdefault("base", [])
    return levels


def openmp_flags():
    """The compile and link flags for OpenMP: MSVC's /openmp:llvm (OpenMP 3.1+,
    which the `omp simd` pragmas need; its runtime ships with the MSVC
    redistributable), else the first of gcc's -fopenmp and Apple clang's
    -Xpreprocessor -fopenmp + -lomp (libomp's directory from CFLAGS/LDFLAGS)
    that compiles and links a tiny OpenMP program."""
    if sys.platform == "win32":
        return ["/openmp:llvm"], []
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    env = os.environ.get("CFLAGS", "").split() + os.environ.get("LDFLAGS", "").split()
    src = "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel\n{n=omp_get_num_threads();}\nreturn n<1;}\n"
    for compile_flags, link_flags in ((["-fopenmp"], ["-fopenmp"]),
                                      (["-Xpreprocessor", "-fopenmp"], ["-lomp"])):
        with tempfile.TemporaryDirectory() as d:
            c = Path(d) / "t.c"
            c.write_text(src)
            cmd = cc + compile_flags + env + [str(c), "-o", str(Path(d) / "t")] + link_flags
            if subprocess.run(cmd, capture_output=True).returncode == 0:
                return compile_flags, link_flags
    if os.environ.get("CYLOSS_REQUIRE_OPENMP") == "1":
        sys.exit("cyloss: the compiler cannot build OpenMP code and CYLOSS_REQUIRE_OPENMP=1")
    print("cyloss: WARNING: no OpenMP; kernels will run on one thread", file=sys.stderr)
    return ["-fopenmp-simd"], []


def extensions():
    omp_c, omp_l = openmp_flags()
    common = dict(
        include_dirs=[str(PYX), np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_link_args=omp_l + (SANITIZE_FLAGS if SANITIZE else []),
        depends=[str(p) for p in PYX.glob("*.p*d")] + [str(p) for p in PYX.glob("*.h")],
    )
    utility = Extension(CY_UTILITY, [str(GEN / "_cyutility.c")],
                        extra_compile_args=BASE_FLAGS, **common)
    # _runtime installs a NumPy data allocator (_pool.h): NumPy >= 1.22's API.
    runtime = dict(common, define_macros=common["define_macros"]
                   + [("NPY_TARGET_VERSION", "NPY_1_22_API_VERSION")])
    exts = [utility, Extension("cyloss._runtime", [str(PYX / "_runtime.pyx")],
                               extra_compile_args=BASE_FLAGS + omp_c, **runtime)]
    only = os.environ.get("CYLOSS_BUILD_ONLY")
    modules = [m for m in KERNEL_MODULES if not only or m in only.split(",")]
    if only:                    # the kernel modules import the utility module
        exts = [e for e in exts if e.name == CY_UTILITY or e.name[7:] in only.split(",")]
    for level, flags in simd_levels().items():
        for mod in modules:
            # One source, one module per level: Cython names the module after
            # the file, so each level gets its own copy of the .pyx.
            dst = GEN / f"{mod}_{level}.pyx"
            dst.parent.mkdir(parents=True, exist_ok=True)
            src_text = (PYX / f"{mod}.pyx").read_text()
            if not dst.exists() or dst.read_text() != src_text:
                dst.write_text(src_text)
            stub = HERE / "src" / "cyloss" / f"{mod}_{level}.pyi"    # typing stub
            stub.write_text((PYX / f"{mod}.pyi").read_text())
            exts.append(Extension(f"cyloss.{mod}_{level}", [str(dst)],
                                  extra_compile_args=BASE_FLAGS + flags + omp_c,
                                  **common))
    return exts


directives = {
    "language_level": 3,
    "boundscheck": SANITIZE or os.environ.get("CYLOSS_DEBUG_CYTHON") == "1",
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": SANITIZE,
    "embedsignature": True,
}



class BuildExt(build_ext):
    """Compile the extension modules in parallel (one job per core), with the
    flags the compiler family understands: gcc's as written above; clang (macOS)
    without the gcc-only ones it rejects; MSVC translated, and only the baseline
    level (its CPU check in _runtime needs GNU builtins, so the AVX modules
    would never be chosen)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            self.extensions = [e for e in self.extensions
                               if not e.name.endswith(("_avx2", "_avx512"))]
            for e in self.extensions:
                omp = [f for f in e.extra_compile_args if f.startswith("/openmp")]
                e.extra_compile_args = ["/O2", "/fp:precise"] + omp
                e.extra_link_args = []
        else:
            accepted = {}
            for e in self.extensions:
                e.extra_compile_args = [f for f in e.extra_compile_args
                                        if accepted.setdefault(f, self._accepts(f))]
        super().build_extensions()

    def _accepts(self, flag):
        """Whether the C compiler takes `flag` without a warning."""
        if flag.startswith(("-O", "-fsanitize", "-fopenmp", "-Xpreprocessor", "-m", "-g")):
            return True         # universal, or must fail loudly if missing
        with tempfile.TemporaryDirectory() as d:
            c = Path(d) / "t.c"
            c.write_text("int cyl_probe(void) { return 0; }\n")
            try:
                self.compiler.compile([str(c)], output_dir=d, extra_postargs=[flag, "-Werror"])
            except Exception:
                print(f"cyloss: the compiler does not take {flag}; left out", file=sys.stderr)
                return False
        return True


if __name__ == "__main__":      # setuptools runs this file as __main__
    setup(
        ext_modules=cythonize(extensions(), include_path=[str(PYX)],
                              compiler_directives=directives, build_dir=str(GEN / "c"),
                              shared_utility_qualified_name=CY_UTILITY),
        cmdclass={"build_ext": BuildExt},
    )
