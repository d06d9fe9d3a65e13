"""Special values (denormals, +-max, +-inf, NaN) through tf.compat.v1.losses,
tf.contrib.losses and tf.nn.log_poisson_loss, where cyloss follows TF's
flush-to-zero (denormal weights count as 0, denormal inputs are 0 in products)
and TF's gradient op order (pyx/_pointwise.pyx v1_chain, src/cyloss/_reduction.py).

The expected numbers come from TF 2.21 on these exact inputs (tf.compat.v1.losses.*,
tf.nn.log_poisson_loss, and the contrib losses composed from TF primitives as
conformance/registry_losses.py does: float32 arithmetic, sum / number present),
gradients of sum(value * dy) by tf.GradientTape. No TF is needed to run this file.
Float64 rows are kept only where TF's float32 narrowing changes nothing.
"""
import numpy as np
import pytest

import cyloss
import cyloss.contrib.losses as cl
import cyloss.losses as v1

from _cases import assert_special_close

inf, nan = np.inf, np.nan


def arr(v, dt):
    """"M" / "-M" = +-finfo(dt).max, "D" = finfo(dt).tiny / 4 (a denormal)."""
    fi = np.finfo(dt)
    m = {"M": fi.max, "-M": -fi.max, "D": fi.tiny / 4}
    if not isinstance(v, list):
        return np.array(m.get(v, v) if isinstance(v, str) else v, dt)
    return np.array([arr(x, dt) if isinstance(x, list) else m.get(x, x) if isinstance(x, str)
                     else x for x in v], dt)


M32 = float(np.finfo(np.float32).max)
HP = [0.5, 3.0, 2.0, 0.0, 1.0, -2.0]       # huber: e = 0, inside and beyond delta

