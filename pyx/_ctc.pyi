# Stub of the CTC kernel module (one per SIMD level: _ctc_base, _ctc_avx2,
# _ctc_avx512). Arrays are float32 or float64 (one dtype per call) and
# C-contiguous; labels and lengths int64. None means "not wanted".
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32] | NDArray[np.float64]
Ints = NDArray[np.int64]

def scratch_sizes(n_time: int, max_label: int, n_classes: int) -> tuple[int, int]: ...
def k_ctc(logits: Floats, labels: Ints, label_length: Ints, logit_length: Ints,
          blank: int, time_major: bool, floor: float, kernel64: bool, unique: bool,
          loss_out: Floats,
          dlogits_out: Floats | None, scratch: Floats, iscratch: Ints,
          n_threads: int) -> None: ...
