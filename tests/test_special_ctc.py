"""CTC losses on NaN / inf / huge logits: the numbers, NaN positions and
gradients TensorFlow 2.21 gives (obtained with tf.nn.ctc_loss /
keras.losses.ctc and tf.GradientTape, hard-coded here; these tests run
without TF). See cyloss/_nn_ctc.py and pyx/_ctc.pyx for TF's rules:
the dense path multiplies log-probabilities by a one-hot matrix (-inf * 0 =
NaN) and masks padding frames by multiplying by 0; the C++ kernel (sparse
labels, and float64 dense examples whose log-probabilities fall below the
dense floor) reads frames < logit_length only.
"""
import numpy as np
import pytest

import cyloss
import cyloss._threads
import cyloss.keras

from _cases import assert_special_positions

nan, inf = np.nan, np.inf
F32 = np.float32
F64 = np.float64


def X(shape, dtype, seed, puts=()):
    """Logits rounded to 3 decimals (exact inputs for both sides) with the
    special values `puts` ((index, value), ...) written in."""
    a = np.round(np.random.default_rng(seed).standard_normal(shape), 3).astype(dtype)
    for i, v in puts:
        a[i] = v
    return a


def loss_and_grad(fn, dy_dtype, **kw):
    value, back = cyloss.vjp(fn, **kw)
    return np.asarray(value), back(np.ones(np.shape(value), dy_dtype))


def check(got, want, eps, mag):
    """NaN and inf positions exactly; finite entries within 16 eps of the
    magnitude `mag` of the terms (the per-frame log-softmax and log-sums the
    recursions add, here T <= 4 frames of |x| <= 3 and S <= 6 states, and the
    loss itself): both sides compute the same sums in another order."""
    got, want, fin = assert_special_positions(got, want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=0, atol=16 * eps * mag)


EPS32 = float(np.finfo(F32).eps)
LAB = np.array([[1, 2], [2, 2]], np.int32)
LL = np.array([2, 1], np.int32)
TL = np.array([3, 2], np.int32)


def test_dense_nan_in_a_padding_frame_makes_the_example_nan():
    # example 1 has logit_length 2: TF still computes frame 2 and masks it by
    # multiplying by 0, so its NaN reaches the loss and every gradient entry
    x = X((3, 2, 3), F32, 1, [((2, 1, 0), nan)])
    loss, g = loss_and_grad(cyloss.nn.ctc_loss, F32, labels=LAB, logits=x, label_length=LL,
                            logit_length=TL)
    check(loss, [1.490870714187622, nan], EPS32, 20)
    want = np.array([[[0.0943970978, -0.3682411909, 0.2738440931], [nan] * 3],
                     [[0.0565413982, -0.0109189004, -0.0456225015], [nan] * 3],
                     [[0.0611683019, 0.4365463853, -0.4977147877], [nan] * 3]])
    check(g["logits"], want, EPS32, 20)


def test_dense_minus_inf_logit_of_another_class_makes_the_example_nan():
    # -inf * one_hot 0 = NaN in every label state of that frame
    x = X((3, 2, 3), F32, 2, [((1, 0, 0), -inf)])
    loss, g = loss_and_grad(cyloss.nn.ctc_loss, F32, labels=LAB, logits=x, label_length=LL,
                            logit_length=TL)
    check(loss, [nan, 2.1778793334960938], EPS32, 20)
    want = np.array([[[nan] * 3, [-0.0059202001, 0.6521812081, -0.6462609768]],
                     [[nan] * 3, [-0.2879438102, 0.6703988910, -0.3824551999]],
                     [[nan] * 3, [0.0, 0.0, 0.0]]])
    check(g["logits"], want, EPS32, 20)


