# Stub of the elementwise kernel module (one per SIMD level). 1-D C-contiguous
# float32 or float64 arrays of one dtype; None means "no gradients".
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32] | NDArray[np.float64]

def k_sigmoid_xent(labels: Floats, logits: Floats, loss_out: Floats,
                   dlogits_out: Floats | None, n_threads: int) -> None: ...
def k_weighted_xent(labels: Floats, logits: Floats, pos_weight: Floats, dy: Floats,
                    loss_out: Floats,
                    dlogits_out: Floats | None, dlabels_out: Floats | None,
                    dpw_out: Floats | None, n_threads: int) -> None: ...
def k_log_poisson(targets: Floats, log_input: Floats, full: bool, dy: Floats, loss_out: Floats,
                  dlog_input_out: Floats | None, dtargets_out: Floats | None,
                  n_threads: int) -> None: ...

WEIGHTED_BLOCK: int
KINDS: dict[str, int]

def k_weighted(kind: int, a: Floats, b: Floats, w: Floats, n_rows: int, params: Floats,
               gscale: float, wl_out: Floats | None, raw_out: Floats | None,
               da_out: Floats | None, db_out: Floats | None, junk: Floats,
               partials: Floats, n_threads: int, tf_rows: bool = False) -> float: ...
