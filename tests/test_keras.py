"""cyloss.keras (tf.keras.losses, Keras 3.15): TF_SEMANTICS.md section 4 without
TensorFlow. The 4.3 worked examples (the CategoricalCrossentropy seed example
with every reduction, float64 and its three gradients), the 4.4 sharp edges,
the 4.1 pipeline (sample-weight rank fix, "mean_with_sample_weight" divisor,
zero weights, empty batches), every class against an extended-precision
reference (tests/_keras_ref.py) for every reduction in float32 and float64,
hinge label conversion, ignore_class, config / serialization round trips and
the function aliases, dtype rules, unchanged inputs, and bitwise equality
across thread counts and SIMD levels. Gradients: test_keras_grads.py."""
import numpy as np
import pytest

import cyloss
import cyloss.keras as ck
from cyloss import _kernels

import _keras_ref as R
from _cases import assert_close, assert_same_bits, assert_unchanged, snapshot
from _fd import on_grid

F32, F64 = np.float32, np.float64
REDUCTIONS = ["sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight"]
CLASSES = list(R.CLASSES)
# TF_SEMANTICS values are float32 runs printed to 7 significant digits:
# compared at 1e-6 relative (< 1 unit in the 7th digit, ~8 eps32).
PRINTED = 1e-6
# Against the longdouble reference: k eps x scale, where the scale of
# _keras_ref bounds the terms' magnitudes (with a factor 2 of headroom); TF
# 2.21 itself is within 1 eps x scale of it on every class (checked when the
# reference was written), so 8 leaves room for a different but sound order of
# operations.
K_REF = 8


def close(got, want, rtol=PRINTED, atol=1e-7):
    np.testing.assert_allclose(np.asarray(got, F64), np.asarray(want, F64), rtol=rtol, atol=atol)


def make(cls_name, **kw):
    return getattr(ck, cls_name)(**kw)


def run(cls_name, yt, yp, sw=None, **kw):
    return np.asarray(make(cls_name, **kw)(yt, yp, sample_weight=sw))


# ----------------------------------------------------------------- namespace --

EXPECTED_ALL = {
    "Loss", "Reduction", "BinaryCrossentropy", "BinaryFocalCrossentropy",
    "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
    "SparseCategoricalCrossentropy", "CategoricalGeneralizedCrossEntropy", "MeanSquaredError",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber",
    "LogCosh", "CosineSimilarity", "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence",
    "Poisson", "Dice", "Tversky", "Circle", "CTC",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "sparse_categorical_crossentropy",
    "categorical_generalized_cross_entropy", "categorical_hinge", "circle", "cosine_similarity",
    "ctc", "dice", "hinge", "huber", "kld", "KLD", "kullback_leibler_divergence", "logcosh",
    "mae", "MAE", "mape", "MAPE", "mse", "MSE", "msle", "MSLE", "poisson", "squared_hinge",
    "tversky", "get", "serialize", "deserialize",
}


def test_all_names_match_tf_keras_losses():
    assert set(ck.__all__) == EXPECTED_ALL
    for n in EXPECTED_ALL:
        assert getattr(ck, n) is not None


# tf.keras.losses: these names are one object each (checked with TF 2.21)
ALIASES = [("mse", "MSE"), ("mae", "MAE"), ("mape", "MAPE"), ("msle", "MSLE"),
           ("kld", "KLD", "kullback_leibler_divergence")]


@pytest.mark.parametrize("names", ALIASES, ids=lambda t: "=".join(t))
def test_function_aliases_are_the_same_object(names):
    objs = [getattr(ck, n) for n in names]
    assert all(o is objs[0] for o in objs)
    # ... and distinct families stay distinct
    assert ck.mse is not ck.mae and ck.kld is not ck.poisson


def test_reduction_constants():
    assert (ck.Reduction.NONE, ck.Reduction.SUM, ck.Reduction.SUM_OVER_BATCH_SIZE,
            ck.Reduction.AUTO) == ("none", "sum", "sum_over_batch_size", "auto")
    assert tuple(ck.Reduction.all()) == ("auto", "none", "sum", "sum_over_batch_size")


# ------------------------------------------------- 4.3: the seed example --

SEED_T = np.array([[0, 1, 0], [0, 0, 1]], F32)
SEED_P = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], F32)
SEED_W = np.array([0.3, 0.7], F32)


def seed_loss(**kw):
    return ck.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2, **kw)


def test_seed_example_value():
    got = np.asarray(seed_loss()(SEED_T, SEED_P, sample_weight=SEED_W))
    assert got.shape == () and got.dtype == F32
    close(got, 0.5761805)
    # float32 printed by TF as 0.5761805: the float32 result is within 2 ulp of it
    assert abs(float(got) - float(F32(0.5761805))) <= 2 * np.spacing(F32(0.5761805))


def test_seed_example_equals_v1_softmax_cross_entropy():
    v1 = cyloss.losses.softmax_cross_entropy(SEED_T, SEED_P, SEED_W, label_smoothing=0.2)
    got = seed_loss()(SEED_T, SEED_P, sample_weight=SEED_W)
    # both float32 from the same per-row xent; different summation orders of
    # two terms differ by at most a couple of ulp
    assert_close(got, v1, 1.0, 4, F32)


@pytest.mark.parametrize("reduction,want", [
    ("sum", 1.152361), ("none", [0.212219, 0.940142]), ("mean", 0.5761805),
    ("sum_over_batch_size", 0.5761805), ("mean_with_sample_weight", 1.152361),
    (None, [0.212219, 0.940142])])
def test_seed_example_reductions(reduction, want):
    got = np.asarray(seed_loss(reduction=reduction)(SEED_T, SEED_P, sample_weight=SEED_W))
    assert got.shape == np.shape(want) and got.dtype == F32
    close(got, want)


def test_seed_example_without_weights():
    close(seed_loss()(SEED_T, SEED_P), 1.025228)
    close(seed_loss(reduction="none")(SEED_T, SEED_P), [0.7073968, 1.34306])


