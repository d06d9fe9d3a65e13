"""nce_loss / sampled_softmax_loss on denormal expected counts, against numbers
obtained from TensorFlow 2.21 (CPU, tf.nn.* with the same sampled_values and a
GradientTape; hard-coded here: tests/ runs without TF).

TF subtracts log(expected count) from the logits. Its CPU Log treats a
denormal count as zero (-inf, either sign), except in the last n % 8 elements
of a float32 count tensor (its scalar tail), where a positive denormal gives
-103.97208 and a negative one NaN. The cases put the denormal in the packet
part (sampled position 3 of 9), in the float32 tail (position 8 of 9) and in
the [1, 2] true counts (all tail in float32: 2 < 8).
"""
import numpy as np
import pytest

import cyloss
import cyloss.nn

C, D, S = 12, 2, 9
NAN = np.nan

# (dtype, loss, where, which denormal) -> TF's (value, d/dbiases, d/dinputs)
_NCE_DB = [0.13833553690771838, 0.25699862975060694, 0.8729818851927357, 0.9458044950549646,
           0.8106090995513748, 0.6025953147674599, 0.5170302049065201, 0.6538092285526418,
           0.5882352941176471, 0.5245162123204703, 0.7271797446705858, 0.0]


def _db(**at):
    out = list(_NCE_DB)
    for k, v in at.items():
        out[int(k[1:])] = v
    return out


TF = {
    ("float32", "nce_loss", "sec3", "+"): (NAN, _db(c5=1.0), [0.65190625, -0.5169411]),
    ("float32", "nce_loss", "sec8", "+"): (117.4112, _db(c10=1.0), [0.8565215, -0.8209074]),
    ("float32", "nce_loss", "sec8", "-"): (NAN, _db(c10=NAN), [NAN, NAN]),
    ("float32", "nce_loss", "tec1", "-"): (NAN, _db(c1=NAN), [NAN, NAN]),
    ("float32", "nce_loss", "tec1", "small"): (64.87756, _db(c1=0.5), [0.5911559, -0.6162923]),
    ("float32", "sampled_softmax_loss", "sec3", "+"): (NAN, [NAN] * 11 + [0.0], [NAN, NAN]),
    ("float32", "sampled_softmax_loss", "sec8", "+"):
        (103.99486, [-0.5, -0.5] + [0.0] * 8 + [1.0, 0.0], [1.25, -0.5]),
    ("float32", "sampled_softmax_loss", "sec8", "-"): (NAN, [NAN] * 11 + [0.0], [NAN, NAN]),
    ("float32", "sampled_softmax_loss", "tec1", "small"):
        (51.576965, [-0.5, 0.5] + [0.0] * 10, [0.25, 0.25]),
    ("float64", "nce_loss", "sec3", "+"):
        (NAN, _db(c5=1.0), [0.6519062017877033, -0.5169411349756936]),
    ("float64", "nce_loss", "sec8", "+"):
        (NAN, _db(c10=1.0), [0.856521393284764, -0.8209074977808892]),
    ("float64", "nce_loss", "sec8", "-"):
        (NAN, _db(c10=1.0), [0.856521393284764, -0.8209074977808892]),
    ("float64", "nce_loss", "tec1", "-"):
        (NAN, _db(c1=0.5), [0.5911558592253551, -0.6162923062838286]),
    ("float64", "nce_loss", "tec1", "small"):
        (NAN, _db(c1=0.5), [0.5911558592253551, -0.6162923062838286]),
    ("float64", "sampled_softmax_loss", "sec8", "+"): (NAN, [NAN] * 11 + [0.0], [NAN, NAN]),
    ("float64", "sampled_softmax_loss", "tec1", "-"): (NAN, [NAN] * 11 + [0.0], [NAN, NAN]),
}


def _case(dtype, where, which):
    dt = np.dtype(dtype)
    W = (np.arange(C * D).reshape(C, D) % 7 / 4 - 0.75).astype(dt)
    b = (np.arange(C) % 5 / 8 - 0.25).astype(dt)
    x = np.array([[0.5, -1.0]], dt)
    tiny = np.finfo(dt).tiny
    v = {"+": tiny / 4, "-": -tiny / 4, "small": tiny / 1024}[which]
    tec = np.array([[0.5, 0.25]], dt)
    sec = np.linspace(0.1, 0.9, S).astype(dt)
    if where.startswith("sec"):
        sec[int(where[3:])] = v
    else:
        tec[0, int(where[3:])] = v
    return dict(weights=W, biases=b, labels=np.array([[0, 1]]), inputs=x, num_sampled=S,
                num_classes=C, num_true=2, sampled_values=(np.arange(2, 2 + S), tec, sec),
                remove_accidental_hits=False)


def _close(got, want, dtype, magnitude):
    got = np.asarray(got, np.float64).reshape(-1)
    want = np.asarray(want, np.float64).reshape(-1)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    ok = ~np.isnan(want)
    # k = 8 eps of the terms' magnitude: a few roundings and Eigen's exp/log
    tol = 8 * np.finfo(dtype).eps * magnitude
    np.testing.assert_allclose(got[ok], want[ok], rtol=0, atol=tol)


