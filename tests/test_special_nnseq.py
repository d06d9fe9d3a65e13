"""Special values (denormals, +-max, NaN) through tf.nn's weighted and softmax
cross-entropies, log_poisson_loss, contrib.seq2seq.sequence_loss and
legacy_seq2seq.sequence_loss_by_example, where cyloss follows TF's op order
for the gradient with the upstream dy inside (pyx/_pointwise.pyx
pt_weighted_xent, pt_log_poisson; src/cyloss/seq2seq.py, legacy_seq2seq.py),
and TF's CPU flush-to-zero (denormal inputs are 0, denormal results flushed).

The expected numbers come from TF 2.21 on these exact inputs
(tf.nn.weighted_cross_entropy_with_logits, tf.nn.log_poisson_loss,
tf.nn.softmax_cross_entropy_with_logits, and the seq2seq losses composed from
TF primitives as conformance/registry_seq2seq.py does), gradients of
sum(value * dy) by tf.GradientTape. No TF is needed to run this file.
"""
import numpy as np
import pytest

import cyloss
import cyloss.legacy_seq2seq
import cyloss.nn
import cyloss.seq2seq

from _cases import assert_special_close

inf, nan = np.inf, np.nan


def arr(v, dt):
    """"M" / "-M" = +-finfo(dt).max, "D" / "-D" = +-finfo(dt).tiny / 4 (denormals)."""
    fi = np.finfo(dt)
    m = {"M": fi.max, "-M": -fi.max, "D": fi.tiny / 4, "-D": -fi.tiny / 4}

    def conv(x):
        return [conv(y) for y in x] if isinstance(x, list) else m.get(x, x) \
            if isinstance(x, str) else x
    return np.array(conv(v), dt)