# name -> (cyloss function, inputs, options, dy)
CASES = {
    "losses.compute_weighted_loss": (v1.compute_weighted_loss, {
        "losses": [1.5, 2.0, 0.5, 3.0], "weights": [1.0, "D", 0.0, 2.0]}, {}, 0.75),
    "losses.compute_weighted_loss/mean": (v1.compute_weighted_loss, {
        "losses": [1.5, 2.0, 0.5, 3.0], "weights": [1.0, "D", 0.0, 2.0]},
        {"reduction": "weighted_mean"}, 0.75),
    "losses.compute_weighted_loss/scalar": (v1.compute_weighted_loss, {
        "losses": [1.5, 2.0, 0.5, 3.0], "weights": "D"}, {}, 0.75),
    "contrib.losses.compute_weighted_loss": (cl.compute_weighted_loss, {
        "losses": [[1.5, 2.0], [0.5, 3.0]], "weights": ["D", 2.0]}, {}, 0.75),
    "losses.hinge_loss": (v1.hinge_loss, {
        "labels": [1.0, 0.0, 1.0, 0.0], "logits": [0.25, -0.5, -1.5, 0.75],
        "weights": [1.0, "D", 0.5, 2.0]}, {}, 0.75),
    "losses.log_loss": (v1.log_loss, {
        "labels": ["-M", 1.0, 0.5, "M"], "predictions": [0.7, 0.5, 0.2, 0.875]}, {}, 0.25),
    "contrib.losses.log_loss": (cl.log_loss, {
        "labels": ["-M", 1.0, 0.5, "M"], "predictions": [0.7, 0.5, 0.2, 0.875],
        "weights": 1.0}, {}, 0.25),
    "losses.mean_squared_error": (v1.mean_squared_error, {
        "labels": ["M", 0.5, -2.0], "predictions": [0.5, 0.5, 0.25],
        "weights": [0.25, 1.0, 1.0]}, {}, 0.5),
    "contrib.losses.mean_squared_error": (cl.mean_squared_error, {
        "labels": ["M", 0.5, -2.0], "predictions": [0.5, 0.5, 0.25],
        "weights": [0.25, 1.0, 1.0]}, {}, 0.5),
    "contrib.losses.hinge_loss": (cl.hinge_loss, {
        "labels": [0.0, 1.0, 0.0, 1.0], "logits": ["-M", "-M", "M", 0.5]}, {},
        [0.3, 0.25, -0.4, 2.0]),
    "contrib.losses.sigmoid_cross_entropy": (cl.sigmoid_cross_entropy, {
        "multi_class_labels": [1.0, 0.0, 1.0], "logits": [-0.8, 0.5, 2.0],
        "weights": [inf, 1.0, 0.0]}, {}, 0.5),
    # cosine: TF's Mul treats a denormal input as 0 (times inf: NaN; times max: 0)
    "losses.cosine_distance/denormal": (v1.cosine_distance, {
        "labels": [[inf, 1.0], ["M", 2.0]], "predictions": [["D", 0.5], ["D", 0.25]],
        "weights": [[1.0], [0.5]]}, {"axis": 1}, 0.5),
    "contrib.losses.cosine_distance/denormal": (cl.cosine_distance, {
        "labels": [[inf, 1.0], ["M", 2.0]], "predictions": [["D", 0.5], ["D", 0.25]],
        "weights": [1.0, 0.5]}, {"axis": 1}, 0.5),
    # MEAN over a weight of -max: TF's upstream dy / D is below float32's
    # smallest normal, flushed to 0, so the inputs' gradients are 0
    "losses.sigmoid_cross_entropy/flushed-upstream": (v1.sigmoid_cross_entropy, {
        "multi_class_labels": [0.875, 0.25], "logits": [-0.3125, 2.0], "weights": ["-M", 1.0]},
        {"reduction": "weighted_mean"}, 0.5),
    "losses.absolute_difference/flushed-upstream": (v1.absolute_difference, {
        "labels": [0.875, 0.25], "predictions": [-0.3125, 2.0], "weights": ["-M", 1.0]},
        {"reduction": "weighted_mean"}, 0.5),
    # MEAN's weight sum and the weighted sum overflow (in TF's order): inf / inf
    "losses.mean_squared_error/mean-overflow": (v1.mean_squared_error, {
        "labels": [0.0, 0.0, 0.0, 0.0], "predictions": [1.0, 0.5, 1.0, 0.5],
        "weights": ["M", "M", "-M", "-M"]}, {"reduction": "weighted_mean"}, 0.5),
    # an overflowing weighted sum: TF's order of additions decides inf / NaN
    "losses.compute_weighted_loss/sum-order": (v1.compute_weighted_loss, {
        "losses": [1.0, "-M", -0.5 * M32, 0.75 * M32, "M", -0.5 * M32, -0.5 * M32, 1.0, "M",
                   1.0, 1.0, 1.0, 1.0, 0.75 * M32], "weights": [1.0] * 14},
        {"reduction": "weighted_sum"}, 0.5),
    # TF 1 contrib sums the losses past the weights' dims, THEN multiplies by
    # the weights: an overflowing sum stays inf with a small weight, and a zero
    # loss meets an infinite weight only through its row's sum
    "contrib.losses.compute_weighted_loss/scalar-overflow": (cl.compute_weighted_loss, {
        "losses": ["M", "M", "-M", 1.0], "weights": 0.25}, {}, 0.5),
    "contrib.losses.compute_weighted_loss/lead-inf": (cl.compute_weighted_loss, {
        "losses": [[0.0, 1.5, 0.0], [0.0, 0.0, 0.0], [2.0, 0.5, 0.25]],
        "weights": [[inf], [0.0], [2.0]]}, {}, 0.5),
    "contrib.losses.absolute_difference/lead-inf": (cl.absolute_difference, {
        "predictions": [[1.0, 2.0, 3.0]], "labels": [[1.0, 2.5, 3.0]], "weights": [inf]},
        {}, 0.75),
    # huber's gradient op by op: delta u + [|e| <= delta] (u q - delta u) for the
    # upstream u = dy w / D; where delta u is inf / NaN that is NaN inside the
    # quadratic zone, +-inf beyond it (e = 3 > delta)
    "losses.huber_loss/inf-weights": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": [inf] * 6},
        {"delta": 2.0, "reduction": "weighted_sum"}, 1.0),
    "losses.huber_loss/nan-weights": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": [nan] * 6},
        {"delta": 0.5, "reduction": "weighted_sum"}, 1.0),
    "losses.huber_loss/inf-weights-none": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": [inf] * 6},
        {"delta": 2.0, "reduction": "none"}, 1.0),
    "losses.huber_loss/0.6max": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": [0.6 * M32] * 6},
        {"delta": 2.0, "reduction": "weighted_sum"}, 1.0),
    "losses.huber_loss/0.3max": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": [0.3 * M32] * 6},
        {"delta": 2.0, "reduction": "weighted_sum"}, 1.0),
    "losses.huber_loss/0.3max-delta4": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": [0.3 * M32] * 6},
        {"delta": 4.0, "reduction": "weighted_sum"}, 1.0),
    "losses.huber_loss/0.3max-dy4": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": [0.3 * M32] * 6},
        {"delta": 2.0, "reduction": "weighted_sum"}, 4.0),
    # an upstream dy w / D near the max: TF multiplies dy into the upstream
    # BEFORE the local derivative (so (dy w) min(|e|, delta) stays finite for
    # |dy| < 1 where w min(|e|, delta) alone overflows), op by op as above
    "losses.huber_loss/max-weights-dy": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": ["-M"] * 6},
        {"delta": 2.0, "reduction": "weighted_sum"}, 0.5),
    "losses.huber_loss/max-weight-sbnz": (v1.huber_loss, {
        "labels": -0.157032, "predictions": 1.1264007, "weights": "-M"},
        {"delta": 2.0, "reduction": "weighted_sum_by_nonzero_weights"}, -0.46150294),
    "losses.huber_loss/max-weights-none": (v1.huber_loss, {
        "labels": [0.0] * 6, "predictions": HP, "weights": ["M"] * 6},
        {"delta": 2.0, "reduction": "none"}, [0.5, 0.5, -0.25, 0.5, 0.75, 0.5]),
    # label_smoothing = 1: labels * (1 - 1) is exactly 0, so labels of +-max do
    # not reach the loss (logits near 1e29: the value is about 0.5 |x| w / n)
    "contrib.losses.sigmoid_cross_entropy/ls1-huge-labels": (cl.sigmoid_cross_entropy, {
        "multi_class_labels": [["M", "-M"], [0.25, "M"]], "logits": [[1e29, -3.0], [0.5, -2e28]],
        "weights": [[1.5], [0.0]]}, {"label_smoothing": 1.0}, 0.5),
    "nn.log_poisson_loss": (cyloss.nn.log_poisson_loss, {
        "targets": ["D", "D", "D", 2.0], "log_input": [-inf, 1.0, 0.0, 0.5]}, {},
        [1.0, 0.5, 2.0, 1.0]),
    "nn.log_poisson_loss/full-huge": (cyloss.nn.log_poisson_loss, {
        "targets": ["M", inf, 3.0, 0.0], "log_input": [0.028, -2.69, 0.5, 1.0]},
        {"compute_full_loss": True}, [1.0, 1.0, 0.5, 1.0]),
    "nn.log_poisson_loss/full": (cyloss.nn.log_poisson_loss, {
        "targets": ["D", "D", "D", 2.0], "log_input": [-inf, 1.0, 0.0, 0.5]},
        {"compute_full_loss": True}, [1.0, 0.5, 2.0, 1.0]),
}

