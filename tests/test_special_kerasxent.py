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

from _cases import assert_special_positions

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