@pytest.mark.parametrize("key", sorted(TF), ids=lambda k: "-".join(k))
def test_denormal_counts_match_tf(key):
    dtype, name, where, which = key
    value, db, dx = TF[key]
    kw = _case(dtype, where, which)
    fn = getattr(cyloss.nn, name)
    with np.errstate(all="ignore"):
        got, backward = cyloss.vjp(fn, **kw)
        g = backward(np.ones_like(got))
    assert got.dtype == np.dtype(dtype)
    _close(got, [value], dtype, abs(value) if np.isfinite(value) else 1)
    # d/dbiases: one G per column (|G| <= 1); d/dinputs: 11 terms G_k W_k (|W| <= 1)
    _close(g["biases"], db, dtype, 1)
    _close(g["inputs"], dx, dtype, 11)
    with np.errstate(all="ignore"):
        again = fn(**kw)
    assert np.array_equal(np.isnan(again), np.isnan(got))


def test_log_counts_kernel_tail_rule():
    """TF's log of a count tensor, position by position (TF 2.21): float32
    denormals give -inf in the first n // 8 * 8 elements; in the tail
    -103.97208 (positive) or NaN (negative); float64 denormals give -inf."""
    from cyloss import _kernels
    t32 = np.finfo(np.float32).tiny
    c = np.full(11, 0.5, np.float32)
    c[[2, 8, 9]] = [t32 / 4, t32 / 1024, -t32 / 4]
    c[10] = -0.0
    out = np.empty_like(c)
    _kernels.K.sampled.k_log_counts(c, out)
    assert out[2] == -np.inf and out[10] == -np.inf
    assert out[8] == np.float32(-103.97208) and np.isnan(out[9])
    # log of the exact 0.5 within 1 ulp: |log 0.5| is in [0.5, 1), where an
    # ulp is eps / 2, so the relative error is below eps of the dtype
    assert np.allclose(out[[0, 1, 3, 7]], np.log(np.float32(0.5)),
                       rtol=np.finfo(np.float32).eps, atol=0)
    t64 = np.finfo(np.float64).tiny
    c = np.array([0.5, t64 / 4, -t64 / 4, t64 / 2**40, np.inf, -np.inf], np.float64)
    out = np.empty_like(c)
    _kernels.K.sampled.k_log_counts(c, out)
    assert np.all(out[1:4] == -np.inf) and out[4] == np.inf and np.isnan(out[5])
    np.testing.assert_allclose(out[0], np.log(0.5), rtol=np.finfo(np.float64).eps)


# num_true = 3, TF's order for d/dinputs: the true part sum_t G_t W[label_t]
# is a Sum over the middle axis of a [B, 3, D] product (added one by one), and
# then added to the matmul's part G_s @ W_s. With +-max in the first column of
# W, NCE's row 0 (G_t = 1/6, G_s = 1/2) gives M + ((M/6 - M/6) - M/6) in TF,
# finite, where adding the true terms onto the matmul's part one by one
# overflows at M + M/6 (sampled softmax's G = -2/15, 1/5 stays finite in both
# orders: the same path, checked too). TF 2.21, dy = [1, 2] (row 1's matmul
# part itself overflows: inf in both orders).
SUM_ORDER = {
    ("float32", "nce_loss"): ([3.465735912322998] * 2, [[2.8356863233997885e+38, 0.0],
                                                        [np.inf, 0.0]]),
    ("float32", "sampled_softmax_loss"): ([1.6094380617141724] * 2,
                                          [[1.814839182072154e+38, 0.0], [np.inf, 0.0]]),
    ("float64", "nce_loss"): ([3.4657359027997265] * 2, [[1.498077612385263e+308, 0.0],
                                                         [np.inf, 0.0]]),
    ("float64", "sampled_softmax_loss"): ([1.6094379124341] * 2,
                                          [[9.587696719265683e+307, 0.0], [np.inf, 0.0]]),
}


@pytest.mark.parametrize("key", sorted(SUM_ORDER), ids=lambda k: "-".join(k))
def test_true_part_of_dx_in_tf_order(key):
    dtype, name = key
    dt = np.dtype(dtype)
    m = np.finfo(dt).max
    W = np.zeros((6, 2), dt)
    W[:, 0] = [m, -m, -m, m, m, 0.0]
    W[5, 1] = 1.0
    kw = dict(weights=W, biases=np.zeros(6, dt), labels=np.array([[0, 1, 2], [0, 1, 2]]),
              inputs=np.array([[0.0, 1.0], [0.0, -0.5]], dt), num_sampled=2, num_classes=6,
              num_true=3, sampled_values=(np.array([3, 4]), np.ones((2, 3), dt), np.ones(2, dt)),
              remove_accidental_hits=False)
    value, dx = SUM_ORDER[key]
    with np.errstate(all="ignore"):
        got, backward = cyloss.vjp(getattr(cyloss.nn, name), **kw)
        g = backward(np.array([1.0, 2.0], dt))
    _close(got, value, dtype, 4)                # a few log1p/exp terms of size ~1
    assert np.array_equal(np.isinf(g["inputs"]), np.isinf(dx))
    fin = np.isfinite(np.asarray(dx))
    # the finite element: M - M/6 (exact halves and sixths of M, one rounding each)
    _close(g["inputs"][fin], np.asarray(dx)[fin], dtype, m)