X2 = [[[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], [[-2.0, 0.25, 1.5], [0.0, 3.0, 1.0]]]
T2 = [[0, 2], [1, 1]]
NO_AVG = {"average_across_timesteps": False, "average_across_batch": False}

# name -> (cyloss function, inputs, options, dy, the float arguments)
CASES = {
    "nn.weighted_cross_entropy_with_logits/huge": (
        cyloss.nn.weighted_cross_entropy_with_logits, {
            "labels": ["M", "-M", "M", 0.5, "M"], "logits": [-5.0, 3.0, 0.5, -2.0, 2.0],
            "pos_weight": [0.0, 2.25, 3.0, 1.5, 0.5]}, {}, [1.5, 2.0, 0.5, 1.0, 3.0],
        ("labels", "logits", "pos_weight")),
    "nn.weighted_cross_entropy_with_logits/denormal": (
        cyloss.nn.weighted_cross_entropy_with_logits, {
            "labels": [0.25, 0.75, "D", 1.0], "logits": ["D", "-D", 1.5, "D"],
            "pos_weight": [3.5, 1.5, 2.0, "D"]}, {}, 0.75,
        ("labels", "logits", "pos_weight")),
    "nn.log_poisson_loss/full-huge-dy": (
        cyloss.nn.log_poisson_loss, {
            "targets": ["M", "M", 3.0, "D"], "log_input": [0.028, 0.5, 0.25, 1.0]},
        {"compute_full_loss": True}, [2.0, 0.5, 1.5, 1.0], ("targets", "log_input")),
    "nn.softmax_cross_entropy_with_logits/denormal-labels": (
        cyloss.nn.softmax_cross_entropy_with_logits, {
            "labels": [["D", "-D", 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]],
            "logits": [[0.0, -80.0, 3.0, 1.0], [0.5, -1.0, 2.0, 0.0]]}, {}, [1.5, 0.5],
        ("labels", "logits")),
    # a denormal label is 0 to TF's Mul: x*z = 0 for a huge x, inf*0 = NaN at x = +-inf
    "nn.sigmoid_cross_entropy_with_logits/denormal-labels": (
        cyloss.nn.sigmoid_cross_entropy_with_logits, {
            "labels": ["D", "-D", "-D", "-D", "D", "D", "-D", 0.5, "D", "D", "-D"],
            "logits": [-7.5e10, -7.5e10, inf, -inf, inf, -inf, "M", "-M", 3.0, -100.0, "D"]},
        {}, [1.5, 2.0, 0.5, 1.0, 3.0, 1.0, 0.5, 2.0, 1.0, 1.0, 1.0], ("labels", "logits")),
    "seq2seq.sequence_loss/denormal-weights": (
        cyloss.seq2seq.sequence_loss, {
            "logits": X2, "targets": T2, "weights": [["D", 0.0], [1.0, "-D"]]},
        {"average_across_timesteps": True, "average_across_batch": False}, [1.0, 2.0],
        ("logits", "weights")),
    "seq2seq.sequence_loss/huge-weight": (
        cyloss.seq2seq.sequence_loss, {
            "logits": X2, "targets": T2, "weights": [["M", 1.0], [0.5, 0.0]]},
        {"average_across_timesteps": False, "average_across_batch": True}, [1.0, 0.5],
        ("logits", "weights")),
    "seq2seq.sequence_loss/none-huge-dy": (
        cyloss.seq2seq.sequence_loss, {
            "logits": X2, "targets": T2, "weights": [["M", 1.0], ["-M", 2.0]]},
        NO_AVG, [[2.0, 1.0], [0.5, 1.0]], ("logits", "weights")),
    "seq2seq.sequence_loss/nan-weight-zero-row": (
        cyloss.seq2seq.sequence_loss, {
            "logits": X2, "targets": T2, "weights": [[nan, 0.0], [1.0, 0.0]]},
        {"average_across_timesteps": True, "average_across_batch": False}, [1.0, 1.0],
        ("logits", "weights")),
    "legacy_seq2seq.sequence_loss_by_example/nan-weight": (
        cyloss.legacy_seq2seq.sequence_loss_by_example, {
            "logits": X2, "targets": [[0, 1], [2, 0]], "weights": [[nan, 1.0], [0.0, 0.5]]},
        {}, [1.0, 2.0], ("logits", "weights")),
    # x - max = -87.2 (float32) / -708.2 (float64): e / sum is denormal
    "seq2seq.sequence_loss/denormal-prob-inf-weight": (
        cyloss.seq2seq.sequence_loss, {
            "logits": [[[1.0, 0.0, -86.2, -707.2], [0.5, -1.0, 2.0, 0.0]]], "targets": [[0, 2]],
            "weights": [[-inf, 1.0]]}, NO_AVG, [[1.0, 0.5]], ("logits", "weights")),
    "nn.weighted_cross_entropy_with_logits/flushed-dq": (
        cyloss.nn.weighted_cross_entropy_with_logits, {
            "labels": [0.93669486, 0.5], "logits": [85.75, 700.0], "pos_weight": "M"}, {},
        [-0.0774, 1e-5], ("labels", "logits", "pos_weight")),

}

# a softmax probability below the smallest normal (logits far below the row's
# maximum: float32 / float64 rows) is 0 in TF's kernel, so an infinite
# upstream gives 0 * inf = NaN there and a huge one 0
_ONEHOT = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
for _bits, _logits, _huge in (("32", [[1.0, 0.0, -86.2, -90.0], [0.5, 2.0, -88.0, 1.0]],
                               [3e38, -2e38]),
                              ("64", [[1.0, 0.0, -720.0, -750.0], [0.5, 2.0, -740.0, 1.0]],
                               [1e308, -1.5e308])):
    _sparse = {"labels": [0, 1], "logits": _logits}
    CASES[f"nn.sparse_softmax_cross_entropy_with_logits/denormal-prob-inf-dy-{_bits}"] = (
        cyloss.nn.sparse_softmax_cross_entropy_with_logits, _sparse, {}, [inf, -inf], ("logits",))
    CASES[f"nn.sparse_softmax_cross_entropy_with_logits/denormal-prob-huge-dy-{_bits}"] = (
        cyloss.nn.sparse_softmax_cross_entropy_with_logits, _sparse, {}, _huge, ("logits",))
    CASES[f"nn.softmax_cross_entropy_with_logits/denormal-prob-inf-dy-{_bits}"] = (
        cyloss.nn.softmax_cross_entropy_with_logits, {"labels": _ONEHOT, "logits": _logits}, {},
        [inf, -inf], ("labels", "logits"))

# (name, dtype) -> (value, {argument: gradient}) from TF 2.21
TF = {
 ('nn.weighted_cross_entropy_with_logits/huge', 'float32'): ([nan, nan, inf, 1.6586601734161377, -inf], {'labels': [-0.010072708129882812, -5.878531455993652, 0.2240769863128662, 3.0634641647338867, -6.190392017364502], 'logits': [nan, nan, nan, -0.6009963750839233, nan], 'pos_weight': [inf, -3.3066835772133795e+37, 8.066001443204133e+37, 1.0634640455245972, 1.2957407234088068e+38]}),
 ('nn.weighted_cross_entropy_with_logits/huge', 'float64'): ([nan, nan, inf, 1.6586600138037157, -inf], {'labels': [-0.010073022733677384, -5.878531621065645, 0.2240769841801067, 3.063464005521486, -6.190392016564458], 'logits': [nan, nan, nan, -0.6009963474723531, nan], 'pos_weight': [inf, -1.7469029673051564e+307, 4.261224699284042e+307, 1.0634640055214863, 6.845328422210396e+307]}),
 ('nn.weighted_cross_entropy_with_logits/denormal', 'float32'): ([1.1263642311096191, 0.9530773758888245, 1.7014132738113403, 0.0], {'labels': [1.2996509075164795, 0.25993019342422485, -0.9739400148391724, -0.5198603868484497], 'logits': [0.5625, 0.1875, 0.6131808757781982, 0.0], 'pos_weight': [0.12996509671211243, 0.3898952901363373, 0.0, 0.5198603868484497]}),
 ('nn.weighted_cross_entropy_with_logits/denormal', 'float64'): ([1.126364168409911, 0.9530773732699248, 1.7014132779827524, 0.0], {'labels': [1.2996509635498974, 0.25993019270997947, -0.9739400415129358, -0.5198603854199589], 'logits': [0.5625, 0.1875, 0.6131808571452327, 0.0], 'pos_weight': [0.12996509635498973, 0.3898952890649692, 0.0, 0.5198603854199589]}),
 ('nn.log_poisson_loss/full-huge-dy', 'float32'): ([inf, inf, 2.298107147216797, 2.7182817459106445], {'targets': [nan, 43.611419677734375, 1.522918462753296, nan], 'log_input': [-inf, -1.7014117331926443e+38, -2.5739617347717285, 2.7182817459106445]}),
 ('nn.log_poisson_loss/full-huge-dy', 'float64'): ([inf, inf, 2.2981069602307977, 2.7182818284590455], {'targets': [nan, 354.141356446692, 1.5229184330021643, nan], 'log_input': [-inf, -8.988465674311579e+307, -2.573961874968388, 2.7182818284590455]}),
 ('nn.softmax_cross_entropy_with_logits/denormal-labels', 'float32'): ([0.0, 3.3423495292663574], {'labels': [[4.754769325256348, 124.75476837158203, 0.25476905703544617, 3.2547690868377686], [0.9211748242378235, 1.6711747646331787, 0.1711748242378235, 1.1711747646331787]], 'logits': [[0.06301510334014893, 1.137328810055691e-36, 1.2656919956207275, 0.17129279673099518], [0.07922235131263733, -0.4823231101036072, 0.3550499379634857, 0.048050783574581146]]}),
 ('nn.softmax_cross_entropy_with_logits/denormal-labels', 'float64'): ([0.0, 3.342349582389822], {'labels': [[4.754769029334429, 124.75476902933443, 0.25476902933442824, 3.2547690293344287], [0.9211747911949111, 1.671174791194911, 0.17117479119491108, 1.171174791194911]], 'logits': [[0.0630150992010991, 1.1373288924832021e-36, 1.2656921017220093, 0.17129279907689177], [0.07922235475748986, -0.48232310329562555, 0.3550499614430871, 0.048050787095048605]]}),
 ('nn.sigmoid_cross_entropy_with_logits/denormal-labels', 'float32'): ([0.0, 0.0, nan, nan, nan, nan, 3.4028234663852886e+38, 1.7014117331926443e+38, 3.0485873222351074, 0.0, 0.6931471824645996], {'labels': [112499998720.0, 149999992832.0, -inf, inf, -inf, inf, -1.7014117331926443e+38, inf, -3.0, 100.0, -0.0], 'logits': [0.0, 0.0, 0.5, 0.0, 3.0, 0.0, 0.5, -1.0, 0.9525741338729858, 0.0, 0.5]}),
 ('nn.sigmoid_cross_entropy_with_logits/denormal-labels', 'float64'): ([0.0, 0.0, nan, nan, nan, nan, 1.7976931348623157e+308, 8.988465674311579e+307, 3.048587351573742, 3.720075976020836e-44, 0.6931471805599453], {'labels': [112500000000.0, 150000000000.0, -inf, inf, -inf, inf, -8.988465674311579e+307, inf, -3.0, 100.0, -0.0], 'logits': [0.0, 0.0, 0.5, 0.0, 3.0, 0.0, 0.5, -1.0, 0.9525741268224333, 3.720075976020836e-44, 0.5]}),
 ('seq2seq.sequence_loss/denormal-weights', 'float32'): ([0.0, 1.525130271911621], {'logits': [[[-0.0, 0.0, 0.0], [0.0, 0.0, -0.0]], [[0.04586820676922798, -1.564814567565918, 1.5189464092254639], [-0.0, 0.0, -0.0]]], 'weights': [[0.0, 0.0], [0.0, -2.710568428039551]]}),
 ('seq2seq.sequence_loss/denormal-weights', 'float64'): ([0.0, 1.5251302622476353], {'logits': [[[-0.0, 0.0, 0.0], [0.0, 0.0, -0.0]], [[0.045868205999080855, -1.5648145781930454, 1.5189463721939647], [-0.0, 0.0, -0.0]]], 'weights': [[0.0, 0.0], [0.0, -2.7105684853826997]]}),
 ('seq2seq.sequence_loss/huge-weight', 'float32'): ([inf, 1.9643688201904297], {'logits': [[[-0.0, 0.0, 0.0], [0.3142658472061157, 0.11561194807291031, -0.4298778176307678]], [[0.0, -0.0, 0.0], [0.0, -0.0, 0.0]]], 'weights': [[-inf, 0.0], [-inf, -0.897261381149292]]}),
 ('seq2seq.sequence_loss/huge-weight', 'float64'): ([inf, 1.964368784107945], {'logits': [[[-0.0, 0.0, 0.0], [0.3142658596058812, 0.11561194881107452, -0.4298778084169558]], [[0.0, -0.0, 0.0], [0.0, -0.0, 0.0]]], 'weights': [[-inf, 0.0], [-inf, -0.8972613822758297]]}),
 ('seq2seq.sequence_loss/none-huge-dy', 'float32'): ([[inf, 1.9643688201904297], [-inf, 0.339692085981369]], {'logits': [[[-inf, inf, inf], [0.6285316944122314, 0.23122389614582062, -0.8597556352615356]], [[-3.9020351745503273e+36, 1.3311969106971904e+38, -1.292176596981205e+38], [0.08402013033628464, -0.3124105930328369, 0.2283903956413269]]], 'weights': [[3.4826226234436035, 1.9643688201904297], [0.7625651359558105, 0.1698460429906845]]}),
 ('seq2seq.sequence_loss/none-huge-dy', 'float64'): ([[inf, 1.964368784107945], [-inf, 0.33969203911257095]], {'logits': [[[-inf, inf, inf], [0.6285317192117624, 0.23122389762214904, -0.8597556168339116]], [[-2.0614239758249534e+306, 7.03264106137527e+307, -6.826498663792775e+307], [0.08402013226813212, -0.31241053103732086, 0.228390398769189]]], 'weights': [[3.4826225933143142, 1.964368784107945], [0.7625651311238176, 0.16984601955628548]]}),
 ('seq2seq.sequence_loss/nan-weight-zero-row', 'float32'): ([nan, 1.525130271911621], {'logits': [[[nan, nan, nan], [nan, nan, nan]], [[0.02293410338461399, -0.782407283782959, 0.7594732046127319], [0.0, -0.0, 0.0]]], 'weights': [[nan, nan], [0.0, -1.3552842140197754]]}),
 ('seq2seq.sequence_loss/nan-weight-zero-row', 'float64'): ([nan, 1.5251302622476353], {'logits': [[[nan, nan, nan], [nan, nan, nan]], [[0.022934102999540427, -0.7824072890965227, 0.7594731860969823], [0.0, -0.0, 0.0]]], 'weights': [[nan, nan], [0.0, -1.3552842426913498]]}),
 ('legacy_seq2seq.sequence_loss_by_example/nan-weight', 'float32'): ([nan, 2.0328612327575684], {'logits': [[[nan, nan, nan], [0.8380422592163086, -1.0250349044799805, 0.18699251115322113]], [[nan, nan, nan], [-0.6386599540710449, 0.5625298023223877, 0.07613013684749603]]], 'weights': [[nan, -0.7579898834228516], [nan, 1.5159797668457031]]}),
 ('legacy_seq2seq.sequence_loss_by_example/nan-weight', 'float64'): ([nan, 2.032861195922703], {'logits': [[[nan, nan, nan], [0.8380422922817912, -1.0250348031697847, 0.1869925108879933]], [[nan, nan, nan], [-0.6386599559101969, 0.5625298229871847, 0.07613013292301225]]], 'weights': [[nan, -0.757989882419172], [nan, 1.5159797648437667]]}),
 # dq = g c is denormal (float32: exp(-85.75) times -0.0774; float64: exp(-700) times 1e-5):
 # TF flushes it, so s dq adds 0 to d/dlabels (not a normal number from s = max)
 ('nn.weighted_cross_entropy_with_logits/flushed-dq', 'float32'): ([23.738306045532227, 350.0], {'labels': [6.637049674987793, -0.00699999975040555], 'logits': [1.4122856855392456, 4.999999873689376e-06], 'pos_weight': 0.0}),
 ('nn.weighted_cross_entropy_with_logits/flushed-dq', 'float64'): ([9.673015280062664e+270, 9212.336417339971], {'labels': [-7.992905850650768e+269, -0.007], 'logits': [7.486913826768503e+269, -0.08861836417339972], 'pos_weight': -4.164734059209677e-39}),
 # a softmax probability below the smallest normal is 0 in TF's kernel: 0 * -inf = NaN
 ('seq2seq.sequence_loss/denormal-prob-inf-weight', 'float32'): ([[-inf, 0.342349648475647]], {'logits': [[[inf, -inf, nan, nan], [0.07922235131263733, 0.01767689734697342, -0.14495006203651428, 0.048050783574581146]]], 'weights': [[0.31326165795326233, 0.1711748242378235]]}),
 ('seq2seq.sequence_loss/denormal-prob-inf-weight', 'float64'): ([[-inf, 0.34234958238982216]], {'logits': [[[inf, -inf, -inf, nan], [0.07922235475748986, 0.017676896704374435, -0.1449500385569129, 0.048050787095048605]]], 'weights': [[0.31326168751822286, 0.17117479119491108]]}),
 # TF 2.21: the denormal probability is flushed before the upstream multiplies it
 ('nn.sparse_softmax_cross_entropy_with_logits/denormal-prob-inf-dy-32', 'float32'): ([0.31326165795326233, 0.4643687903881073], {'logits': [[-inf, inf, nan, nan], [-inf, inf, nan, -inf]]}),
 ('nn.sparse_softmax_cross_entropy_with_logits/denormal-prob-huge-dy-32', 'float32'): ([0.31326165795326233, 0.4643687903881073], {'logits': [[-8.068242142405096e+37, 8.068243156525577e+37, 0.0, 0.0], [-2.8048873830045954e+37, 7.429366015239432e+37, -0.0, -4.624477618114357e+37]]}),
 ('nn.softmax_cross_entropy_with_logits/denormal-prob-inf-dy-32', 'float32'): ([0.31326165795326233, 0.4643687903881073], {'logits': [[-inf, inf, nan, nan], [-inf, inf, nan, -inf]]}),
 ('nn.sparse_softmax_cross_entropy_with_logits/denormal-prob-inf-dy-64', 'float64'): ([0.31326168751822286, 0.4643687841079449], {'logits': [[-inf, inf, nan, nan], [-inf, inf, nan, -inf]]}),
 ('nn.sparse_softmax_cross_entropy_with_logits/denormal-prob-huge-dy-64', 'float64'): ([0.31326168751822286, 0.4643687841079449], {'logits': [[-2.689414213699951e+307, 2.689414213699951e+307, 0.0, 0.0], [-2.1036657474913272e+307, 5.572024211823563e+307, -0.0, -3.4683584643322356e+307]]}),
 ('nn.softmax_cross_entropy_with_logits/denormal-prob-inf-dy-64', 'float64'): ([0.31326168751822286, 0.4643687841079449], {'logits': [[-inf, inf, nan, nan], [-inf, inf, nan, -inf]]}),
}


def check(got, want, dt, what):
    # finite elements: a few roundings (8 eps) relative to the element, or 8
    # times the smallest normal (TF flushes denormal results to zero)
    assert_special_close(got, want, dt, what, k=8, floor=8)


@pytest.mark.parametrize("key", sorted(TF), ids=lambda k: f"{k[0]}-{k[1]}")
def test_special_values_match_tf(key):
    name, dtype = key
    fn, inputs, opts, dy, wrt = CASES[name]
    dt = np.dtype(dtype)
    args = {k: arr(v, dt) if k in wrt else np.array(v) for k, v in inputs.items()}
    want_value, want_grads = TF[key]
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(fn, **args, **opts)
        grads = backward(np.asarray(dy, dt) * np.ones(np.shape(value), dt))
    check(value, want_value, dt, f"{name} value")
    for k, g in want_grads.items():
        got = np.stack(grads[k]) if isinstance(grads[k], list) else grads[k]
        check(got, g, dt, f"{name} d/d{k}")


def test_forward_gradients_equal_the_upstream_ones():
    # value_and_grad's gradients (dy = 1 from the forward pass) are the bits
    # of vjp's backward with an explicit dy = 1 (the kernel run again)
    for name, (fn, inputs, opts, dy, wrt) in CASES.items():
        for dt in (np.float32, np.float64):
            args = {k: arr(v, dt) if k in wrt else np.array(v) for k, v in inputs.items()}
            with np.errstate(all="ignore"):
                value, backward = cyloss.vjp(fn, **args, **opts)
                g1 = backward()
                value, backward = cyloss.vjp(fn, **args, **opts)
                g2 = backward(np.ones(np.shape(value), dt) * 1.0)
            for k in wrt:
                a, b = (np.stack(g[k]) if isinstance(g[k], list) else g[k] for g in (g1, g2))
                np.testing.assert_array_equal(a, b, err_msg=f"{name} d/d{k}")


# Labels of the other float type: TF casts them (math_ops.cast), and its CPU
# Cast flushes denormals of float32 (widening) or results below float32's
# smallest normal (narrowing) to zero. TF 2.21, gradient with dy = [1.5, 0.5].
_LOGITS = [[0.0, -80.0, 3.0, 1.0], [0.5, -1.0, 2.0, 0.0]]
_T32 = float(np.finfo(np.float32).tiny)
WIDE = {
    ("float32", "float64"): (
        [[_T32 / 4, -_T32 / 4, 0.5, 0.5], [_T32 / 1024, 1.0, 0.0, 0.0]],
        [1.1698460195562856, 3.342349582389822],
        [[0.0630150992010991, 1.1373288924832021e-36, 0.5156921017220093, -0.5787072009231082],
         [0.07922235475748986, -0.48232310329562555, 0.3550499614430871,
          0.048050787095048605]]),
    ("float64", "float32"): (
        [[1e-40, -1e-39, 0.5, 0.5], [1e-300, 1.0, 1.1754942e-38, 0.0]],
        [1.1698460578918457, 3.3423495292663574],
        [[0.06301510334014893, 1.137328810055691e-36, 0.5156920552253723, -0.578707218170166],
         [0.07922235131263733, -0.4823231101036072, 0.3550499379634857,
          0.048050783574581146]]),
}


@pytest.mark.parametrize("key", sorted(WIDE), ids=lambda k: f"{k[0]}-labels-{k[1]}-logits")
def test_softmax_xent_casts_labels_as_tf(key):
    ldt, xdt = (np.dtype(d) for d in key)
    labels, want_value, want_dx = WIDE[key]
    with np.errstate(all="ignore"):
        value, backward = cyloss.vjp(cyloss.nn.softmax_cross_entropy_with_logits,
                                     labels=np.array(labels, ldt),
                                     logits=np.array(_LOGITS, xdt))
        dx = backward(np.array([1.5, 0.5], xdt))["logits"]
    assert value.dtype == xdt and dx.dtype == xdt
    check(value, want_value, xdt, "value")
    check(dx, want_dx, xdt, "d/dlogits")


def test_tf_cast_flushes_as_tf():
    """_checks.tf_cast against tf.cast (TF 2.21, CPU); castable converts as
    TF converts a NumPy value (np.asarray: no flush) unless cast_op."""
    from cyloss import _checks as ck
    narrowed = ck.tf_cast(np.array([1e-300, 1e-40, -1e-39, 1.1754942e-38, 1.17549435e-38,
                                    1.0, np.nan, -np.inf]), np.float32)
    want = np.array([0.0, 0.0, -0.0, 0.0, 1.1754943508222875e-38, 1.0, np.nan, -np.inf],
                    np.float32)
    assert narrowed.dtype == np.float32
    np.testing.assert_array_equal(narrowed, want)
    assert np.array_equal(np.signbit(narrowed), np.signbit(want))
    widened = ck.tf_cast(np.array([_T32 / 4, -_T32 / 1024, _T32, 1.0], np.float32), np.float64)
    np.testing.assert_array_equal(widened, [0.0, -0.0, _T32, 1.0])
    assert np.signbit(widened[1])
    assert ck.tf_cast(np.array([3, 0]), np.float64).tolist() == [3.0, 0.0]
    den = np.array([_T32 / 4], np.float32)
    assert ck.castable(den, "x", np.float64)[0] == np.float64(den[0]) != 0
    assert ck.castable(den, "x", np.float64, cast_op=True)[0] == 0


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_sigmoid_xent_label_gradient_flushes_as_tf(dt):
    # d/dlabels = logits * (-dy) in TF, its CPU reading a denormal logit or dy
    # as 0 and flushing a denormal product (TF 2.21: zeros of these signs)
    tiny = np.finfo(dt).tiny
    x = np.array([tiny / 4, -tiny / 2, tiny * 4, 2.0, -1.5, tiny * 2], dt)
    z = np.array([0.3, 1.0, 0.5, 0.5, 0.2, 0.1], dt)
    dy = np.array([4.0, 1.0, 0.125, tiny / 8, 3.0, 0.25], dt)
    _, backward = cyloss.vjp(cyloss.nn.sigmoid_cross_entropy_with_logits, labels=z, logits=x)
    got = backward(dy)["labels"]
    assert got.tolist() == [-0.0, 0.0, -0.0, -0.0, 4.5, -0.0]
    assert np.signbit(got).tolist() == [True, False, True, True, False, True]
    assert backward()["labels"].tolist() == [-0.0, 0.0, -4 * tiny, -2.0, 1.5, -2 * tiny]


M64 = np.finfo(np.float64).max

# softmax_cross_entropy_with_logits' loss sum_k y_k (L - (x_k - m)) over 7
# classes, float64, whose terms near +-max overflow: TF adds them as its Sum
# kernel orders them (packets of 4, the tail of 3 added one by one, then the
# lanes in halves), which decides NaN, inf or finite (TF 2.21 values)
XENT_ORDER = [
    ([1e30, 0.41080611451854848, -2.0376692582899656, -0.47331523060225322, M64,
      0.4545396947602896, -0.88472771615668244],
     [-0.32507284070076226, -0.8417104460371719, 1.9996642454382332, -0.42556053146648093,
      -0.28778261747099193, 0.5136019143751713, -0.03678702150025632], nan),
    ([-1e30, -0.73245822731415611, M64, -0.04660914084365337, 0.21212257809234417,
      0.14538414803556485, -1.9009509783970824],
     [0.8819911482382504, -0.0681401325311327, 0.1286999098537782, -0.17071758391611475,
      0.6141709599922199, -0.9025592962073412, 0.3529130685309167], 1.2721522234440614e+308),
    ([-1.9111505451419968, 0.19356466866391617, 0.59947432948834312, -0.64885710974305,
      0.87931599924769321, 1.2715162407510441, M64],
     [0.8805535911507265, -0.23574827968989637, -0.05339444211202106, -0.37862821252345247,
      0.06192604242138293, -0.6751477753770698, 1.1833456308191246], -7.19866578090103e+307),
]


def test_softmax_xent_loss_in_tf_order():
    x = np.array([r[0] for r in XENT_ORDER])
    z = np.array([r[1] for r in XENT_ORDER])
    with np.errstate(all="ignore"):
        got = cyloss.nn.softmax_cross_entropy_with_logits(labels=z, logits=x)
    assert_special_close(got, [r[2] for r in XENT_ORDER], np.float64)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_xent_long_row_splits_where_tf_does(axis):
    # A row of 4099 > 1024 * 4 doubles is summed in two halves split at a packet
    # boundary counted from the row's offset in the tensor: 2053 + 2046 for row
    # 1 (offset 4099), where a split at 2052 (offset 0) would put the two +0.75
    # max terms apart (0.75 max, finite) instead of together (inf). TF 2.21:
    # [0, inf]; the same with the classes on axis 0 (TF moves them last).
    n, q = 4099, 0.75 * M64 / 1000
    x = np.full((2, n), -1000.0)
    x[:, 0] = 0.0
    z = np.zeros((2, n))
    z[1, [1, 2052, 4000]] = [q, q, -q]
    if axis == 0:
        x, z = x.T.copy(), z.T.copy()
    got = cyloss.nn.softmax_cross_entropy_with_logits(labels=z, logits=x, axis=axis)
    assert got.tolist() == [0.0, inf]
    # the second row alone is at offset 0: TF's split there keeps the sum finite
    alone = cyloss.nn.softmax_cross_entropy_with_logits(labels=z[1:] if axis else z[:, 1:],
                                                        logits=x[1:] if axis else x[:, 1:],
                                                        axis=axis)
    assert alone.tolist() == [1.3482698511467367e+308]


def test_softmax_products_flush_as_tf():
    # TF's CPU flushes denormal results (TF 2.21: all these gradients are 0):
    # the softmax e / sum of a 1.6e-38 exponential over a sum of 2 is 8.2e-39,
    # and a normal probability of 1.6e-38 or 3.3e-38 times the upstream 0.5 or
    # 0.25 is another denormal; every path that forms them (the dense and
    # sparse rows, the streamed division, the sampled losses' dy scaling)
    # writes 0. Exact: a denormal left in would sum to normal numbers later
    # (the sampled losses' weight gradients)
    x = np.array([[0, 0, -87.0], [0, -87.0, -87.0]], np.float32)
    y = np.array([[0.5, 0.5, 0], [1, 0, 0]], np.float32)
    for dy in (None, np.array([1.0, 0.5], np.float32)):
        v, b = cyloss.vjp(cyloss.nn.softmax_cross_entropy_with_logits, labels=y, logits=x)
        g = b(dy)["logits"]
        assert_special_close(v, [0.6931471824645996, 0.0], np.float32)
        assert g.tolist()[0] == [0.0, 0.0, 0.0]
        assert g.tolist()[1] == ([0.0, 1.6458114537543937e-38, 1.6458114537543937e-38]
                                 if dy is None else [0.0, 0.0, 0.0])
    v, b = cyloss.vjp(cyloss.nn.sparse_softmax_cross_entropy_with_logits, labels=np.array([0]),
                      logits=np.array([[0, -86.3]], np.float32))
    assert b(np.array([0.25], np.float32))["logits"].tolist() == [[0.0, 0.0]]
    assert cyloss.nn.softmax(x).tolist()[0] == [0.5, 0.5, 0.0]
