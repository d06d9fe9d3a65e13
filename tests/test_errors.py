"""Errors: wrong dtypes raise TypeError, shape mismatches ValueError naming
both shapes, values TF rejects at run time cyloss.InvalidArgumentError
(a ValueError) naming the value and its position; None inputs ValueError."""
import re

import numpy as np
import pytest
from hypothesis import given, seed, strategies as st

import cyloss
from cyloss import nn

from _cases import SEED

F32 = np.float32


def ones(*shape, dtype=F32):
    return np.ones(shape, dtype)


def shapes_re(a, b):
    """A regex matching a message that names both shapes, in either order."""
    a, b = re.escape(str(a)), re.escape(str(b))
    return f"({a}.*{b}|{b}.*{a})"


def test_invalid_argument_error_is_a_value_error():
    assert issubclass(cyloss.InvalidArgumentError, ValueError)
    with pytest.raises(ValueError):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([5]), ones(1, 3))


# ------------------------------------------------------------------ dtypes ---

@pytest.mark.parametrize("bad", [np.int32, np.int64, np.float16, np.bool_, np.complex64])
def test_non_float_logits_are_type_errors(bad):
    x = np.ones((2, 3), bad)
    name = np.dtype(bad).name
    for call in (lambda: nn.softmax(x), lambda: nn.log_softmax(x),
                 lambda: nn.softmax_cross_entropy_with_logits(ones(2, 3), x),
                 lambda: nn.sparse_softmax_cross_entropy_with_logits(np.zeros(2, np.int32), x),
                 lambda: nn.sigmoid_cross_entropy_with_logits(x, x),
                 lambda: nn.weighted_cross_entropy_with_logits(x, x, 2.0),
                 lambda: nn.log_poisson_loss(x, x),
                 lambda: nn.l2_loss(x)):
        with pytest.raises(TypeError, match=f"float32 or float64, got {name}"):
            call()


@pytest.mark.parametrize("bad", [np.float32, np.float64, np.int16, np.uint8, np.bool_])
def test_sparse_labels_must_be_int32_or_int64(bad):
    with pytest.raises(TypeError, match=f"int32 or int64, got {np.dtype(bad).name}"):
        nn.sparse_softmax_cross_entropy_with_logits(np.zeros(2, bad), ones(2, 3))


def test_int_labels_of_both_widths_work():
    x = np.array([[1, 2, 3], [1, -1, 0.5]], F32)
    a = nn.sparse_softmax_cross_entropy_with_logits(np.array([1, 2], np.int32), x)
    b = nn.sparse_softmax_cross_entropy_with_logits(np.array([1, 2], np.int64), x)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fn", [nn.sigmoid_cross_entropy_with_logits, nn.log_poisson_loss])
def test_pointwise_labels_are_not_cast(fn):
    # TF: labels must already have the logits' dtype (no cast)
    with pytest.raises(TypeError, match="float64.*float32"):
        fn(np.ones(3, np.float64), ones(3))
    with pytest.raises(TypeError, match="int64.*float32"):
        fn(np.ones(3, np.int64), ones(3))


def test_weighted_xent_dtypes():
    with pytest.raises(TypeError, match="float64.*float32"):
        nn.weighted_cross_entropy_with_logits(np.ones(3), ones(3), 2.0)
    # pos_weight, unlike labels, is converted to the logits' dtype (TF converts
    # NumPy values): its gradient comes back in that dtype
    x = np.array([-1, 0.5, 2], F32)
    want = nn.weighted_cross_entropy_with_logits(ones(3), x, np.ones(3, F32) * 2)
    for pw in (np.full(3, 2.0), np.full(3, 2, np.int64), np.float64(2)):
        got = nn.weighted_cross_entropy_with_logits(ones(3), x, pw)
        np.testing.assert_array_equal(got, want)
        g = cyloss.vjp(nn.weighted_cross_entropy_with_logits, ones(3), x, pw)[1]()
        assert g["pos_weight"].dtype == F32 and g["pos_weight"].shape == np.shape(pw)
    with pytest.raises(TypeError, match="pos_weight"):
        nn.weighted_cross_entropy_with_logits(ones(3), x, np.array(["a", "b", "c"]))


def test_dense_labels_are_cast_silently():
    # TF casts dense labels to the logits' dtype (int or float64 labels)
    x = np.array([[1, 2, 3]], F32)
    want = nn.softmax_cross_entropy_with_logits(np.array([[0, 1, 0]], F32), x)
    for y in (np.array([[0, 1, 0]], np.int32), np.array([[0, 1, 0]], np.float64)):
        got = nn.softmax_cross_entropy_with_logits(y, x)
        assert got.dtype == F32
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="labels"):
        nn.softmax_cross_entropy_with_logits(np.array([["a", "b", "c"]]), x)