# (name, dtype) -> (value, {argument: gradient}) from TF 2.21
TF = {
 ('nn.log_poisson_loss/full-huge', 'float32'): ([inf, nan, 1.912802815437317, 2.7182817459106445], {'targets': [87.69483947753906, nan, 0.38263949751853943, nan], 'log_input': [-3.4028234663852886e+38, -inf, -0.6756393909454346, 2.7182817459106445]}),
 ('nn.log_poisson_loss/full-huge', 'float64'): ([inf, nan, 1.9128028142431843, 2.7182818284590455], {'targets': [708.754712893384, nan, 0.3826394776673881, nan], 'log_input': [-1.7976931348623157e+308, -inf, -0.6756393646499359, 2.7182818284590455]}),
   ('losses.compute_weighted_loss', 'float32'): (3.75, {'losses': [0.375, 0.0, 0.0, 0.75], 'weights': [0.5625, 0.75, 0.1875, 1.125]}),
   ('losses.compute_weighted_loss', 'float64'): (3.75, {'losses': [0.375, 0.0, 0.0, 0.75], 'weights': [0.5625, 0.75, 0.1875, 1.125]}),
   ('losses.compute_weighted_loss/mean', 'float32'): (2.5, {'losses': [0.25, 0.0, 0.0, 0.5], 'weights': [-0.25, -0.125, -0.5, 0.125]}),
   ('losses.compute_weighted_loss/mean', 'float64'): (2.5, {'losses': [0.25, 0.0, 0.0, 0.5], 'weights': [-0.25, -0.125, -0.5, 0.125]}),
   ('losses.compute_weighted_loss/scalar', 'float32'): (0.0, {'losses': [0.0, 0.0, 0.0, 0.0], 'weights': 0.0}),
   ('losses.compute_weighted_loss/scalar', 'float64'): (0.0, {'losses': [0.0, 0.0, 0.0, 0.0], 'weights': 0.0}),
   ('contrib.losses.compute_weighted_loss', 'float32'): (3.5, {'losses': [[0.0, 0.0], [0.75, 0.75]], 'weights': [1.3125, 1.3125]}),
   ('contrib.losses.compute_weighted_loss', 'float64'): (3.5, {'losses': [[0.0, 0.0], [0.75, 0.75]], 'weights': [1.3125, 1.3125]}),
   ('losses.hinge_loss', 'float32'): (1.8333333730697632, {'labels': [-0.125, 0.0, 0.375, -0.75], 'logits': [-0.25, 0.0, -0.125, 0.5], 'weights': [0.1875, 0.125, 0.625, 0.4375]}),
   ('losses.hinge_loss', 'float64'): (1.8333333730697632, {'labels': [-0.125, 0.0, 0.375, -0.75], 'logits': [-0.25, 0.0, -0.125, 0.5], 'weights': [0.1875, 0.125, 0.625, 0.4375]}),
   ('losses.log_loss', 'float32'): (nan, {'labels': [-0.05295610427856445, 0.0, 0.08664337545633316, -0.1216193363070488], 'predictions': [1.0127448257512158e+38, -0.12499997019767761, -0.11718741804361343, -1.9444691324514927e+38]}),
   ('contrib.losses.log_loss', 'float32'): (nan, {'labels': [-0.05295610427856445, 0.0, 0.08664337545633316, -0.1216193363070488], 'predictions': [1.0127448257512158e+38, -0.12499997019767761, -0.11718741804361343, -1.9444691324514927e+38], 'weights': nan}),
   ('losses.mean_squared_error', 'float32'): (inf, {'labels': [2.8356862219877405e+37, -0.0, -0.75], 'predictions': [-2.8356862219877405e+37, 0.0, 0.75], 'weights': [inf, 0.0, 0.84375]}),
   ('contrib.losses.mean_squared_error', 'float32'): (inf, {'labels': [inf, -0.0, -0.75], 'predictions': [-inf, 0.0, 0.75], 'weights': [inf, 0.0, 0.84375]}),
   ('contrib.losses.hinge_loss', 'float32'): ([0.0, 3.4028234663852886e+38, 3.4028234663852886e+38, 0.5], {'labels': [0.0, 1.7014117331926443e+38, 2.722258773108231e+38, -2.0], 'logits': [0.0, -0.25, -0.4000000059604645, -2.0]}),
   ('contrib.losses.hinge_loss', 'float64'): ([0.0, 1.7976931348623157e+308, 1.7976931348623157e+308, 0.5], {'labels': [0.0, 8.988465674311579e+307, 1.4381545293200247e+308, -2.0], 'logits': [0.0, -0.25, -0.4000000059604645, -2.0]}),
   ('contrib.losses.sigmoid_cross_entropy', 'float32'): (inf, {'multi_class_labels': [inf, -0.125, -0.0], 'logits': [nan, 0.15561482310295105, 0.0], 'weights': [0.29277515411376953, 0.24351924657821655, 0.03173200041055679]}),
   ('contrib.losses.sigmoid_cross_entropy', 'float64'): (inf, {'multi_class_labels': [inf, -0.125, -0.0], 'logits': [nan, 0.15561483280046362, 0.0], 'weights': [0.29277515411376953, 0.24351924657821655, 0.03173200413584709]}),
   ('losses.cosine_distance/denormal', 'float32'): (nan, {'labels': [[-0.0, -0.125], [-0.0, -0.03125]], 'predictions': [[-inf, -0.25], [-4.2535293329816107e+37, -0.25]], 'weights': [[nan], [0.125]]}),
   ('contrib.losses.cosine_distance/denormal', 'float32'): (nan, {'labels': [[-0.0, -0.125], [-0.0, -0.03125]], 'predictions': [[-inf, -0.25], [-4.2535293329816107e+37, -0.25]], 'weights': [nan, 0.125]}),
   ('losses.sigmoid_cross_entropy/flushed-upstream', 'float32'): (0.8224923610687256, {'multi_class_labels': [0.0, 0.0], 'logits': [0.0, 0.0], 'weights': [0.0, 0.0]}),
   ('losses.absolute_difference/flushed-upstream', 'float32'): (inf, {'labels': [0.0, 0.0], 'predictions': [-0.0, -0.0], 'weights': [inf, inf]}),
   ('losses.mean_squared_error/mean-overflow', 'float32'): (nan, {'labels': [-0.0, -0.0, 0.0, 0.0], 'predictions': [0.0, 0.0, -0.0, -0.0], 'weights': [nan, nan, nan, nan]}),
   ('losses.compute_weighted_loss/sum-order', 'float32'): (nan, {'losses': [0.5] * 14, 'weights': [0.5, -1.7014117331926443e+38, -8.5070586659632215e+37, 1.2760587745414712e+38, 1.7014117331926443e+38, -8.5070586659632215e+37, -8.5070586659632215e+37, 0.5, 1.7014117331926443e+38, 0.5, 0.5, 0.5, 0.5, 1.2760587745414712e+38]}),
   ('contrib.losses.compute_weighted_loss/scalar-overflow', 'float32'): (inf, {'losses': [0.03125, 0.03125, 0.03125, 0.03125], 'weights': inf}),
   ('contrib.losses.compute_weighted_loss/lead-inf', 'float32'): (inf, {'losses': [[inf, inf, inf], [0.0, 0.0, 0.0], [0.1666666716337204, 0.1666666716337204, 0.1666666716337204]], 'weights': [[0.125], [0.0], [0.2291666716337204]]}),
   ('contrib.losses.compute_weighted_loss/lead-inf', 'float64'): (inf, {'losses': [[inf, inf, inf], [0.0, 0.0, 0.0], [0.1666666716337204, 0.1666666716337204, 0.1666666716337204]], 'weights': [[0.125], [0.0], [0.2291666716337204]]}),
   ('contrib.losses.absolute_difference/lead-inf', 'float32'): (inf, {'predictions': [[nan, -inf, nan]], 'labels': [[nan, inf, nan]], 'weights': [0.125]}),
   ('contrib.losses.absolute_difference/lead-inf', 'float64'): (inf, {'predictions': [[nan, -inf, nan]], 'labels': [[nan, inf, nan]], 'weights': [0.125]}),
   ('losses.huber_loss/inf-weights', 'float32'): (nan, {'labels': [nan, -inf, nan, nan, nan, nan], 'predictions': [nan, inf, nan, nan, nan, nan], 'weights': [0.125, 4.0, 2.0, 0.0, 0.5, 2.0]}),
   ('losses.huber_loss/inf-weights', 'float64'): (nan, {'labels': [nan, -inf, nan, nan, nan, nan], 'predictions': [nan, inf, nan, nan, nan, nan], 'weights': [0.125, 4.0, 2.0, 0.0, 0.5, 2.0]}),
   ('losses.huber_loss/nan-weights', 'float32'): (nan, {'labels': [nan, nan, nan, nan, nan, nan], 'predictions': [nan, nan, nan, nan, nan, nan], 'weights': [0.125, 1.375, 0.875, 0.0, 0.375, 0.875]}),
   ('losses.huber_loss/nan-weights', 'float64'): (nan, {'labels': [nan, nan, nan, nan, nan, nan], 'predictions': [nan, nan, nan, nan, nan, nan], 'weights': [0.125, 1.375, 0.875, 0.0, 0.375, 0.875]}),
   ('losses.huber_loss/inf-weights-none', 'float32'): ([inf, inf, inf, nan, inf, inf], {'labels': [nan, -inf, nan, nan, nan, nan], 'predictions': [nan, inf, nan, nan, nan, nan], 'weights': [0.125, 4.0, 2.0, 0.0, 0.5, 2.0]}),
   ('losses.huber_loss/inf-weights-none', 'float64'): ([inf, inf, inf, nan, inf, inf], {'labels': [nan, -inf, nan, nan, nan, nan], 'predictions': [nan, inf, nan, nan, nan, nan], 'weights': [0.125, 4.0, 2.0, 0.0, 0.5, 2.0]}),
   ('losses.huber_loss/0.6max', 'float32'): (inf, {'labels': [nan, -inf, nan, nan, nan, nan], 'predictions': [nan, inf, nan, nan, nan, nan], 'weights': [0.125, 4.0, 2.0, 0.0, 0.5, 2.0]}),
   ('losses.huber_loss/0.3max', 'float32'): (inf, {'labels': [-5.104234692517693e+37, -2.041694079831173e+38, -2.041694079831173e+38, -0.0, -1.0208470399155866e+38, 2.041694079831173e+38], 'predictions': [5.104234692517693e+37, 2.041694079831173e+38, 2.041694079831173e+38, 0.0, 1.0208470399155866e+38, -2.041694079831173e+38], 'weights': [0.125, 4.0, 2.0, 0.0, 0.5, 2.0]}),
   ('losses.huber_loss/0.3max-delta4', 'float32'): (inf, {'labels': [nan, nan, nan, nan, nan, nan], 'predictions': [nan, nan, nan, nan, nan, nan], 'weights': [0.125, 4.5, 2.0, 0.0, 0.5, 2.0]}),
   ('losses.huber_loss/0.3max-dy4', 'float32'): (inf, {'labels': [nan, -inf, nan, nan, nan, nan], 'predictions': [nan, inf, nan, nan, nan, nan], 'weights': [0.5, 16.0, 8.0, 0.0, 2.0, 8.0]}),
   ('losses.huber_loss/max-weights-dy', 'float32'): (-inf, {'labels': [8.507059173023462e+37, 3.4028234663852886e+38, 3.4028234663852886e+38, -0.0, 1.7014117331926443e+38, -3.4028234663852886e+38], 'predictions': [-8.507059173023462e+37, -3.4028234663852886e+38, -3.4028234663852886e+38, 0.0, -1.7014117331926443e+38, 3.4028234663852886e+38], 'weights': [0.0625, 2.0, 1.0, 0.0, 0.25, 1.0]}),
   ('losses.huber_loss/max-weight-sbnz', 'float32'): (-2.8025645400447372e+38, {'labels': -2.0155194274135646e+38, 'predictions': 2.0155194274135646e+38, 'weights': -0.38009369373321533}),
   ('losses.huber_loss/max-weights-none', 'float32'): ([4.2535293329816107e+37, inf, inf, 0.0, 1.7014117331926443e+38, inf], {'labels': [-8.507059173023462e+37, -3.4028234663852886e+38, 1.7014117331926443e+38, -0.0, nan, 3.4028234663852886e+38], 'predictions': [8.507059173023462e+37, 3.4028234663852886e+38, -1.7014117331926443e+38, 0.0, nan, -3.4028234663852886e+38], 'weights': [0.0625, 2.0, -0.5, 0.0, 0.375, 1.0]}),
   ('contrib.losses.sigmoid_cross_entropy/ls1-huge-labels', 'float32'): (3.7500000564279983e+28, {'multi_class_labels': [[-0.0, 0.0], [-0.0, 0.0]], 'logits': [[0.1875, -0.1697153002023697], [0.0, 0.0]], 'weights': [[1.2500000188093328e+28], [2.4999998605299224e+27]]}),
   ('contrib.losses.sigmoid_cross_entropy/ls1-huge-labels', 'float64'): (3.7500000564279983e+28, {'multi_class_labels': [[-0.0, 0.0], [-0.0, 0.0]], 'logits': [[0.1875, -0.16971529755841244], [0.0, 0.0]], 'weights': [[1.2500000188093328e+28], [2.4999998605299224e+27]]}),
   ('nn.log_poisson_loss', 'float32'): ([nan, 2.7182817459106445, 1.0, 0.6487212181091309], {'targets': [inf, -0.5, -0.0, -0.5], 'log_input': [0.0, 1.3591408729553223, 2.0, -0.35127878189086914]}),
   ('nn.log_poisson_loss', 'float64'): ([nan, 2.7182818284590455, 1.0, 0.6487212707001282], {'targets': [inf, -0.5, -0.0, -0.5], 'log_input': [0.0, 1.3591409142295228, 2.0, -0.3512787292998718]}),
   ('nn.log_poisson_loss/full', 'float32'): ([nan, 2.7182817459106445, 1.0, 1.3005276918411255], {'targets': [nan, nan, nan, 0.4431471824645996], 'log_input': [0.0, 1.3591408729553223, 2.0, -0.35127878189086914]}),
   ('nn.log_poisson_loss/full', 'float64'): ([nan, 2.7182818284590455, 1.0, 1.3005277553046641], {'targets': [nan, nan, nan, 0.4431471805599453], 'log_input': [0.0, 1.3591409142295228, 2.0, -0.3512787292998718]}),
}


