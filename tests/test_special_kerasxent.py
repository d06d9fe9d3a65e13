"""Special values (NaN, +-inf, labels near the float max, denormals) in the
Keras cross-entropies: values and gradients against numbers obtained from
TensorFlow 2.21 / Keras 3.15 (tf.keras.losses.<fn>, tf.GradientTape with the
given upstream dy), hard-coded so the suite runs without TF. NaN and infinity
positions must match exactly; finite elements to a few eps of their size (the
gradients are products / sums of 3-6 rounded terms of that size)."""
import numpy as np
import pytest

import cyloss
import cyloss.keras as ck

from _cases import assert_special_close, assert_special_positions

nan, inf = np.nan, np.inf
f32, f64 = np.float32, np.float64


def _close(got, want, dtype):
    got, want, fin = assert_special_positions(got, want, f"{got} vs {want}")
    # TF's numbers are printed to 8 significant digits: 1e-7 relative, plus 16
    # eps of the element for the few roundings the two orders may differ in
    tol = np.abs(want[fin]) * (1e-7 + 16 * np.finfo(dtype).eps)
    assert np.all(np.abs(got[fin] - want[fin]) <= tol), (got, want)


# (function, y_true, y_pred, kwargs, dy, dtype, value, d/dy_pred, d/dy_true) from TF 2.21
CASES = [
    ("an infinite upstream multiplies each term: inf - inf = NaN, 0 past the clip",
     "binary_crossentropy", [[1., 0.25, 0.]], [[0.9, 0.5, 2.0]], {}, [inf], f32,
     [5.5802975], [[nan, nan, 0.]], [[nan, nan, nan]]),
    ("a label at -max: TF scales by dy before dividing by c (no overflow)",
     "binary_crossentropy", [-3.4028235e38, 0.5], [0.6666, 0.25], {}, 1e-3, f32,
     inf, [7.6555876e+35, -6.6666666e-04], [-0.0003464236, 0.0005493062]),
    ("focal on infinite / NaN probabilities: the clip stops the bce term",
     "binary_focal_crossentropy", [[0., 1., 0.5]], [[inf, -inf, nan]],
     dict(label_smoothing=0.1, gamma=1.0, apply_class_balancing=True, alpha=0.0), None, f64,
     [nan], [[4.3639743991, -0.2296828631, nan]], [[nan, nan, nan]]),
    ("focal with a 1e30 label: the focal factor overflows",
     "binary_focal_crossentropy", [[0., 1., 1e30]], [[0.3, 0.8, 0.8341]], {}, None, f32,
     [-inf], [[0.11419214, -0.046419136, -inf]], [[0.053952932, -0.0363354, nan]]),
    ("focal from infinite logits",
     "binary_focal_crossentropy", [[0., 1., 0.5]], [[inf, -inf, 3.0]],
     dict(from_logits=True, gamma=2.0), None, f64,
     [nan], [[nan, nan, 0.0377145106]], [[nan, nan, -0.7172337123]]),
    ("an infinite label past the clip: the clip's select gives 0, not 0 * inf",
     "categorical_crossentropy", [inf], [1.0], {}, None, f32,
     inf, [0.], [1.1920929e-07]),
    ("categorical focal with an infinite label",
     "categorical_focal_crossentropy", [[inf, 0.]], [[0.7, 0.3]], {}, None, f32,
     [inf], [[nan, inf]], [[0.008025187, 0.14748666]]),
    ("categorical crossentropy under an infinite upstream",
     "categorical_crossentropy", [[0.5, 0.5, 0.]], [[0.5, 0.2, 0.3]], {}, [inf], f32,
     [1.1512926], [[nan, nan, nan]], [[inf, inf, inf]]),
    ("from logits at -max: TF scales the logit by the upstream before the smoothing "
     "factor (overflow), as the tape orders it",
     "binary_crossentropy", [[0.0011, 0.5]], [[-3.4028235e38, 2.0]],
     dict(from_logits=True, label_smoothing=0.5), [3.0], f32,
     [4.2628868761823755e+37], [[-0.3758249878883362, 0.5711956024169922]], [[inf, -1.5]]),
    ("from logits at -max, label_smoothing=1: the overflowed product times 0 is NaN",
     "binary_crossentropy", [[1.4, 0.5]], [[-3.4028235e38, 2.0]],
     dict(from_logits=True, label_smoothing=1.0), [3.0], f32,
     [8.5070586659632215e+37], [[-0.75, 0.5711956024169922]], [[nan, -0.0]]),
    ("the mean over the axis in TF's order of additions: its packet of 8 and tail "
     "give inf where a tree of lanes gives -max + inf + -max... = NaN",
     "binary_focal_crossentropy",
     [[3.4028235e38, 0.25, 0.125, 0.5, 1.0, 3.4028235e38, -0.25, 0.75, 1.0, 0.5,
       -3.4028235e38, 1.0, 1.25]], [[1., 1., 1., -1., -2., -2., 0., 2., -2., -1., -1., 0., -1.]],
     dict(from_logits=True, gamma=0.0), None, f32, [inf],
     [[-2.617556512604068e+37, 0.0370045080780983, 0.04661989212036133, -0.017773736268281937,
       -0.0677536278963089, nan, 0.05769231170415878, 0.010061312466859818, -0.0677536278963089,
       -0.017773736268281937, 2.617556512604068e+37, -0.03846153989434242,
       -0.07546604424715042]],
     [[-0.07692307978868484, -0.07692307978868484, -0.07692307978868484, 0.07692307978868484,
       0.1538461595773697, nan, 0.0, -0.1538461595773697, 0.1538461595773697,
       0.07692307978868484, 0.07692307978868484, 0.0, 0.07692307978868484]]),
    ("poisson's mean of three: TF adds them one by one ((a + b) + c overflows)",
     "poisson", [[-3.4028235e38, -3.4028235e38, 3.4028235e38]], [[1.8221188, 1.8221188, 1.8221188]],
     {}, None, f32, [inf],
     [[6.225029998950442e+37, 6.225029998950442e+37, -6.225029998950442e+37]],
     [[-0.20000001788139343, -0.20000001788139343, -0.20000001788139343]]),
    ("focal at p = -inf: C's pow(-inf, 0.5) = inf (the value is -inf), pow(-inf, -0.5) "
     "= 0 in its gradient; the clip stops the bce term",
     "binary_focal_crossentropy", [[-0.5, 0.25]], [[-inf, 0.5]],
     dict(gamma=0.5, apply_class_balancing=True, alpha=0.5, label_smoothing=0.2), None, f32,
     [-inf], [[0.0, 0.19043424725532532]], [[nan, 0.0]]),
    ("focal on a denormal probability: TF reads it as 0 (1 - p_t = 0: pow's "
     "gradient is inf, times that 0 is NaN)",
     "binary_focal_crossentropy", [[0.0, 1.0]], [[-2.938735877055719e-39, 0.5]],
     dict(gamma=0.5), None, f32,
     [0.24506452679634094], [[nan, -0.9521713256835938]], [[nan, 0.0]]),
    ("mape against an empty y_pred: TF still takes abs(y_true)'s gradient, "
     "0 * sign(NaN) = NaN",
     "mape", [[nan], [2.0], [-inf]], np.zeros((3, 0)), {}, None, f64,
     [nan, nan, nan], np.zeros((3, 0)), [[nan], [0.0], [0.0]]),
    ("poisson against an empty y_true: TF still takes log(y_pred + eps)'s gradient, "
     "0 / (y_pred + eps) = NaN at NaN and at -eps",
     "poisson", np.zeros((3, 0)), [[nan], [-1e-7], [2.0]], {}, None, f32,
     [nan, nan, nan], [[nan], [nan], [0.0]], np.zeros((3, 0))),
    ("categorical focal from logits under a 1.9e305 upstream: TF's g y / c with "
     "c = 4.6e-7 overflows, then inf - inf = NaN in the division's and softmax's sums",
     "categorical_focal_crossentropy", [[0.31808271, 0.68191729], [0.5, 0.5]],
     [[-6.83043564, -21.41490079], [1., 2.]], dict(from_logits=True), [1.9e305, 1.9e305], f64,
     [2.4863475119820135, 0.09056579511498153],
     [[nan, nan], [-1.699677283901673e+304, 1.699677283901673e+304]],
     [[4.7297141916368093e+285, 6.9276147445474315e+305],
      [3.3338744412040785e+304, 1.076257731652198e+303]]),
    ("focal from float64 logits near 36.8, gamma 0: TF's sigmoid is exactly 1 (then "
     "0 * inf = NaN) or 1 - 2^-53 by the last bit of its exp, Eigen's in the packets "
     "of 4 (elements 0-3), the C library's in the tail (4-5)",
     "binary_focal_crossentropy", [[1., 1., 0.5, 1., 1., 1.]],
     [[36.738893472336805, 36.78026950673767, 36.75658141453536, 36.78720718017951,
       36.761331533288335, 36.80870771769294]], dict(from_logits=True, gamma=0.0), None, f64,
     [3.06304845121128],
     [[nan, -1.7716611422771288e-17, 0.08333333333333331, -1.7594124735828315e-17,
       -1.8055325293492133e-17, nan]],
     [[nan, -6.130044917789611, -6.12609690242256, -6.131201196696584, -6.126888588881389,
       nan]]),
    ("categorical focal against an empty y_true: TF normalizes y_pred alone, "
     "0 / 0 and inf / inf rows are NaN",
     "categorical_focal_crossentropy", np.zeros((4, 0, 3)),
     [[[0., 0., 0.]], [[inf, 1., 1.]], [[1., 2., 3.]], [[1., -1., 0.5]]], {}, None, f64,
     np.zeros((4, 0)), [[[nan] * 3], [[nan] * 3], [[0.] * 3], [[0.] * 3]], np.zeros((4, 0, 3))),
    ("categorical focal from logits against an empty y_true: the softmax of a "
     "-inf or NaN row is NaN",
     "categorical_focal_crossentropy", np.zeros((3, 0, 3)),
     [[[-inf, -inf, -inf]], [[1., 2., 3.]], [[nan, 1., 2.]]], dict(from_logits=True), None, f64,
     np.zeros((3, 0)), [[[nan] * 3], [[0.] * 3], [[nan] * 3]], np.zeros((3, 0, 3))),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_against_tf(case):
    _, name, yt, yp, kw, dy, dt, value, dyp, dyt = case
    yt, yp = np.asarray(yt, dt), np.asarray(yp, dt)
    with np.errstate(all="ignore"):
        v, bwd = cyloss.vjp(getattr(ck, name), yt, yp, **kw)
        g = bwd(None if dy is None else np.asarray(dy, dt))
    _close(v, value, dt)
    _close(g["y_pred"], dyp, dt)
    _close(g["y_true"], dyt, dt)


@pytest.mark.parametrize("dt, yt, yp, kw, want", [
    # Keras rounds 1 - alpha in double, then to the dtype (0.1f, not 1 - 0.9f):
    # with y_true * alpha + (1 - y_true)(1 - alpha) cancelling to -2.3e-4, the
    # other rounding is 1e-4 off
    (f32, [[-0.12529218, 0.5]], [[1.1433717, -0.3]],
     dict(from_logits=True, gamma=1.0, apply_class_balancing=True, alpha=0.9),
     [-0.00012686691479757428, -0.00930531695485115]),
    # a non-integer focal power of 1 - p_t ~ 1.7e308: g log(1 - p_t) ~ 355, whose
    # rounding in the dtype would be 1e-14 off; TF's pow is correctly rounded
    (f64, [[0.98, 0.25]], [[-1.7976931348623157e308, 1e300]], dict(gamma=0.5),
     [-2.8857429922835104e-154, 2.1369777672278336e-150]),
])
def test_focal_rounding_as_tf(dt, yt, yp, kw, want):
    # d/dy_pred from TF 2.21 (repr digits), relative 8 eps of the dtype: the
    # chain's ops are TF's in TF's order, so only the transcendental ones can
    # differ from TF's (exp and log1p of the sigmoid term, log of the clip,
    # the power), by an ulp or two each, carried through a few exact-order
    # products; the old roundings were 1e-4 and 1e-14 off (10^3 and 10^2 eps)
    v, bwd = cyloss.vjp(ck.binary_focal_crossentropy, np.array(yt, dt), np.array(yp, dt), **kw)
    assert_special_close(bwd()["y_pred"].ravel(), want, dt, k=8, floor=0)


def test_class_infinite_weight():
    # BinaryCrossentropy(label_smoothing=0.5) with sample_weight=[inf] (TF: NaN)
    loss = ck.BinaryCrossentropy(label_smoothing=0.5)
    with np.errstate(all="ignore"):
        v, bwd = cyloss.vjp(loss, np.array([[1., 0.]]), np.array([[0.9, 0.2]]),
                            sample_weight=np.array([inf]))
        g = bwd()
    assert v == inf
    assert np.isnan(g["y_pred"]).all() and np.isnan(g["y_true"]).all()


def test_cgce_special_p():
    # categorical_generalized_cross_entropy, q = 0.5, float32 (TF 2.21): -inf
    # probabilities give C's pow(-inf, q) = inf; denormal p is flushed to 0 as
    # TF's CPU does (p^(q-1) = inf; the one-hot's zeros times it are NaN)
    yt = np.array([0, 1, 0, 1, 0, 0, 1])
    yp = np.array([[inf, 1.0], [0.3, nan], [-inf, 0.2], [0.2, -inf], [2.9e-39, 0.5],
                   [-2.9e-39, 1.0], [0.3, 1e-45]], f32)
    with np.errstate(all="ignore"):
        v, bwd = cyloss.vjp(ck.categorical_generalized_cross_entropy, yt, yp, q=0.5)
        g = bwd()["y_pred"]
    _close(v, [-inf, nan, -inf, -inf, 2., 2., 2.], f32)
    _close(g, [[-0., -0.], [nan, nan], [-0., -0.], [-0., -0.], [-inf, nan], [-inf, nan],
               [nan, -inf]], f32)


# (class, constructor, y_true, y_pred, sample_weight, dtype, value, d/dy_true,
#  d/dy_pred, d/dsample_weight) from TF 2.21 (upstream 1)
CLASS_CASES = [
    ("an infinite weight on logits: the upstream enters each term (inf - inf = NaN)",
     "BinaryCrossentropy", dict(from_logits=True, reduction=None), [[1., 0.]], [[0.8, -0.3]],
     [inf], f32, [inf], [[-inf, inf]], [[nan, nan]], [0.46272796392440796]),
    ("mean_with_sample_weight, a weight at the float64 max: DivNoNan's gradient "
     "dy ((-S / D) / D) is -inf where D * D would overflow first (NaN)",
     "SquaredHinge", dict(reduction="mean_with_sample_weight", dtype="float64"),
     [[1., -1.], [1., 1.]], [[-3., 2.], [0.5, -1.]], [1.5, np.finfo(f64).max], f64,
     inf, [[0.0, -0.0], [-0.0, 0.0]], [[-0.0, 0.0], [-0.0, -0.0]], [-inf, -inf]),
    ("mean_with_sample_weight, a 0-d weight of -1e30: TF's two quotients cancel "
     "to 0 (D * D overflows float32)",
     "BinaryFocalCrossentropy", dict(from_logits=True, gamma=0.0,
                                     reduction="mean_with_sample_weight"),
     [[1., 0.], [0.5, 1.]], [[2., -1.], [0.5, 3.]], -1e30, f32, 0.606427013874054,
     [[-1.0, 0.5], [-0.25, -1.5]],
     [[-0.05960145592689514, 0.13447071611881256], [0.06122966110706329, -0.02371293678879738]],
     0.0),
    ("probabilities past the clip under a NaN weight: the clip's gradient is 0 there",
     "SparseCategoricalCrossentropy", dict(dtype="float64"), [1., 0.],
     [[0.2, 0.5, 1.5], [0.9999999999, 0.3, 0.3]], [nan, 1.0], f64, nan, None,
     [[nan, nan, 0.0], [0.0, 0.3125000195312512, 0.3125000195312512]],
     [0.6118876863992924, 0.23500183337286928]),
    ("ignore_class=0 against a denormal label: TF compares it as 0 (ignored)",
     "SparseCategoricalCrossentropy", dict(ignore_class=0, reduction="sum", dtype="float64"),
     [[2.17292369e-311], [1.0]], [[[0.3, 0.2, 0.5]], [[0.1, 0.6, 0.3]]], None, f64,
     0.5108256237659907, None,
     [[[0.0, 0.0, 0.0]], [[1.0000000000000002, -0.6666666666666667, 0.9999999999999998]]],
     None),
]


@pytest.mark.parametrize("case", CLASS_CASES, ids=[c[0] for c in CLASS_CASES])
def test_class_against_tf(case):
    _, name, kw, yt, yp, sw, dt, value, dyt, dyp, dsw = case
    loss = getattr(ck, name)(**kw)
    args = {} if sw is None else {"sample_weight": np.asarray(sw, dt)}
    with np.errstate(all="ignore"):
        v, bwd = cyloss.vjp(loss, np.asarray(yt, dt), np.asarray(yp, dt), **args)
        g = bwd()
    # (the float64 cases pass dtype="float64": TF computes them in float64 too)
    _close(v, value, dt)
    _close(g["y_pred"], dyp, dt)
    if dyt is not None:
        _close(g["y_true"], dyt, dt)
    if dsw is not None:
        _close(g["sample_weight"], dsw, dt)


@pytest.mark.parametrize("kw, yt, yp, dy, dyt, dyp", [
    (dict(gamma=1.0), [[0.10642056]], [[-3.4028235e38]], [0.5], [-inf], [0.6751055717468262]),
    (dict(gamma=1.0, apply_class_balancing=True, alpha=0.3), [[0.9340706], [0.25]],
     [[3.4028235e38], [-1.7014117e38]], [-0.7, 3.0], [-inf, nan],
     [0.20846520364284515, 3.6265711784362793]),
])
def test_focal_label_gradient_in_tf_order(kw, yt, yp, dy, dyt, dyp):
    # y_true's gradient adds its uses' terms as TF's AddN does: the class
    # weight's two, bce's z log c, p_t's z p, bce's 1 - z, p_t's 1 - z, left to
    # right; near the max, p_t's two first would give inf + -inf = NaN where TF
    # has -inf (TF 2.21 / Keras 3.15, float32)
    with np.errstate(all="ignore"):
        _, bwd = cyloss.vjp(ck.binary_focal_crossentropy, np.array(yt, f32), np.array(yp, f32), **kw)
        g = bwd(np.array(dy, f32))
    _close(g["y_true"].ravel(), dyt, f32)
    _close(g["y_pred"].ravel(), dyp, f32)