# ------------------------------------------------------------------ shapes ---

def test_sigmoid_xent_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=re.escape("((2, 3) vs (1, 3))")):
        nn.sigmoid_cross_entropy_with_logits(ones(1, 3), ones(2, 3))


def test_weighted_xent_shape_mismatches():
    with pytest.raises(ValueError, match=shapes_re((2, 3), (3, 2))):
        nn.weighted_cross_entropy_with_logits(ones(3, 2), ones(2, 3), 2.0)
    with pytest.raises(ValueError, match=shapes_re((4,), (2, 3))):
        nn.weighted_cross_entropy_with_logits(ones(2, 3), ones(2, 3), ones(4))
    # a pos_weight that widens the shape widens the result, as in TF
    v, bwd = cyloss.vjp(nn.weighted_cross_entropy_with_logits, ones(2, 3), ones(2, 3),
                        ones(2, 2, 3))
    assert v.shape == (2, 2, 3)
    g = bwd()
    assert g["logits"].shape == g["labels"].shape == (2, 3)
    assert g["pos_weight"].shape == (2, 2, 3)


def test_log_poisson_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"`log_input` and `targets`.*\(3, 2\) vs \(2, 3\)"):
        nn.log_poisson_loss(ones(2, 3), ones(3, 2))


def test_sparse_xent_shape_mismatches():
    with pytest.raises(ValueError, match=shapes_re((2,), (3, 3))):
        nn.sparse_softmax_cross_entropy_with_logits(np.zeros(2, np.int32), ones(3, 3))
    with pytest.raises(ValueError, match=r"[Rr]ank.*" + shapes_re((2, 3), (2, 3))):
        nn.sparse_softmax_cross_entropy_with_logits(np.zeros((2, 3), np.int32), ones(2, 3))
    with pytest.raises(ValueError, match="cannot be a scalar"):
        nn.sparse_softmax_cross_entropy_with_logits(np.array(0), F32(1))


def test_dense_xent_labels_that_do_not_broadcast():
    # TF: InvalidArgumentError naming both flattened sizes (a ValueError here)
    with pytest.raises(cyloss.InvalidArgumentError,
                       match=r"logits_size=\[6,4\] labels_size=\[3,4\]"):
        nn.softmax_cross_entropy_with_logits(ones(3, 4), ones(6, 4))
    with pytest.raises(ValueError, match=shapes_re((6, 4), (6, 3))):
        nn.softmax_cross_entropy_with_logits(ones(6, 3), ones(6, 4))


def test_dy_of_the_wrong_shape():
    _, bwd = cyloss.vjp(nn.sigmoid_cross_entropy_with_logits, ones(2, 3), ones(2, 3))
    with pytest.raises(ValueError, match=shapes_re((4,), (2, 3))):
        bwd(np.ones(4, F32))


# ------------------------------------------------------------ run-time values --

@pytest.mark.parametrize("labels, value, position", [
    ([0, 4, 1, 0, 0, 0], 4, "(1,)"),
    ([0, 1, -1, 7, 0, 0], -1, "(2,)"),
    ([3, 2, 1, 0, 0, 9], 9, "(5,)"),
])
def test_sparse_label_out_of_range(labels, value, position):
    lab = np.array(labels, np.int32)
    with pytest.raises(cyloss.InvalidArgumentError) as info:
        nn.sparse_softmax_cross_entropy_with_logits(lab, ones(6, 4))
    msg = str(info.value)
    assert re.search(rf"label value of {value}\b.*\[0, 4\)", msg), msg
    assert f"at position {position}" in msg, msg
    # TF lists every label, in flattened order
    assert "Label values: " + " ".join(map(str, labels)) in msg, msg


def test_sparse_label_out_of_range_is_checked_before_gradients():
    with pytest.raises(cyloss.InvalidArgumentError, match="label value of 3"):
        cyloss.vjp(nn.sparse_softmax_cross_entropy_with_logits, np.array([[0, 3]]),
                   ones(1, 2, 3))


@seed(SEED)
@given(st.data())
def test_sparse_label_out_of_range_anywhere(data):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    c = data.draw(st.integers(1, 6))
    n = int(np.prod(shape))
    flat = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    where = data.draw(st.integers(0, n - 1))
    bad = data.draw(st.one_of(st.integers(-2 ** 31, -1), st.integers(c, 2 ** 31 - 1)))
    flat[where] = bad
    lab = flat.reshape(shape).astype(data.draw(st.sampled_from([np.int32, np.int64])))
    pos = tuple(int(i) for i in np.unravel_index(where, shape))
    with pytest.raises(cyloss.InvalidArgumentError) as info:
        nn.sparse_softmax_cross_entropy_with_logits(lab, np.zeros(shape + (c,), F32))
    msg = str(info.value)
    assert f"label value of {bad} " in msg and str(pos) in msg and f"[0, {c})" in msg, msg


