# Stub of the softmax-family kernel module (one per SIMD level: _softmax_base,
# _softmax_avx2, _softmax_avx512). Arrays are float32 or float64 (one dtype per
# call), C-contiguous; labels int32 or int64. None means "not wanted".
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32] | NDArray[np.float64]
Labels = NDArray[np.int32] | NDArray[np.int64]

TILE_COLUMNS: int

def k_softmax(logits: Floats, out: Floats, m_scratch: Floats, s_scratch: Floats,
              log_out: bool, n_threads: int) -> None: ...
def k_softmax_bwd(y: Floats, dy: Floats, dx_out: Floats, log_out: bool,
                  n_threads: int) -> None: ...
def k_sparse_xent(logits: Floats, labels: Labels, loss_out: Floats,
                  dlogits_out: Floats | None, m_scratch: Floats, s_scratch: Floats,
                  n_threads: int, e_scratch: Floats | None = None) -> None: ...
def k_xent(logits: Floats, labels: Floats, loss_out: Floats, dlogits_out: Floats | None,
           dlabels_out: Floats | None, n_threads: int) -> None: ...
def k_softmax_mid(logits: Floats, out: Floats, scratch: Floats, log_out: bool,
                  n_threads: int) -> None: ...
def k_softmax_bwd_mid(y: Floats, dy: Floats, dx_out: Floats, scratch: Floats,
                      log_out: bool, n_threads: int) -> None: ...
def k_xent_mid(logits: Floats, labels: Floats, loss_out: Floats, dlogits_out: Floats | None,
               dlabels_out: Floats | None, scratch: Floats, n_threads: int) -> None: ...
def k_sparse_xent_weighted(logits: Floats, labels: Labels, weights: Floats,
                           gscale: Floats | None, ce_out: Floats, cew_out: Floats,
                           dlogits_out: Floats | None, need_ce: bool, n_threads: int) -> None: ...
