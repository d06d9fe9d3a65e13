"""TensorFlow as the oracle, imported the way TF_SEMANTICS.md §0.2 requires.

* oneDNN off (`TF_ENABLE_ONEDNN_OPTS=0`): set here, before TensorFlow is
  imported. With oneDNN on, softmax rejects rank > 5 and rounding may change.
* op determinism stays off: it changes the dense-xent gradient and the sparse
  xent error path. We refuse to run if someone enabled it.
"""
import os
import sys

# Must happen before the first `import tensorflow` in this process.
_PREV_ONEDNN = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
if "tensorflow" not in sys.modules:
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")      # no C++ info/warning spam

TARGET_TF = "2.21"      # the version TF_SEMANTICS.md was verified against

INSTALL_HINT = ("The conformance suite needs TensorFlow as its oracle: "
                "pip install 'cyloss[oracle]'  (tensorflow-cpu==2.21.*, hypothesis, rich)")


class OracleUnavailable(RuntimeError):
    """TensorFlow cannot be used as the oracle (missing, or misconfigured)."""


_TF = None


def tf():
    """The tensorflow module, checked; raises OracleUnavailable with a clear message."""
    global _TF
    if _TF is not None:
        return _TF
    if "tensorflow" in sys.modules and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
        raise OracleUnavailable(
            "TensorFlow was imported before the conformance harness with oneDNN enabled "
            f"(TF_ENABLE_ONEDNN_OPTS={_PREV_ONEDNN!r}); run with TF_ENABLE_ONEDNN_OPTS=0.")
    try:
        import tensorflow as tensorflow_module
    except ImportError as exc:
        raise OracleUnavailable(f"{INSTALL_HINT}\n(import tensorflow failed: {exc})") from exc
    try:
        deterministic = tensorflow_module.config.experimental.is_op_determinism_enabled()
    except AttributeError:      # pragma: no cover - very old TF
        deterministic = False
    if deterministic:
        raise OracleUnavailable(
            "tf.config.experimental.enable_op_determinism() is active; it changes the dense "
            "softmax-xent gradient and the sparse-xent error path (TF_SEMANTICS.md §0.2). "
            "Run the conformance suite in a process that does not enable it.")
    _TF = tensorflow_module
    return _TF


def version():
    return tf().__version__


def version_warning():
    """A one-line warning when the installed TF is not the one the semantics target."""
    v = version()
    if not v.startswith(TARGET_TF + "."):
        return (f"TensorFlow {v} is installed; TF_SEMANTICS.md was verified against "
                f"{TARGET_TF}.x, differences may be TensorFlow's.")
    return ""


def error_class(name):
    """'InvalidArgumentError' -> tf.errors.InvalidArgumentError; builtins by name."""
    import builtins
    if hasattr(builtins, name):
        return getattr(builtins, name)
    return getattr(tf().errors, name)