def test_seed_example_float64():
    got = np.asarray(seed_loss(dtype="float64")(SEED_T.astype(F64), SEED_P.astype(F64),
                                                sample_weight=SEED_W.astype(F64)))
    assert got.dtype == F64 and got.shape == ()
    # TF's float64 value of the float64 inputs (0.05 etc. rounded to float64):
    # a dozen operations on O(1) terms, 16 eps64 of slack
    assert abs(float(got) - 0.5761805076617295) <= 16 * np.finfo(F64).eps
    # dtype=None with float64 inputs computes in float64 too (API.md)
    got2 = np.asarray(seed_loss()(SEED_T.astype(F64), SEED_P.astype(F64),
                                  sample_weight=SEED_W.astype(F64)))
    assert got2.dtype == F64
    assert abs(float(got2) - 0.5761805076617295) <= 16 * np.finfo(F64).eps


def test_seed_example_gradients():
    value, backward = cyloss.vjp(seed_loss(), SEED_T, SEED_P, sample_weight=SEED_W)
    close(value, 0.5761805)
    g = backward()
    assert set(g) == {"y_true", "y_pred", "sample_weight"}
    close(g["y_pred"], [[0.02400718, -0.04635582, 0.02234863],
                        [0.06386685, 0.1522663, -0.2161332]])
    close(g["y_true"], [[0.1780876, 0.0700876, 0.1840876], [0.3891235, 0.1931235, 0.3891235]])
    close(g["sample_weight"], [0.3536984, 0.67153])
    for k, a in (("y_true", SEED_T), ("y_pred", SEED_P), ("sample_weight", SEED_W)):
        assert g[k].shape == a.shape and g[k].dtype == F32, k


def test_seed_example_value_and_grad():
    v, g = cyloss.value_and_grad(seed_loss(), wrt="y_pred")(SEED_T, SEED_P, SEED_W)
    close(v, 0.5761805)
    close(g, [[0.02400718, -0.04635582, 0.02234863], [0.06386685, 0.1522663, -0.2161332]])


# ------------------------------------------------ 4.3: the other examples --

Z = np.array([[0, 1], [1, 0]], F32)
P = np.array([[.1, .9], [.6, .3]], F32)
ZL = np.array([[1, 0, 1], [0, 1, 0]], F32)
XL = np.array([[1, -2, .5], [0, 3, -1]], F32)
RT = np.array([[0, 1, 2], [3, 4, 5]], F32)
RP = np.array([[.5, 1, 0], [3, 6, 4]], F32)

EXAMPLES = [   # (id, class, kwargs, y_true, y_pred, sample_weight, reduction, value)
    ("cce-probs", "CategoricalCrossentropy", {}, SEED_T, [[.2, .5, .3], [.1, .1, .8]], None,
     "sum_over_batch_size", 0.4581454),
    ("scce-logits", "SparseCategoricalCrossentropy", {"from_logits": True}, [1, 2], SEED_P,
     None, "sum_over_batch_size", 0.9868951),
    ("bce-probs", "BinaryCrossentropy", {}, Z, P, None, "sum_over_batch_size", 0.2695554),
    ("bce-logits-ls", "BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1},
     ZL, XL, None, "sum_over_batch_size", 0.3907105),
    ("bfocal", "BinaryFocalCrossentropy", {}, Z, P, None, "sum_over_batch_size", 0.02898501),
    ("bfocal-balanced-logits", "BinaryFocalCrossentropy",
     {"apply_class_balancing": True, "from_logits": True}, ZL, XL, None,
     "sum_over_batch_size", 0.02848275),
    ("cfocal", "CategoricalFocalCrossentropy", {}, SEED_T, [[.2, .5, .3], [.1, .1, .8]], None,
     "sum_over_batch_size", 0.02277657),
    ("mse", "MeanSquaredError", {}, RT, RP, None, "sum_over_batch_size", 1.541667),
    ("mae", "MeanAbsoluteError", {}, RT, RP, None, "sum_over_batch_size", 0.9166666),
    ("mape", "MeanAbsolutePercentageError", {}, RT, RP, None, "sum_over_batch_size",
     8.333336e+07),
    ("msle", "MeanSquaredLogarithmicError", {}, RT, RP, None, "sum_over_batch_size", 0.2529675),
    ("logcosh", "LogCosh", {}, RT, RP, None, "sum_over_batch_size", 0.5339835),
    ("huber", "Huber", {}, RT, RP, None, "sum_over_batch_size", 0.6041667),
    ("cosine", "CosineSimilarity", {}, RT, RP, None, "sum_over_batch_size", -0.6798395),
    ("hinge", "Hinge", {}, Z, P, None, "sum_over_batch_size", 0.725),
    ("squared_hinge", "SquaredHinge", {}, Z, P, None, "sum_over_batch_size", 0.7674999),
    ("categorical_hinge", "CategoricalHinge", {}, Z, P, None, "sum_over_batch_size", 0.45),
    ("poisson", "Poisson", {}, Z, P, None, "sum_over_batch_size", 0.6290464),
    ("kld", "KLDivergence", {}, Z, P, None, "sum_over_batch_size", 0.3080916),
    ("dice", "Dice", {}, Z, P, None, "sum_over_batch_size", 0.2307693),
    ("tversky", "Tversky", {"alpha": .7, "beta": .3}, Z, P, None, "sum_over_batch_size",
     0.2385787),
    ("cgce", "CategoricalGeneralizedCrossEntropy", {"q": .5}, [1, 0], P, None,
     "sum_over_batch_size", 0.27672),
]


@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda e: e[0])
def test_verified_examples(ex):
    _, name, kw, yt, yp, sw, red, want = ex
    yt = np.asarray(yt, F32) if np.asarray(yt).dtype.kind == "f" else np.asarray(yt)
    got = run(name, yt, np.asarray(yp, F32), sw, reduction=red, **kw)
    assert got.dtype == F32 and got.shape == ()
    close(got, want)
    # and the reference module agrees with the same printed figure
    ref, _ = R.loss(name, yt, yp, sw, red, F32, **kw)
    close(ref, want)


# ignore_class example of 4.3
IG_LAB = np.array([1, -1, 0, -1])
IG_X = np.array([[.5, 1, -1], [0, 0, 3], [2, 1, 0], [1, 1, 1]], F32)


@pytest.mark.parametrize("reduction,sw,want", [
    ("none", None, [0.554957, 0, 0.407606, 0]),
    ("sum_over_batch_size", None, 0.4812815),
    ("mean", None, 0.4812815),
    ("sum", None, 0.9625629),
    ("sum_over_batch_size", [1, 2, 3, 4], 0.8888874),
    ("mean_with_sample_weight", [1, 2, 3, 4], 0.4444437)])