# computed by TF in float32 whatever the data's dtype (cyloss: in the data's)
NARROWED = {n for n in CASES if n.startswith(("losses.", "contrib.losses."))} - {
    "contrib.losses.hinge_loss"}


def check(got, want, dt):
    # finite elements: a few roundings (8 eps of the type TF computes in: float32
    # for the narrowed losses, see NARROWED) relative to the element, or 8 times
    # that type's smallest normal (TF flushes denormal results to zero)
    assert_special_close(got, want, dt, k=8, floor=8)


@pytest.mark.parametrize("key", sorted(TF), ids=lambda k: f"{k[0]}-{k[1]}")
def test_special_values_match_tf(key):
    name, dtype = key
    fn, inputs, opts, dy = CASES[name]
    dt = np.dtype(dtype)
    args = {k: arr(v, dt) for k, v in inputs.items()}
    want_value, want_grads = TF[key]
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(fn, **args, **opts)
        # dy as the TF numbers were made: a float32 constant cast to the dtype
        grads = backward(np.asarray(dy, np.float32).astype(dt) * np.ones(np.shape(value), dt))
    tf_dt = np.dtype(np.float32) if name in NARROWED else dt
    check(value, want_value, tf_dt)
    for k, g in want_grads.items():
        check(grads[k], g, tf_dt)