def test_logits_in_tf_order_where_rounding_decides():
    # Huge weights that cancel: the logits' rounding (up to eps * sum |x w| ~
    # 1e29) decides the softmax. TF forms the true logit as sum(x * w_true) and
    # the sampled ones by matmul; class 0 is both true and sampled. Row 0's
    # two logits of class 0 differ by TF's rounding (loss 7.9e28, TF 2.21), the
    # softmax is one-hot, and dy = 2 times +-max columns of w_0 overflows to
    # inf - inf = NaN in d/dinputs; equal logits (one order for both) give 0.
    m = np.finfo(np.float32).max
    i = np.arange(120.0)
    x = (np.sin(i * 1.6) * 1e-3).astype(np.float32).reshape(3, 40)
    w = (np.cos(i * 1.3 + 9) * 1e-3).astype(np.float32).reshape(3, 40)
    w[0, [6, 14, 26]] = -m
    w[0, 32] = m
    w[0, [7, 17]] = 1e30
    w[0, 12] = -1e30
    with np.errstate(all="ignore"):
        got, backward = cyloss.vjp(
            cyloss.nn.sampled_softmax_loss, w, np.zeros(3, np.float32),
            np.zeros((3, 1), np.int64), x, 2, 3, remove_accidental_hits=False,
            sampled_values=(np.array([0, 1]), np.ones((3, 1), np.float32),
                            np.ones(2, np.float32)))
        dx = backward(np.array([2.0, 1.0, 1.0], np.float32))["inputs"]
    # the value is the difference of the two roundings: TF's bits
    assert got.tolist() == [7.922816251426434e+28, 0.6931471824645996, 0.6931471824645996]
    assert np.argwhere(np.isnan(dx)).tolist() == [[0, 6], [0, 14], [0, 26], [0, 32]]
    assert np.all(dx[~np.isnan(dx)] == 0)


def test_upstream_times_a_normal_probability_flushes_as_tf():
    # the sampled class 1 has p = 1.4e-38 (a normal number); times dy = 0.4 it
    # is a denormal, which TF's Mul flushes: its weight, bias and input
    # gradients get nothing from it (TF 2.21: exactly 0, where the denormal
    # times the input 8 would be 4.3e-38)
    W = np.array([[0, 0], [-10.8125, 0], [0, 1]], np.float32)
    sv = (np.array([1, 2]), np.ones((1, 1), np.float32), np.ones(2, np.float32))
    v, b = cyloss.vjp(cyloss.nn.sampled_softmax_loss, weights=W, biases=np.zeros(3, np.float32),
                      labels=np.array([[0]]), inputs=np.array([[8, 0]], np.float32),
                      num_sampled=2, num_classes=3, sampled_values=sv,
                      remove_accidental_hits=False)
    g = b(np.array([0.4], np.float32))
    assert v.tolist() == [0.6931471824645996]
    assert g["weights"].tolist() == [[-1.600000023841858, 0.0], [0.0, 0.0],
                                     [1.600000023841858, 0.0]]
    assert g["biases"].tolist() == [-0.20000000298023224, 0.0, 0.20000000298023224]
    assert g["inputs"].tolist() == [[0.0, 0.20000000298023224]]


def test_denormal_weights_read_as_zero():
    # a denormal weight is 0 to TF's CPU: 12 sampled copies of its class
    # (p near 1 each) add nothing to d/dinputs (TF 2.21: exactly 0), where
    # the denormal itself would add up to 3.4e-38
    W = np.array([[0.5, 2.938736e-39]], np.float32)
    sv = (np.zeros(12, np.int64), np.ones((1, 1), np.float32), np.ones(12, np.float32))
    v, b = cyloss.vjp(cyloss.nn.nce_loss, weights=W, biases=np.array([3.0], np.float32),
                      labels=np.array([[0]]), inputs=np.array([[1.0, 2.0]], np.float32),
                      num_sampled=12, num_classes=1, sampled_values=sv)
    g = b()
    # the rest: sums of 13 terms (the true logit's and 12 sampled), each a few
    # roundings of exp / log1p (<= 3 eps of itself), added in another order
    # than TF's (<= 12 eps of sum |term|); sum |term| is within 1% of |sum|
    # (the loss terms are all positive; the gradients' one negative term is
    # -0.03 against twelve of +0.97): 16 eps relative
    tol = dict(rtol=16 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(v, [42.386756896972656], **tol)
    np.testing.assert_allclose(g["weights"], [[11.618941307067871, 23.237882614135742]], **tol)
    assert g["inputs"][0, 1] == 0.0
    np.testing.assert_allclose(g["inputs"][0, 0], 5.8094706535339355, **tol)