def test_ignore_class_examples(reduction, sw, want):
    sw = None if sw is None else np.asarray(sw, F32)
    got = run("SparseCategoricalCrossentropy", IG_LAB, IG_X, sw, from_logits=True,
              ignore_class=-1, reduction=reduction)
    close(got, want)
    ref, _ = R.loss("SparseCategoricalCrossentropy", IG_LAB, IG_X, sw, reduction, F32,
                    from_logits=True, ignore_class=-1)
    close(ref, want)


def test_ignore_class_rows_get_zero_gradient_and_all_ignored_is_zero():
    loss = ck.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    _, bwd = cyloss.vjp(loss, IG_LAB, IG_X)
    g = bwd()["y_pred"]
    assert np.all(g[[1, 3]] == 0) and np.all(g[[0, 2]] != 0)
    all_ign = np.full(4, -1)
    v, bwd = cyloss.vjp(loss, all_ign, IG_X)
    assert float(v) == 0.0
    assert np.all(bwd()["y_pred"] == 0)
    # other reductions too: nothing kept -> 0 (div_no_nan)
    for red in ("sum", "mean_with_sample_weight", "mean"):
        assert float(run("SparseCategoricalCrossentropy", all_ign, IG_X, from_logits=True,
                         ignore_class=-1, reduction=red)) == 0.0


# ------------------------------------------------------- 4.4: sharp edges --

def _huge_row():
    n = 2 ** 24 + 2
    x = np.zeros((1, n), F32)
    x[0, n - 1] = 10.0                        # the true class 2**24 + 1
    return np.array([n - 1], np.int64), x, np.log(np.exp(10.0) + (n - 1))


def test_scce_labels_go_through_the_loss_dtype():
    """float32 cannot hold 2**24 + 1: the class rounds the label to 2**24 (logit
    0), the function form keeps integer labels exact (logit 10) (4.1 last
    paragraph, 4.4). TF 2.21: 16.6368465 and 6.6368465."""
    lab, x, lse = _huge_row()
    cls_v = float(run("SparseCategoricalCrossentropy", lab, x, from_logits=True))
    fn_v = float(np.asarray(ck.sparse_categorical_crossentropy(lab, x, from_logits=True))[0])
    # both share the same log-sum-exp: their difference is the logit gap 10,
    # up to the rounding of two float32 values of magnitude ~17 (a few ulp)
    assert abs((cls_v - fn_v) - 10.0) <= 8 * np.finfo(F32).eps * 17


def test_scce_huge_row_is_accurate():
    """A float32 log-sum-exp over 16.8M terms: summed pairwise or in blocks the
    error is ~log2(n) eps ~ 24 eps ~ 1.4e-6 relative; 1e-5 leaves room for the
    exp/log ulps. TF 2.21 gives 16.6368465 (exact 16.6368444)."""
    lab, x, lse = _huge_row()
    cls_v = float(run("SparseCategoricalCrossentropy", lab, x, from_logits=True))
    assert abs(cls_v - lse) <= 1e-5 * lse


def test_cce_bce_reject_shape_mismatch_statically():
    for name in ("CategoricalCrossentropy", "BinaryCrossentropy"):
        with pytest.raises(ValueError):
            run(name, np.zeros((2, 3), F32), np.full((2, 4), 0.5, F32))
        with pytest.raises(ValueError):
            run(name, np.zeros((2, 3, 1, 2), F32), np.full((2, 3), 0.5, F32))


def test_mse_family_broadcasts_and_reports_incompatible_shapes_at_run_time():
    yt = np.array([[1, 2, 3]], F32)
    yp = np.array([[0, 1, 2], [3, 4, 5]], F32)
    got = run("MeanSquaredError", yt, yp, reduction="none")
    close(got, [((yp[0] - yt[0]) ** 2).mean(), ((yp[1] - yt[0]) ** 2).mean()])
    with pytest.raises(cyloss.InvalidArgumentError):
        run("MeanSquaredError", np.zeros((2, 3), F32), np.zeros((2, 4), F32))


def test_mean_is_exactly_sum_over_batch_size(rng):
    for name in CLASSES:
        kw, yt, yp = R.sample(name, rng, (6, 5), variant=1)
        a = run(name, yt, yp.astype(F32), reduction="mean", **kw)
        b = run(name, yt, yp.astype(F32), reduction="sum_over_batch_size", **kw)
        assert_same_bits(a, b, name)


def test_dice_axis_none_is_one_scalar_and_weights_broadcast_it():
    d = run("Dice", Z, P)
    for red in ("none", "sum", "sum_over_batch_size"):
        assert_same_bits(run("Dice", Z, P, reduction=red), d, red)
    close(run("Dice", Z, P, np.array([1, 0], F32)), float(d) / 2)
    close(run("Dice", Z, P, np.array([1, 0], F32), reduction="none"), [float(d), 0])


@pytest.mark.parametrize("red", REDUCTIONS, ids=str)
def test_empty_batch_returns_empty_unreduced(red):
    got = run("MeanSquaredError", np.zeros((0, 3), F32), np.zeros((0, 3), F32), reduction=red)
    assert got.shape == (0,) and got.dtype == F32
    got = run("CategoricalCrossentropy", np.zeros((0, 3), F32), np.zeros((0, 3), F32),
              from_logits=True, reduction=red)
    assert got.shape == (0,)


@pytest.mark.parametrize("shape", [(0, 2, 3), (2, 0, 3)])
def test_empty_non_batch_axes_reduce_to_zero(shape):
    z = np.zeros(shape, F32)
    for red in ("sum", "sum_over_batch_size", "mean_with_sample_weight"):
        got = run("MeanSquaredError", z, z, reduction=red)
        assert got.shape == () and float(got) == 0.0, red


def test_mean_over_an_empty_last_axis_is_nan():
    z = np.zeros((2, 0), F32)
    assert np.isnan(run("MeanSquaredError", z, z))
    assert np.isnan(run("MeanSquaredError", z, z, reduction="none")).all()


# -------------------------------------------------- 4.1: pipeline consequences --

