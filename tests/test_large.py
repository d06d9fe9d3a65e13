"""Large arrays: more than 2**31 elements, so a 32-bit index anywhere (a
kernel loop, a row offset i * n_classes, a block offset, the position in an
error message) would wrap and give a wrong answer or crash.

Every public wrapper makes its input C-contiguous (np.ascontiguousarray), so a
zero-stride view over a small buffer would be copied to its full size. These
tests use np.zeros instead: NumPy takes large zeroed buffers from calloc, which
the OS maps lazily, so an 8 GiB float32 array that is only READ costs no
memory (every page is the shared zero page) and only the few "marker" values
written at chosen positions cost a page each. The markers sit below and above
2**31 (and near the end), so a wrapped index misses or doubles them, and the
answers are exact closed forms. Results the kernels WRITE at full size (a
gradient of 2**31 elements) need real memory: that test is marked `slow`.
"""
import numpy as np
import pytest

import cyloss
from cyloss import InvalidArgumentError, losses, nn

from _cases import assert_same_bits

BIG = 2 ** 31


def _zeros_with(n, dtype, markers):
    """np.zeros(n) (lazily mapped) with markers {position: value} written."""
    x = np.zeros(n, dtype)
    for i, v in markers.items():
        x[i] = v
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_l2_loss_over_2_31_elements(dtype):
    n = BIG + 4096 * 3 + 17                 # partial last block too
    marks = {0: 1, 5: -2, BIG - 1: 3, BIG: 4, BIG + 4099: -5, n - 1: 6}
    x = _zeros_with(n, dtype, marks)
    cyloss.set_num_threads(2)
    got = nn.l2_loss(x)
    # sum(m^2) / 2 of small integers: exact in either dtype
    want = sum(v * v for v in marks.values()) / 2
    assert got.dtype == dtype and float(got) == want, (float(got), want)


def test_reduction_sum_over_2_31_elements():
    # tf.compat.v1.losses reduction (_pointwise's weighted kernel, blocked sums)
    n = BIG + 1000
    marks = {3: 0.5, BIG - 2: 2, BIG + 7: -4, n - 1: 8}
    x = _zeros_with(n, np.float32, marks)
    got = losses.compute_weighted_loss(x, reduction=losses.Reduction.SUM)
    assert float(got) == sum(marks.values())


def _sparse_case(dtype):
    C = 1024
    R = BIG // C + 3                        # R * C = 2**31 + 3072 elements
    x = np.zeros((R, C), dtype)
    lab = np.zeros(R, np.int32)
    # (row, label, {class: logit}): rows before and after element 2**31
    marked = [(0, 3, {3: 2.0}), (BIG // C - 1, 1000, {1000: -1.5, 7: 4.0}),
              (BIG // C + 1, 1023, {1023: 5.0}), (R - 1, 512, {0: 3.0, 512: 1.0})]
    for r, label, vals in marked:
        lab[r] = label
        for k, v in vals.items():
            x[r, k] = v
    return x, lab, marked


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_sparse_xent_over_2_31_elements(dtype):
    x, lab, marked = _sparse_case(dtype)
    cyloss.set_num_threads(2)
    got = nn.sparse_softmax_cross_entropy_with_logits(lab, x)
    assert got.shape == (x.shape[0],)
    # Every row is computed alone (a row's bits depend on nothing else), so
    # each must equal the same row in a one-row call, bit for bit ...
    zero_row = nn.sparse_softmax_cross_entropy_with_logits(lab[1:2], x[1:2])[0]
    plain = np.ones(x.shape[0], bool)
    for r, label, vals in marked:
        plain[r] = False
        assert_same_bits(got[r], nn.sparse_softmax_cross_entropy_with_logits(
            lab[r:r + 1], x[r:r + 1])[0], f"row {r}")
        # ... and the closed form log(sum_k e^x_k) - x_label within a few eps
        # of the log's magnitude (~7): the row maths' own rounding
        v = np.zeros(x.shape[1])
        for k, val in vals.items():
            v[k] = val
        want = np.log(np.sum(np.exp(v))) - v[label]
        assert abs(float(got[r]) - want) <= 16 * np.finfo(dtype).eps * 8, (r, got[r], want)
    assert_same_bits(got[plain], np.full(int(plain.sum()), zero_row), "unmarked rows")
    assert abs(float(zero_row) - np.log(1024)) <= 4 * np.finfo(dtype).eps * np.log(1024)


def test_label_check_reports_a_position_past_2_31():
    # the label range check runs over 2**31 + 10 labels (zero pages) and must
    # report the bad one at its 64-bit position; the logits are never read
    n = BIG + 10
    lab = _zeros_with(n, np.int32, {BIG + 5: 3})
    x = np.zeros((n, 2), np.float32)
    with pytest.raises(InvalidArgumentError, match=rf"value of 3 .* at position \({BIG + 5},\)"):
        nn.sparse_softmax_cross_entropy_with_logits(lab, x)


@pytest.mark.slow
def test_sparse_xent_gradient_over_2_31_elements():
    # the gradient is WRITTEN at full size: 2**31 + 3072 float32 = 8.0 GiB
    # resident while the test runs (the logits stay zero pages)
    x, lab, marked = _sparse_case(np.float32)
    cyloss.set_num_threads(2)
    value, backward = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, lab, x)
    g = backward()["logits"]
    assert g.shape == x.shape and g.dtype == np.float32
    # unmarked rows: softmax of zeros = 1/1024 (exact), minus 1 at the label 0
    want_zero = np.full(x.shape[1], 1 / 1024, np.float32)
    want_zero[0] -= 1
    for r in (1, BIG // x.shape[1] - 2, BIG // x.shape[1]):       # unmarked rows
        assert_same_bits(g[r], want_zero, f"gradient row {r}")
    for r, label, _ in marked:
        _, b1 = cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits,
                           lab[r:r + 1], x[r:r + 1])
        assert_same_bits(g[r], b1()["logits"][0], f"gradient row {r}")
    del g, backward