def test_denormal_weights_count_as_absent():
    # the only nonzero weight is a denormal: nothing is present, so the value
    # and every gradient are 0 (div_no_nan), as in TF
    for dt in (np.float32, np.float64):
        d = np.finfo(dt).tiny / 4
        losses = np.array([[1.5, 2.0], [0.5, 3.0]], dt)
        w = np.array([[d], [0.0]], dt)
        for fn in (v1.compute_weighted_loss, cl.compute_weighted_loss):
            value, backward = cyloss.vjp(fn, losses=losses, weights=w)
            g = backward()
            assert float(value) == 0.0
            assert not np.any(g["losses"]) and not np.any(g["weights"])


def test_none_reduction_forms_dy_times_weight_first():
    # NONE: TF's upstream of each element is dy * w, formed before the local
    # derivative: at labels == predictions, sign(0) = 0 times dy * max = inf is
    # NaN (TF 2.21), where (0 * w) * dy would be 0
    m = np.finfo(np.float32).max
    lab = np.array([1.5, 0.25, -2.0], np.float32)
    pred = np.array([1.5, 0.5, -2.0], np.float32)
    w = np.array([m, m, 1.0], np.float32)
    with np.errstate(all="ignore"):
        _, backward = cyloss.vjp(v1.absolute_difference, lab, pred, weights=w, reduction="none")
        g = backward(np.array([2.0, 0.5, 3.0], np.float32))
    check(g["labels"], [nan, -1.7014117331926443e+38, -0.0], np.float32)
    check(g["predictions"], [nan, 1.7014117331926443e+38, 0.0], np.float32)
    check(g["weights"], [0.0, 0.125, 0.0], np.float32)