def test_sample_weight_b_and_b1_give_same_scalar_but_none_shapes_differ():
    w1 = run("CategoricalCrossentropy", SEED_T, SEED_P, SEED_W, from_logits=True,
             label_smoothing=0.2)
    w2 = run("CategoricalCrossentropy", SEED_T, SEED_P, SEED_W[:, None], from_logits=True,
             label_smoothing=0.2)
    assert_same_bits(w1, w2)
    n1 = run("CategoricalCrossentropy", SEED_T, SEED_P, SEED_W, from_logits=True,
             label_smoothing=0.2, reduction="none")
    n2 = run("CategoricalCrossentropy", SEED_T, SEED_P, SEED_W[:, None], from_logits=True,
             label_smoothing=0.2, reduction="none")
    assert n1.shape == (2,) and n2.shape == (2, 1)
    assert_same_bits(n1, n2[:, 0])


def test_mean_with_sample_weight_divides_by_the_unbroadcast_weight_sum(rng):
    """MSE on [2,3,4] with w [[1],[2]]: values [2,3] x w; sobs divides by 6,
    mws by sum(w) = 3 (not 3 * 3): TF's 2.923224 / 0.487204 / 0.974408 have
    exactly these ratios. Checked on random data against the reference."""
    assert abs(2.923224 / 6 - 0.487204) < 1e-6 and abs(2.923224 / 3 - 0.974408) < 1e-6
    yt, yp = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    w = np.array([[1.0], [2.0]])
    s = run("MeanSquaredError", yt, yp, w, reduction="sum")
    sobs = run("MeanSquaredError", yt, yp, w)
    mws = run("MeanSquaredError", yt, yp, w, reduction="mean_with_sample_weight")
    for red, got in (("sum", s), ("sum_over_batch_size", sobs),
                     ("mean_with_sample_weight", mws)):
        want, sc = R.loss("MeanSquaredError", yt, yp, w, red, F64)
        assert_close(got, want, sc, K_REF, F64, red)
    # float64 divisions by 6 and 3 are correctly rounded quotients of the same sum
    assert float(sobs) == float(s) / 6 and float(mws) == float(s) / 3


@pytest.mark.parametrize("red", REDUCTIONS, ids=str)
def test_all_zero_sample_weights(red):
    w = np.zeros(2, F32)
    got = run("CategoricalCrossentropy", SEED_T, SEED_P, w, from_logits=True, reduction=red)
    if red in ("none", None):
        assert got.shape == (2,) and np.all(got == 0)
    else:
        assert got.shape == () and float(got) == 0.0
    _, bwd = cyloss.vjp(make("CategoricalCrossentropy", from_logits=True, reduction=red),
                        SEED_T, SEED_P, sample_weight=w)
    g = bwd()
    assert np.all(g["y_pred"] == 0) and np.all(g["y_true"] == 0)
    if red == "mean_with_sample_weight":       # div_no_nan: both gradients 0
        assert np.all(g["sample_weight"] == 0)


def test_incompatible_sample_weight_is_invalid_argument():
    yt = np.zeros((2, 3, 4), F32)
    with pytest.raises(cyloss.InvalidArgumentError):     # [B] weights for [B, T] values
        run("MeanSquaredError", yt, yt, np.ones(2, F32))
    with pytest.raises(cyloss.InvalidArgumentError):     # [B, C] weights for [B] values
        run("CategoricalCrossentropy", SEED_T, SEED_P, np.ones((2, 3), F32))


def test_rank_one_single_sample_is_returned_as_is():
    """Values of shape () are never reduced: a rank-1 input is one sample."""
    y, p = np.array([0, 1, 0], F32), np.array([.2, .5, .3], F32)
    for red in REDUCTIONS:
        got = run("CategoricalCrossentropy", y, p, reduction=red)
        assert got.shape == ()
        close(got, -np.log(0.5))


def test_rank_fix_between_labels_and_predictions():
    """[B] labels with [B, 1] predictions are expanded; [B, T, 1] vs [B, T]
    squeezed (4.1 step 2)."""
    yt = np.array([1.0, 2.0, 3.0], F32)
    yp = np.array([[1.5], [2.0], [2.0]], F32)
    close(run("MeanSquaredError", yt, yp, reduction="none"), [0.25, 0, 1])
    yt3 = np.arange(6, dtype=F32).reshape(2, 3, 1)
    yp2 = np.zeros((2, 3), F32)
    close(run("MeanSquaredError", yt3, yp2, reduction="none"), (yt3[..., 0] ** 2).mean(-1))


def test_regression_function_forms_apply_the_rank_fix_themselves():
    yt = np.array([1.0, 2.0, 3.0], F32)
    yp = np.array([[1.5], [2.0], [2.0]], F32)
    for fn, want in ((ck.mse, [0.25, 0, 1]), (ck.mae, [0.5, 0, 1]), (ck.hinge, None)):
        got = np.asarray(fn(yt, yp))
        assert got.shape == (3,)
        if want is not None:
            close(got, want)


def test_scce_label_shapes_and_float_labels(rng):
    """[B, 1] labels are squeezed; float labels are truncated towards 0."""
    x = rng.normal(size=(4, 5)).astype(F32)
    lab = np.array([1, 4, 0, 2])
    want = run("SparseCategoricalCrossentropy", lab, x, from_logits=True, reduction="none")
    assert want.shape == (4,)
    assert_same_bits(run("SparseCategoricalCrossentropy", lab[:, None], x, from_logits=True,
                         reduction="none"), want)
    assert_same_bits(run("SparseCategoricalCrossentropy", lab + np.float32(0.75), x,
                         from_logits=True, reduction="none"), want)


def test_dice_tversky_tuple_axis(rng):
    yt = on_grid(rng.uniform(0, 1, size=(3, 4, 2)))
    yp = on_grid(rng.uniform(0, 1, size=(3, 4, 2)))
    for name, kw in (("Dice", {"axis": (1, 2)}), ("Tversky", {"axis": (1, 2), "alpha": 0.25,
                                                              "beta": 0.75})):
        got = run(name, yt, yp, reduction="none", **kw)
        want, sc = R.loss(name, yt, yp, None, "none", F64, **kw)
        assert got.shape == (3,)
        assert_close(got, want, sc, K_REF, F64, name)