def test_dense_minus_inf_without_label_states_or_of_the_label_class_is_finite():
    # no label states (labels [B, 0]): the -inf class is just improbable
    x = X((3, 1, 3), F32, 3, [((1, 0, 2), -inf)])
    loss, g = loss_and_grad(cyloss.nn.ctc_loss, F32, labels=np.zeros((1, 0), np.int32),
                            logits=x, label_length=np.zeros(1, np.int32),
                            logit_length=np.array([3], np.int32))
    check(loss, [2.5652339458465576], EPS32, 20)
    check(g["logits"], [[[-0.1717658043, 0.0083502997, 0.1634155065]],
                        [[-0.5287184119, 0.5287184119, 0.0]],
                        [[-0.9014924765, 0.5888273119, 0.3126651943]]], EPS32, 20)
    # every label is the -inf class: its states observe -inf * 1, not NaN
    x = X((4, 1, 3), F32, 4, [((1, 0, 2), -inf)])
    loss, g = loss_and_grad(cyloss.nn.ctc_loss, F32, labels=np.array([[2, 2]], np.int32),
                            logits=x, label_length=np.array([2], np.int32),
                            logit_length=np.array([4], np.int32))
    check(loss, [1.62371826171875], EPS32, 20)
    check(g["logits"], [[[0.0784541965, 0.1264081001, -0.2048622966]],
                        [[-0.0911229998, 0.0911229998, 0.0]],
                        [[-0.3967517912, 0.6117517948, -0.2150000036]],
                        [[0.1058973968, 0.1715297997, -0.2774272859]]], EPS32, 20)


def test_dense_unique_spreads_a_nan_occupancy_to_the_label_classes_only():
    lab = np.array([[1, 2], [3, 0]], np.int32)
    uy = np.array([[1, 2], [3, 0]], np.int64)
    ui = np.array([[0, 1], [0, 1]], np.int32)
    x = X((3, 2, 4), F32, 5, [((0, 0, 1), nan)])
    loss, g = loss_and_grad(cyloss.nn.ctc_loss, F32, labels=lab, logits=x,
                            label_length=np.array([2, 1], np.int32),
                            logit_length=np.array([3, 3], np.int32), unique=(uy, ui))
    check(loss, [nan, 4.539907455444336], EPS32, 20)
    # class 3 is not a label of example 0: TF's scatter leaves it -inf
    want = np.array([[[nan] * 4, [-0.2874051034, 0.2121433020, 0.1093180999, -0.0340562984]],
                     [[nan] * 3 + [0.0329296999],
                      [-0.4745051861, 0.7350137234, 0.1817966998, -0.4423052073]],
                     [[nan] * 3 + [0.2580345869],
                      [-0.1489751041, 0.4670195878, 0.2522374988, -0.5702819824]]])
    check(g["logits"], want, EPS32, 20)
    # without `unique` (TF's plain path) every class of those frames is NaN
    _, g2 = loss_and_grad(cyloss.nn.ctc_loss, F32, labels=lab, logits=x,
                          label_length=np.array([2, 1], np.int32),
                          logit_length=np.array([3, 3], np.int32))
    assert np.isnan(g2["logits"][:, 0]).all()


def _sparse(indices, values, shape):
    return (np.array(indices, np.int64), np.array(values, np.int32), np.array(shape, np.int64))


def test_sparse_reads_frames_below_logit_length_only():
    # example 0: NaN at frame 2 >= logit_length 2 is never read (TF's C++
    # kernel); example 1: NaN at frame 0 reaches every alignment
    x = X((3, 2, 3), F32, 6, [((2, 0, 1), nan), ((0, 1, 2), nan)])
    loss, g = loss_and_grad(cyloss.nn.ctc_loss, F32,
                            labels=_sparse([[0, 0], [1, 0]], [1, 2], [2, 1]), logits=x,
                            label_length=None, logit_length=np.array([2, 3], np.int32),
                            blank_index=0)
    check(loss, [0.30219709873199463, nan], EPS32, 20)
    want = np.array([[[0.0705355033, -0.0793315992, 0.0087960996], [nan] * 3],
                     [[0.0241889991, -0.1971241981, 0.1729352027], [nan] * 3],
                     [[0.0, 0.0, 0.0], [nan] * 3]])
    check(g["logits"], want, EPS32, 20)


def test_sparse_no_alignment_is_inf_even_with_nan_elsewhere():
    # example 0: repeats need 3 frames of 2 (and a -inf logit): +inf, the
    # softmax as gradient; example 1: same labels, a NaN frame: NaN
    x = X((2, 2, 3), F32, 7, [((0, 0, 2), -inf), ((1, 1, 0), nan)])
    loss, g = loss_and_grad(cyloss.nn.ctc_loss, F32,
                            labels=_sparse([[0, 0], [0, 1], [1, 0], [1, 1]], [1, 1, 1, 1],
                                           [2, 2]),
                            logits=x, label_length=None, logit_length=np.array([2, 2], np.int32),
                            blank_index=0)
    check(loss, [inf, nan], EPS32, 20)
    check(g["logits"], [[[0.4260464013, 0.5739535093, 0.0], [nan] * 3],
                        [[0.1933324933, 0.6953471899, 0.1113203019], [nan] * 3]], EPS32, 20)


