# Stub of the sampled-loss kernel module (one per SIMD level: _sampled_base,
# _sampled_avx2, _sampled_avx512). Float arrays are float32 or float64 (one
# dtype per call), C-contiguous; ids and positions int64. None: not wanted.
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32] | NDArray[np.float64]
Ids = NDArray[np.int64]

def k_hits(labels: Ids, uniq: Ids, last_pos: Ids, hitpos_out: Ids, n_threads: int) -> None: ...
def k_log_counts(counts: Floats, log_out: Floats) -> None: ...
def k_sampled_forward(x: Floats, table: Floats, rows_true: Ids, b_true: Floats,
                      log_tec: Floats, samp: Floats, b_samp: Floats, log_sec: Floats,
                      hitpos: Ids | None, lab: Floats, true_dot: Floats | None, nce: bool,
                      logits_out: Floats, loss_out: Floats, g_out: Floats | None,
                      bounds_out: Floats | None, scratch: Floats, n_threads: int) -> None: ...
def k_sampled_dx(g: Floats, table: Floats, rows_true: Ids, dx_inout: Floats,
                 scratch: Floats, n_threads: int) -> None: ...
def k_scatter_rows(order: Ids, starts: Ids, dest: Ids, g: Floats, x: Floats, dws: Floats,
                   dw_out: Floats, db_out: Floats, n_threads: int) -> None: ...