def test_weighted_mean_weights_gradient_in_the_dtype():
    # d/dw of sum(L w) / sum(w): L dy / D + dy ((-S / D) / D), each in float32 as
    # TF forms it: both overflow (-inf, inf) and add to NaN (TF 2.21); the second
    # in float64 would stay finite and leave -inf
    m = np.finfo(np.float32).max
    x = np.array([-m, 2.0], np.float32)
    z = np.array([0.9592455, 0.5], np.float32)
    w = np.array([-0.1486042, 0.0], np.float32)
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(v1.sigmoid_cross_entropy, z, x, weights=w,
                                     reduction="weighted_mean")
        g = backward()
    check(value, 3.264143e+38, np.float32)
    check(g["weights"], [nan, inf], np.float32)
    check(g["logits"], [-0.959245502948761, 0.0], np.float32)


def test_denormal_loss_reads_as_zero():
    # TF's CPU reads the denormal loss as 0 (TF 2.21): the weighted mean is 0
    # and its weight's gradient loss / D - S / D^2 is 0, not 2.9e-39 / 0.0105
    value, backward = cyloss.vjp(cyloss.losses.compute_weighted_loss,
                                 losses=np.array([[2.938736e-39]], np.float32),
                                 weights=np.array([[0.01047673]], np.float32),
                                 reduction="weighted_mean")
    g = backward()
    assert value.tolist() == 0.0
    assert g["losses"].tolist() == [[1.0]]
    assert g["weights"].tolist() == [[0.0]]