def test_circle_function_with_reference_embeddings(rng):
    P = rng.normal(size=(4, 3))
    P = 0.8 * P / np.linalg.norm(P, axis=1, keepdims=True)
    E = rng.normal(size=(5, 3))
    E = 0.8 * E / np.linalg.norm(E, axis=1, keepdims=True)
    lab, ref = np.array([0, 1, 0, 2]), np.array([0, 1, 1, 2, 0])
    for rd in (True, False):
        got = np.asarray(ck.circle(lab, P, ref_labels=ref, ref_embeddings=E, remove_diagonal=rd,
                                   gamma=8.0))
        want, sc, _ = R.values("circle", lab, P, F64, ref_labels=ref, ref_embeddings=E,
                               remove_diagonal=rd, gamma=8.0)
        assert_close(got, want, sc, K_REF, F64, f"circle remove_diagonal={rd}")


# ------------------------------------------------------------- reductions --

@pytest.mark.parametrize("red", REDUCTIONS, ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", CLASSES)
def test_every_class_against_reference(name, dtype, weighted, red, rng):
    for variant in (0, 1):
        kw, yt, yp = R.sample(name, rng, (4, 5), variant)
        axis0 = kw.get("axis") == 0
        global_ = name in ("Dice", "Tversky") and "axis" not in kw
        B = yp.shape[-1] if axis0 else (1 if global_ else yp.shape[0])
        sw = R.sample_weight(rng, B) if weighted else None
        if global_ and weighted:
            sw = sw[:1]
        ytc = yt.astype(dtype) if yt.dtype.kind == "f" else yt
        got = np.asarray(make(name, reduction=red, **kw)(
            ytc, yp.astype(dtype), sample_weight=None if sw is None else sw.astype(dtype)))
        want, sc = R.loss(name, yt, yp, sw, red, dtype, **kw)
        assert got.dtype == dtype, (variant, got.dtype)
        assert_close(got, want, sc, K_REF, dtype, f"{name} v{variant} {red}")


@pytest.mark.parametrize("bad", ["auto", "weighted_mean", "SUM", "", "sum_by_nonzero_weights",
                                 0])
def test_bad_reduction_is_value_error(bad):
    for name in ("CategoricalCrossentropy", "MeanSquaredError", "Dice", "CTC"):
        with pytest.raises(ValueError):
            make(name, reduction=bad)


# ---------------------------------------------------------- hinge / clipping --

def test_hinge_converts_binary_labels_only_when_all_are_binary():
    y = np.array([[0, 1], [1, 0]], F32)
    p = np.array([[.3, -.2], [.5, .8]], F32)
    t = 2 * y - 1
    close(run("Hinge", y, p, reduction="none"), np.maximum(1 - t * p, 0).mean(-1))
    y2 = y.copy()
    y2[1, 1] = 0.5                                  # one non-binary value anywhere
    close(run("Hinge", y2, p, reduction="none"), np.maximum(1 - y2 * p, 0).mean(-1))
    close(run("SquaredHinge", y2, p, reduction="none"),
          (np.maximum(1 - y2 * p, 0) ** 2).mean(-1))
    # -1/1 labels are not binary in Keras' sense: used as they are
    close(run("Hinge", t, p, reduction="none"), np.maximum(1 - t * p, 0).mean(-1))


@pytest.mark.parametrize("name,kw", [
    ("BinaryCrossentropy", {}), ("BinaryFocalCrossentropy", {}),
    ("CategoricalCrossentropy", {}), ("CategoricalFocalCrossentropy", {}),
    ("SparseCategoricalCrossentropy", {}), ("KLDivergence", {})])
def test_clipped_probabilities_get_zero_gradient(name, kw):
    """p = 0 or 1 exactly lies outside [eps, 1 - eps]: clip_by_value passes no
    gradient there (4.2 Gradients)."""
    if name == "SparseCategoricalCrossentropy":
        yt = np.array([1, 0])
        yp = np.array([[0.0, 0.5, 1.0], [0.25, 1.0, 0.0]], F32)
    elif name.startswith("Categorical"):
        yt = np.array([[0, 1, 0], [1, 0, 0]], F32)
        yp = np.array([[0.0, 1.0, 0.0], [0.25, 0.75, 0.0]], F32)   # o = 0 / 1 after renorm
    else:
        yt = np.array([[0, 1, 1], [1, 0, 0.5]], F32)
        yp = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.25]], F32)
    v, bwd = cyloss.vjp(make(name, **kw), yt, yp)
    assert np.isfinite(v)
    g = bwd()["y_pred"]
    assert np.all(np.isfinite(g))
    if name.startswith("Categorical"):
        # a renormalised row still routes gradient to clipped entries through
        # the row sum: only a row whose every o is clipped gets all zeros
        assert np.all(g[0] == 0) and np.all(g[1, :2] != 0)
        return
    # KLDivergence clips y_pred to [eps, 1]: 1 is inside (TF gives -y there)
    clipped = (yp == 0) if name == "KLDivergence" else (yp == 0) | (yp == 1)
    assert np.all(g[clipped] == 0)
    assert np.all(g[~clipped] != 0)


def test_cce_probs_all_zero_row_is_nan():
    got = run("CategoricalCrossentropy", SEED_T, np.array([[0, 0, 0], [.1, .1, .8]], F32),
              reduction="none")
    assert np.isnan(got[0]) and np.isfinite(got[1])


def test_cosine_similarity_under_normalizes_tiny_vectors():
    got = run("CosineSimilarity", np.array([[1e-8, 0, 0]], F32), np.ones((1, 3), F32))
    close(got, -0.05773503)


def test_cgce_out_of_range_label_gives_one_over_q():
    got = run("CategoricalGeneralizedCrossEntropy", np.array([5, 0]), P, q=0.25,
              reduction="none")
    close(got[0], 4.0)


def test_cgce_rejects_q_outside_open_unit_interval():
    for q in (0.0, 1.0, -0.5, 1.5):
        with pytest.raises(ValueError):
            ck.CategoricalGeneralizedCrossEntropy(q=q)


def test_scce_axis_must_be_last():
    with pytest.raises(ValueError):
        ck.SparseCategoricalCrossentropy(axis=0)(np.array([0, 1]), np.full((2, 3), 0.3, F32))


