# Fused types shared by every kernel: float32/float64 data, int32/int64 labels.
from libc.stdint cimport int32_t, int64_t

ctypedef fused real:
    float
    double

ctypedef fused label_t:
    int32_t
    int64_t
