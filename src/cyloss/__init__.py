"""cyloss: TensorFlow's loss functions and their gradients, exactly, as typed
Cython + OpenMP kernels behind a NumPy API. See README.md and API.md."""
from importlib.metadata import PackageNotFoundError, version as _version

from . import contrib, keras, legacy_seq2seq, losses, nn, seq2seq
from ._autodiff import value_and_grad, vjp
from ._errors import InvalidArgumentError
from ._kernels import level as simd_level
from ._threads import get_num_threads, set_num_threads

try:
    __version__ = _version("cyloss")
except PackageNotFoundError:      # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["nn", "losses", "contrib", "seq2seq", "legacy_seq2seq", "keras", "vjp", "value_and_grad", "InvalidArgumentError",
           "set_num_threads", "get_num_threads", "simd_level", "__version__"]