def test_cce_label_smoothing_uses_last_axis_size_even_for_other_axis(rng):
    yt = R._simplex(rng, (3, 5))
    yp = rng.normal(size=(3, 5))
    got = run("CategoricalCrossentropy", yt, yp, from_logits=True, label_smoothing=0.3,
              axis=0, reduction="none")
    want, sc = R.loss("CategoricalCrossentropy", yt, yp, None, "none", F64, from_logits=True,
                      label_smoothing=0.3, axis=0)
    assert got.shape == (5,)
    assert_close(got, want, sc, K_REF, F64)


# ------------------------------------------------------------ config / get --

CONFIGS = {   # class: (non-default constructor kwargs, Keras 3.15 get_config())
    "BinaryCrossentropy": (
        dict(from_logits=True, label_smoothing=0.1, axis=0, reduction="sum", name="b"),
        {'name': 'b', 'reduction': 'sum', 'from_logits': True, 'label_smoothing': 0.1,
         'axis': 0}),
    "BinaryFocalCrossentropy": (
        dict(apply_class_balancing=True, alpha=0.3, gamma=1.5, from_logits=True,
             label_smoothing=0.1, axis=0, reduction="none", name="bf"),
        {'name': 'bf', 'reduction': 'none', 'from_logits': True, 'label_smoothing': 0.1,
         'axis': 0, 'apply_class_balancing': True, 'alpha': 0.3, 'gamma': 1.5}),
    "CategoricalCrossentropy": (
        dict(from_logits=True, label_smoothing=0.2, axis=0, reduction="mean", name="c",
             dtype="float64"),
        {'name': 'c', 'reduction': 'mean', 'from_logits': True, 'label_smoothing': 0.2,
         'axis': 0}),
    "CategoricalFocalCrossentropy": (
        dict(alpha=0.5, gamma=3.0, from_logits=True, label_smoothing=0.1, axis=0,
             reduction=None, name="cf"),
        {'name': 'cf', 'reduction': None, 'from_logits': True, 'label_smoothing': 0.1,
         'axis': 0, 'alpha': 0.5, 'gamma': 3.0}),
    "SparseCategoricalCrossentropy": (
        dict(from_logits=True, ignore_class=-1, reduction="sum", name="s"),
        {'name': 's', 'reduction': 'sum', 'from_logits': True, 'ignore_class': -1}),
    "CategoricalGeneralizedCrossEntropy": (
        dict(q=0.3, reduction="sum", name="g"), {'name': 'g', 'reduction': 'sum', 'q': 0.3}),
    "MeanSquaredError": (dict(reduction="sum", name="m"), {'name': 'm', 'reduction': 'sum'}),
    "MeanAbsoluteError": (dict(reduction="sum", name="m"), {'name': 'm', 'reduction': 'sum'}),
    "MeanAbsolutePercentageError": (dict(reduction="sum", name="m"),
                                    {'name': 'm', 'reduction': 'sum'}),
    "MeanSquaredLogarithmicError": (dict(reduction="sum", name="m"),
                                    {'name': 'm', 'reduction': 'sum'}),
    # Keras 3.15 leaves delta out of Huber's config (and axis out of
    # CosineSimilarity's): parity with its dict, verified with TF 2.21
    "Huber": (dict(delta=0.5, reduction="sum", name="h"), {'name': 'h', 'reduction': 'sum'}),
    "LogCosh": (dict(reduction="sum", name="l"), {'name': 'l', 'reduction': 'sum'}),
    "CosineSimilarity": (dict(axis=0, reduction="sum", name="cs"),
                         {'name': 'cs', 'reduction': 'sum'}),
    "Hinge": (dict(reduction="sum", name="h"), {'name': 'h', 'reduction': 'sum'}),
    "SquaredHinge": (dict(reduction="sum", name="h"), {'name': 'h', 'reduction': 'sum'}),
    "CategoricalHinge": (dict(reduction="sum", name="h"), {'name': 'h', 'reduction': 'sum'}),
    "KLDivergence": (dict(reduction="sum", name="k"), {'name': 'k', 'reduction': 'sum'}),
    "Poisson": (dict(reduction="sum", name="p"), {'name': 'p', 'reduction': 'sum'}),
    "Dice": (dict(reduction="sum", name="d", axis=(1, 2)),
             {'name': 'd', 'reduction': 'sum', 'axis': (1, 2)}),
    "Tversky": (dict(alpha=0.7, beta=0.3, reduction="sum", name="t", axis=1),
                {'name': 't', 'reduction': 'sum', 'alpha': 0.7, 'beta': 0.3, 'axis': 1}),
    "Circle": (dict(gamma=64.0, margin=0.25, remove_diagonal=False, reduction="sum", name="ci"),
               {'name': 'ci', 'reduction': 'sum', 'gamma': 64.0, 'margin': 0.25,
                'remove_diagonal': False}),
    "CTC": (dict(reduction="sum", name="ctc"), {'name': 'ctc', 'reduction': 'sum'}),
}