def test_float64_dense_below_the_floor_follows_tf_float64_kernel():
    # TF's dense path has no float64; its C++ kernel (the float64 oracle)
    # gives these: -inf and -1e30 logits are probabilities 0, not NaN
    x = X((4, 2, 3), F64, 8, [((1, 0, 2), -inf), ((2, 1, 1), -1e30)])
    loss, g = loss_and_grad(cyloss.nn.ctc_loss, F64, labels=np.array([[1, 2], [1, 0]], np.int32),
                            logits=x, label_length=np.array([2, 1], np.int32),
                            logit_length=np.array([4, 4], np.int32))
    # TF's kernel adds with log1pf(expf(.)) even for double: float32 eps
    check(loss, [1.1092958579031107, 3.5221548639576663], EPS32, 20)
    check(g["logits"], [[[-0.1547953, -0.2141803, 0.3689756], [-0.3288562, -0.1789787, 0.507835]],
                        [[0.065535, -0.065535, 0.0], [0.2420831, -0.3751972, 0.1331141]],
                        [[0.0012431, 0.019622, -0.0208651], [-0.6963549, 0.0, 0.6963549]],
                        [[0.1448572, 0.2834293, -0.4282866], [-0.3905698, -0.0999869, 0.4905567]]],
          EPS32, 20 + 5e-8 / (16 * EPS32))   # (TF's values above are rounded to 7 digits)
    # ordinary float64 inputs keep the dense model (the two agree there)
    clean = cyloss.nn.ctc_loss(np.array([[1, 2], [1, 0]], np.int32), X((4, 2, 3), F64, 8),
                               np.array([2, 1], np.int32), np.array([4, 4], np.int32))
    check(clean, [1.658200230348874, 2.941537240676362], EPS32, 20)


def test_keras_ctc_takes_float32_range_and_tf_label_rules():
    # Keras casts y_pred to float32: float64's max becomes inf, its example NaN
    yt = np.array([[1, 2], [2, 0]], F64)
    yp = X((2, 3, 3), F64, 9, [((0, 1, 1), np.finfo(F64).max)])
    loss, g = loss_and_grad(cyloss.keras.ctc, F64, y_true=yt, y_pred=yp)
    check(loss, [nan, 1.9323710203170776], EPS32, 20)
    check(g["y_pred"], [[[nan] * 3] * 3,
                        [[-0.0185579, 0.0281644, -0.0096065], [-0.048661, 0.7936815, -0.7450205],
                         [-0.0780728, 0.088438, -0.0103653]]],
          EPS32, 20 + 5e-8 / (16 * EPS32))   # (rounded to 7 digits)
    # a NaN label (int32 cast: INT_MIN, counted by label_length) is one-hot
    # zeros on TF's dense path: a number, not an error
    yt2 = np.array([[1, nan], [2, 0]], F64)
    loss2 = cyloss.keras.ctc(yt2, X((2, 3, 3), F32, 10))
    check(loss2, [0.18621182441711426, 2.759176254272461], EPS32, 20)


def test_special_examples_give_the_same_bits_at_any_thread_count():
    # special examples take a per-example slow path inside the prange: the
    # batch's bits must not depend on how examples are split among threads
    # (6 * 16 * 400 logits: above _threads.SERIAL_BELOW, so threads do run)
    x = X((6, 16, 400), F32, 11, [((0, 3, 1), nan), ((2, 7, 0), -inf), ((5, 9, 4), inf)])
    lab = np.tile(np.array([[1, 2, 3]], np.int32), (16, 1))
    args = dict(labels=lab, logits=x, label_length=np.full(16, 3, np.int32),
                logit_length=np.full(16, 6, np.int32))
    assert x.size >= cyloss._threads.SERIAL_BELOW
    out = []
    try:
        for n in (1, 2, 3):
            cyloss.set_num_threads(n)
            v, back = cyloss.vjp(cyloss.nn.ctc_loss, **args)
            out.append((v, back(np.ones(16, F32))["logits"]))
    finally:
        cyloss.set_num_threads(None)
    for v, g in out[1:]:
        np.testing.assert_array_equal(v, out[0][0])
        np.testing.assert_array_equal(g, out[0][1])
    v = out[0][0]
    assert np.isnan(v[[3, 7, 9]]).all() and np.isfinite(np.delete(v, [3, 7, 9])).all()
