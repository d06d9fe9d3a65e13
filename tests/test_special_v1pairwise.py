"""Special values in the pairwise losses' gradients (issue 7): TF's op order.

TF differentiates t = 2.0 * div_no_nan(S2, n1) - 2.0 * div_no_nan(S1^2, n2)
op by op: the upstream of each div_no_nan is 2 g (g = dy * w), which
overflows to +-inf when |g| > max / 2, and only then is it divided by the
denominator and multiplied by Square's local 2 x. With a weight near the
float32 maximum, 2 g overflows: TF's gradients are NaN (inf - inf) where
computing 2 (g / n) would stay finite. The expected numbers come from TF 2.21
(tf.compat.v1.losses.mean_pairwise_squared_error in tf.function, and the
contrib composition of conformance/registry_losses.py), hard-coded here so
that tests/ runs without TF.
"""
import numpy as np
import pytest

import cyloss
import cyloss.contrib.losses as cc
import cyloss.losses as cl

M = np.finfo(np.float32).max
P = np.array([[0.25, 0.5]], np.float32)
Z = np.zeros((1, 2), np.float32)


def _grads(fn, dy, **args):
    value, backward = cyloss.vjp(fn, **args)
    return value, backward(np.float32(dy))


def test_contrib_pairwise_upstream_overflow_is_nan():
    # dy * w = -0.75 max: 2 g = -inf -> TF's d/dpredictions and d/dtargets are NaN
    value, g = _grads(cc.sum_of_pairwise_squares, 0.75, predictions=P, targets=Z,
                      weight=np.array([-M], np.float32))
    assert value == np.float32(-1.06338233e+37)
    assert np.isnan(g["predictions"]).all() and np.isnan(g["targets"]).all()
    assert g["weight"].tolist() == [np.float32(0.0234375)]


def test_contrib_pairwise_upstream_finite_below_half_max():
    # dy * w = -0.25 max: 2 g = -0.5 max stays finite (TF 2.21 values)
    _, g = _grads(cc.sum_of_pairwise_squares, 0.25, predictions=P, targets=Z,
                  weight=np.array([-M], np.float32))
    np.testing.assert_array_equal(
        g["predictions"], np.array([[2.1267645e+37, -2.1267648e+37]], np.float32))
    np.testing.assert_array_equal(g["targets"], -g["predictions"])
    assert g["weight"].tolist() == [np.float32(0.0078125)]


@pytest.mark.parametrize("dy,expected", [
    (0.75, [[np.nan, np.nan]]),
    (0.25, [[-4.2535291e+37, 4.2535296e+37]]),
])
def test_core_pairwise_upstream_overflow(dy, expected):
    value, g = _grads(cl.mean_pairwise_squared_error, dy, labels=Z, predictions=P,
                      weights=np.array([[M]], np.float32))
    assert value == np.float32(2.1267647e+37)
    np.testing.assert_array_equal(g["predictions"], np.array(expected, np.float32))
    np.testing.assert_array_equal(g["labels"], -np.array(expected, np.float32))
    assert g["weights"].tolist() == [[np.float32(dy / 16)]]