DEFAULT_CONFIGS = {   # Keras 3.15 get_config() of Class()
    "BinaryCrossentropy": {'name': 'binary_crossentropy', 'reduction': 'sum_over_batch_size',
                           'from_logits': False, 'label_smoothing': 0.0, 'axis': -1},
    "BinaryFocalCrossentropy": {'name': 'binary_focal_crossentropy',
                                'reduction': 'sum_over_batch_size', 'from_logits': False,
                                'label_smoothing': 0.0, 'axis': -1,
                                'apply_class_balancing': False, 'alpha': 0.25, 'gamma': 2.0},
    "CategoricalCrossentropy": {'name': 'categorical_crossentropy',
                                'reduction': 'sum_over_batch_size', 'from_logits': False,
                                'label_smoothing': 0.0, 'axis': -1},
    "CategoricalFocalCrossentropy": {'name': 'categorical_focal_crossentropy',
                                     'reduction': 'sum_over_batch_size', 'from_logits': False,
                                     'label_smoothing': 0.0, 'axis': -1, 'alpha': 0.25,
                                     'gamma': 2.0},
    "SparseCategoricalCrossentropy": {'name': 'sparse_categorical_crossentropy',
                                      'reduction': 'sum_over_batch_size', 'from_logits': False,
                                      'ignore_class': None},
    "CategoricalGeneralizedCrossEntropy": {'name': 'categorical_generalized_cross_entropy',
                                           'reduction': 'sum_over_batch_size', 'q': 0.5},
    "MeanSquaredError": {'name': 'mean_squared_error', 'reduction': 'sum_over_batch_size'},
    "MeanAbsoluteError": {'name': 'mean_absolute_error', 'reduction': 'sum_over_batch_size'},
    "MeanAbsolutePercentageError": {'name': 'mean_absolute_percentage_error',
                                    'reduction': 'sum_over_batch_size'},
    "MeanSquaredLogarithmicError": {'name': 'mean_squared_logarithmic_error',
                                    'reduction': 'sum_over_batch_size'},
    "Huber": {'name': 'huber_loss', 'reduction': 'sum_over_batch_size'},
    "LogCosh": {'name': 'log_cosh', 'reduction': 'sum_over_batch_size'},
    "CosineSimilarity": {'name': 'cosine_similarity', 'reduction': 'sum_over_batch_size'},
    "Hinge": {'name': 'hinge', 'reduction': 'sum_over_batch_size'},
    "SquaredHinge": {'name': 'squared_hinge', 'reduction': 'sum_over_batch_size'},
    "CategoricalHinge": {'name': 'categorical_hinge', 'reduction': 'sum_over_batch_size'},
    "KLDivergence": {'name': 'kl_divergence', 'reduction': 'sum_over_batch_size'},
    "Poisson": {'name': 'poisson', 'reduction': 'sum_over_batch_size'},
    "Dice": {'name': 'dice', 'reduction': 'sum_over_batch_size', 'axis': None},
    "Tversky": {'name': 'tversky', 'reduction': 'sum_over_batch_size', 'alpha': 0.5,
                'beta': 0.5, 'axis': None},
    "Circle": {'name': 'circle', 'reduction': 'sum_over_batch_size', 'gamma': 80.0,
               'margin': 0.4, 'remove_diagonal': True},
    "CTC": {'name': 'ctc', 'reduction': 'sum_over_batch_size'},
}


@pytest.mark.parametrize("name", CLASSES)
def test_get_config_matches_keras(name):
    assert make(name).get_config() == DEFAULT_CONFIGS[name]
    kw, want = CONFIGS[name]
    assert make(name, **kw).get_config() == want


@pytest.mark.parametrize("name", CLASSES)
def test_config_round_trips(name):
    kw, want = CONFIGS[name]
    obj = make(name, **kw)
    cls = getattr(ck, name)
    back = cls.from_config(obj.get_config())
    assert type(back) is cls and back.get_config() == want
    ser = ck.serialize(obj)
    assert ser == {"module": "keras.losses", "class_name": name, "config": want,
                   "registered_name": None}
    if name != "CategoricalGeneralizedCrossEntropy":   # see test_get_rejects_what_keras_rejects
        back2 = ck.deserialize(ser)
        assert type(back2) is cls and back2.get_config() == want
        back3 = ck.get(ser)
        assert type(back3) is cls and back3.get_config() == want


def test_from_config_rebuilds_an_equivalent_loss(rng):
    """Arguments kept in the config survive the round trip, values included."""
    for name in ("BinaryFocalCrossentropy", "CategoricalCrossentropy", "Tversky", "Circle"):
        kw, yt, yp = R.sample(name, rng, (4, 5), variant=1)
        obj = make(name, reduction="sum", **kw)
        back = getattr(ck, name).from_config(obj.get_config())
        assert_same_bits(np.asarray(back(yt, yp)), np.asarray(obj(yt, yp)), name)


@pytest.mark.parametrize("ident,target", [
    ("mse", "mse"), ("MSE", "mse"), ("mean_squared_error", "mse"), ("kld", "kld"),
    ("KLD", "kld"), ("kl_divergence", "kld"), ("log_cosh", "logcosh"), ("mae", "mae"),
    ("mean_absolute_percentage_error", "mape"), ("categorical_crossentropy",
                                                 "categorical_crossentropy"),
    ("binary_crossentropy", "binary_crossentropy"), ("huber", "huber"), ("ctc", "ctc"),
    ("dice", "dice"), ("circle", "circle")])
def test_get_function_names(ident, target):
    assert ck.get(ident) is getattr(ck, target)


@pytest.mark.parametrize("name", ["MeanSquaredError", "CategoricalCrossentropy", "Huber",
                                  "Circle", "CTC", "Dice"])
def test_get_class_names_gives_default_instances(name):
    obj = ck.get(name)
    assert type(obj) is getattr(ck, name) and obj.get_config() == DEFAULT_CONFIGS[name]
    obj2 = ck.deserialize(name)
    assert type(obj2) is getattr(ck, name)


def test_get_passes_none_and_callables_through():
    assert ck.get(None) is None
    assert ck.get(ck.mse) is ck.mse
    inst = ck.Hinge()
    assert ck.get(inst) is inst


@pytest.mark.parametrize("ident", ["bogus", 3, "Reduction", "kullback_leibler_divergence",
                                   "logcosh", "huber_loss",
                                   "CategoricalGeneralizedCrossEntropy",
                                   "categorical_generalized_cross_entropy"])
def test_get_rejects_what_keras_rejects(ident):
    """Keras 3.15 quirks kept for parity (verified with TF 2.21): some exported
    aliases are not registered names."""
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        ck.get(ident)


def test_serialize_function_form():
    assert ck.serialize(ck.mse) == {"module": "builtins", "class_name": "function",
                                    "config": "mean_squared_error",
                                    "registered_name": "function"}
    assert ck.serialize(ck.kullback_leibler_divergence)["config"] == "kl_divergence"


# ------------------------------------------------------------------- dtypes --