def test_sparse_needs_a_class():
    with pytest.raises(cyloss.InvalidArgumentError, match=r"at least one class.*\[2, 0\]"):
        nn.sparse_softmax_cross_entropy_with_logits(np.zeros(2, np.int32), ones(2, 0))


@pytest.mark.parametrize("axis", [2, -3, 5])
def test_softmax_axis_out_of_range(axis):
    for fn in (nn.softmax, nn.log_softmax):
        with pytest.raises(cyloss.InvalidArgumentError, match=rf"\[-2, 2\).*{axis}"):
            fn(ones(2, 3), axis=axis)


def test_softmax_accepts_every_negative_axis_in_range():
    x = np.arange(6, dtype=F32).reshape(2, 3)
    np.testing.assert_array_equal(nn.softmax(x, axis=-2), nn.softmax(x, axis=0))


@pytest.mark.parametrize("axis", [2, -2, -3])
def test_softmax_xent_axis_is_minus_one_or_non_negative(axis):
    # TF moves the axis with a Range op: -1 or [0, rank) only (-2 fails too)
    with pytest.raises(cyloss.InvalidArgumentError, match=rf"(?<![\w-]){axis}(?!\d)"):
        nn.softmax_cross_entropy_with_logits(ones(2, 3), ones(2, 3), axis=axis)


def test_rank_zero_logits():
    for fn in (nn.softmax, nn.log_softmax):
        with pytest.raises(cyloss.InvalidArgumentError, match=">= 1 dimension"):
            fn(F32(1))
    with pytest.raises(cyloss.InvalidArgumentError, match=">= 1 dimension"):
        nn.softmax_cross_entropy_with_logits(F32(1), F32(1))


def test_axis_must_be_an_int():
    with pytest.raises(TypeError, match="axis"):
        nn.softmax(ones(2, 3), axis=1.0)
    with pytest.raises(TypeError, match="axis"):
        nn.softmax_cross_entropy_with_logits(ones(2, 3), ones(2, 3), axis=True)


# -------------------------------------------------------------- arguments ---

def test_dim_and_axis_together():
    x = ones(2, 3)
    for fn in (nn.softmax, nn.log_softmax):
        with pytest.raises(ValueError, match="Cannot specify both 'dim' and 'axis'"):
            fn(x, axis=0, dim=1)
    with pytest.raises(ValueError, match="Cannot specify both 'dim' and 'axis'"):
        nn.softmax_cross_entropy_with_logits(x, x, axis=0, dim=1)


@pytest.mark.parametrize("call", [
    lambda: nn.softmax(None),
    lambda: nn.log_softmax(None),
    lambda: nn.softmax_cross_entropy_with_logits(None, ones(2, 3)),
    lambda: nn.softmax_cross_entropy_with_logits(ones(2, 3), None),
    lambda: nn.sparse_softmax_cross_entropy_with_logits(None, ones(2, 3)),
    lambda: nn.sparse_softmax_cross_entropy_with_logits(np.zeros(2, np.int32), None),
    lambda: nn.sigmoid_cross_entropy_with_logits(None, ones(3)),
    lambda: nn.sigmoid_cross_entropy_with_logits(ones(3), None),
    lambda: nn.sigmoid_cross_entropy_with_logits(),
    lambda: nn.weighted_cross_entropy_with_logits(None, ones(3), 2.0),
    lambda: nn.weighted_cross_entropy_with_logits(ones(3), None, 2.0),
    lambda: nn.weighted_cross_entropy_with_logits(ones(3), ones(3), None),
    lambda: nn.log_poisson_loss(None, ones(3)),
    lambda: nn.log_poisson_loss(ones(3), None),
    lambda: nn.l2_loss(None),
], ids=lambda c: "")
def test_none_inputs_are_value_errors(call):
    with pytest.raises(ValueError, match="None|must be provided"):
        call()


def test_errors_leave_inputs_alone():
    x = np.arange(6, dtype=F32).reshape(2, 3)
    lab = np.array([0, 3])
    before = (x.copy(), lab.copy())
    with pytest.raises(cyloss.InvalidArgumentError):
        nn.sparse_softmax_cross_entropy_with_logits(lab, x)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(lab, before[1])
