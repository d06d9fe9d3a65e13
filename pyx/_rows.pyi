# Stub of the row-losses kernel module (one per SIMD level: _rows_base, ...).
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32] | NDArray[np.float64]
Labels = NDArray[np.int32] | NDArray[np.int64]
KINDS: dict[str, int]

def k_prob_xent(kind: int, y: Floats, x: Floats, alpha: Floats, eps: float, gamma: float,
                g: Floats | None, loss_out: Floats, dy_out: Floats | None, dx_out: Floats | None,
                scratch: Floats, n_threads: int) -> None: ...
def k_sparse_prob_xent(x: Floats, labels: Labels, eps: float, loss_out: Floats,
                       dx_out: Floats | None, scratch: Floats, n_threads: int) -> None: ...