def test_dtype_rules(rng):
    kw, yt, yp = R.sample("CategoricalCrossentropy", rng, (3, 4), variant=1)
    loss = ck.CategoricalCrossentropy(**kw)
    # dtype=None keeps float64
    v, bwd = cyloss.vjp(loss, yt, yp, sample_weight=np.ones(3))
    assert np.asarray(v).dtype == F64
    assert all(g.dtype == F64 for g in bwd().values())
    # float32 inputs stay float32
    v, bwd = cyloss.vjp(loss, yt.astype(F32), yp.astype(F32), sample_weight=np.ones(3, F32))
    assert np.asarray(v).dtype == F32
    assert all(g.dtype == F32 for g in bwd().values())
    # dtype="float64" on float32 inputs: float64 values; gradients come back in
    # the inputs' own dtype, as TF's cast gradient does (TF_SEMANTICS 0.1)
    l64 = ck.CategoricalCrossentropy(dtype="float64", **kw)
    v, bwd = cyloss.vjp(l64, yt.astype(F32), yp.astype(F32), sample_weight=np.ones(3, F32))
    assert np.asarray(v).dtype == F64
    assert all(g.dtype == F32 for g in bwd().values())
    want, sc = R.loss("CategoricalCrossentropy", yt.astype(F32), yp.astype(F32), None,
                      "sum_over_batch_size", F64, **kw)
    assert_close(v, want, sc, K_REF, F64)
    # dtype="float32" on float64 inputs narrows, as Keras does
    v = ck.CategoricalCrossentropy(dtype="float32", **kw)(yt, yp)
    assert np.asarray(v).dtype == F32
    # function forms compute in y_pred's dtype
    assert np.asarray(ck.categorical_crossentropy(yt, yp.astype(F32), **kw)).dtype == F32
    assert np.asarray(ck.mse(yt.astype(F32), yp)).dtype == F64


def test_int_labels_and_mixed_dtypes_follow_y_pred(rng):
    lab = rng.integers(0, 4, size=5)
    x = rng.normal(size=(5, 4)).astype(F32)
    for ldt in (np.int32, np.int64):
        assert np.asarray(ck.SparseCategoricalCrossentropy(from_logits=True)(
            lab.astype(ldt), x)).dtype == F32


def test_non_numeric_dtype_is_type_error():
    with pytest.raises(TypeError):
        ck.MeanSquaredError()(np.array([["a", "b"]]), np.zeros((1, 2), F32))


@pytest.mark.parametrize("name", CLASSES)
def test_function_form_returns_unreduced_values(name, rng):
    kw, yt, yp = R.sample(name, rng, (4, 5), variant=0)
    fn = getattr(ck, R.CLASSES[name])
    fkw = {k: v for k, v in kw.items()}
    if name == "CategoricalGeneralizedCrossEntropy":
        fkw.setdefault("q", 0.5)                   # required by the function form
    got = np.asarray(fn(yt, yp, **fkw))
    want, sc, _ = R.values(R.CLASSES[name], yt, yp, F64, **fkw)
    assert got.dtype == F64
    assert_close(got, want, sc, K_REF, F64, name)


# ------------------------------------------------- inputs / threads / SIMD --

@pytest.mark.parametrize("name", CLASSES)
def test_inputs_unchanged(name, rng):
    kw, yt, yp = R.sample(name, rng, (4, 5), variant=1)
    global_ = name in ("Dice", "Tversky") and "axis" not in kw
    sw = R.sample_weight(rng, yp.shape[-1] if kw.get("axis") == 0 else yp.shape[0])
    if global_:
        sw = sw[:1]
    for dt in (F32, F64):
        args = [yt.astype(dt) if yt.dtype.kind == "f" else yt.copy(), yp.astype(dt),
                sw.astype(dt)]
        for a in args:
            a.flags.writeable = False if dt is F32 else True
        snaps = [snapshot(a) for a in args]
        loss = make(name, **kw)
        loss(*args[:2], sample_weight=args[2])
        v, bwd = cyloss.vjp(loss, args[0], args[1], sample_weight=args[2])
        bwd(np.full(np.shape(v), 0.5))
        bwd()                                   # a second backward recomputes
        fn = getattr(ck, R.CLASSES[name])
        fkw = dict(kw, q=kw.get("q", 0.5)) if name == "CategoricalGeneralizedCrossEntropy" \
            else kw
        fn(args[0], args[1], **fkw)
        for s, n in zip(snaps, ("y_true", "y_pred", "sample_weight")):
            assert_unchanged(s, f"{name} {n}")


BIG = {   # shapes with > 32768 elements in y_pred, so several threads get work
    "Circle": (192, 176), "CTC": (64, 120),
}


def _big_case(name, rng):
    shape = BIG.get(name, (300, 128))
    kw, yt, yp = R.sample(name, np.random.default_rng(7) if name == "Circle" else rng,
                          shape, variant=1 if name != "Circle" else 0)
    return kw, yt, yp


def _all_outputs(name, kw, yt, yp, sw, dy_seed=3):
    out = {}
    for red in ("none", "sum_over_batch_size", "mean_with_sample_weight"):
        loss = make(name, reduction=red, **kw)
        v, bwd = cyloss.vjp(loss, yt, yp, sample_weight=sw)
        dy = np.random.default_rng(dy_seed).uniform(-1, 1, np.shape(v)).astype(np.asarray(v).dtype)
        out[red] = (np.asarray(v), bwd(dy))
    return out


def _assert_outputs_equal(a, b, what):
    for red in a:
        assert_same_bits(b[red][0], a[red][0], f"{what} {red} value")
        assert set(a[red][1]) == set(b[red][1])
        for k in a[red][1]:
            assert_same_bits(b[red][1][k], a[red][1][k], f"{what} {red} d/{k}")


@pytest.mark.parametrize("name", CLASSES)
def test_bits_equal_across_threads_and_simd_levels(name, rng):
    kw, yt, yp = _big_case(name, rng)
    if name == "Circle":
        kw = dict(kw, gamma=80.0)
    global_ = name in ("Dice", "Tversky") and "axis" not in kw
    B = yp.shape[-1] if kw.get("axis") == 0 else yp.shape[0]
    sw = R.sample_weight(rng, 1 if global_ else B).astype(F32)
    yt = yt.astype(F32) if yt.dtype.kind == "f" else yt
    yp = yp.astype(F32)
    assert yp.size > 32768
    start = _kernels.level()
    try:
        cyloss.set_num_threads(1)
        ref = _all_outputs(name, kw, yt, yp, sw)
        for n in (2, 3):
            cyloss.set_num_threads(n)
            _assert_outputs_equal(ref, _all_outputs(name, kw, yt, yp, sw), f"{n} threads")
        cyloss.set_num_threads(2)
        for lvl in _kernels.available_levels():
            _kernels.use(lvl)
            _assert_outputs_equal(ref, _all_outputs(name, kw, yt, yp, sw), f"SIMD {lvl}")
    finally:
        _kernels.use(start)
