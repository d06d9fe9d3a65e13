"""Seed corpus: TensorFlow's sharpest edge cases, run on every CI.

One Seed per row of TF_SEMANTICS.md's quick reference ("sharpest edge case"
column), plus edge cases from TensorFlow's and Keras' issue trackers and the
defects tests/test_fuzz.py found. A Seed either references fixed cases the
registry already has (`refs`: (entry key, case label); test_conformance runs
them at every SIMD level, test_corpus checks they still exist so the corpus
cannot silently lose one), or brings new cases (`cases`: (entry key, Case))
that test_corpus runs against TF through the engine (value, error class and
message, gradients, dtypes, untouched inputs).
"""
from dataclasses import dataclass

import numpy as np

from .registry import err, ex
from .samples_keras import kex


@dataclass(frozen=True)
class Seed:
    row: str                # the TF_SEMANTICS quick-reference row (or "issue")
    edge: str               # the edge case, in words
    source: str             # where it comes from
    refs: tuple = ()        # ((entry key, fixed-case label), ...) already in the registry
    cases: tuple = ()       # ((entry key, Case), ...) run by test_corpus


def f32(a):
    return np.array(a, np.float32)


def f64(a):
    return np.array(a, np.float64)


QR = "TF_SEMANTICS sec. 0 quick reference"

_RNG = np.random.default_rng(20240607)
_YT3 = _RNG.standard_normal((2, 3, 4))
_YP2 = _RNG.standard_normal((3, 4))
_HUGE_NEG = f32([[-2.88181912e+11, -4.40300175e+11], [-2.29688918e+11, -3.53027424e+11],
                 [-2.14650274e+11, -3.81851140e+11]])
_CL_P = f32([[1, 0], [0.6, 0.8], [0, 1], [-0.8, 0.6]])
_CL_Y = np.array([0, 0, 1, 1], np.int32)

SEEDS = [
    # ------------------------------------------------------------- cyloss.nn --
    Seed("softmax, log_softmax", "any negative axis in range; a row of all -inf -> NaN", QR,
         refs=(("nn.softmax", "single -inf, all -inf row, +inf row, NaN row"),
               ("nn.log_softmax", "single -inf, all -inf row, +inf row, NaN row"),
               ("nn.softmax", "dim=-2 alias"), ("nn.softmax", "axis = -rank-1"))),
    Seed("softmax_cross_entropy_with_logits (v2)",
         "gradient softmax - labels even when labels do not sum to 1", QR,
         refs=(("nn.softmax_cross_entropy_with_logits",
                "labels not summing to 1 (grad = softmax - y)"),),
         cases=(("nn.softmax_cross_entropy_with_logits",
                 ex("all-zero label rows: loss 0, gradient softmax (TF #1234)",
                    {"labels": np.zeros((2, 3), np.float32),
                     "logits": f32([[0, 0, 0], [99, 0, 0]])})),
                ("nn.softmax_cross_entropy_with_logits",
                 ex("logits ~ -3e11, a finite 1.5e11 loss (TF #2327)",
                    {"labels": f32([[0, 1], [0, 1], [0, 1]]), "logits": _HUGE_NEG})))),
    Seed("softmax_cross_entropy_with_logits (v1)", "dim / axis both given -> ValueError", QR,
         refs=(("nn.softmax_cross_entropy_with_logits", "both dim and axis"),
               ("nn.softmax_cross_entropy_with_logits", "dim=0 alias"))),
    Seed("sparse_softmax_cross_entropy_with_logits",
         "out-of-range label -> InvalidArgumentError listing the labels; C = 0 rejected "
         "(on GPU TF returns NaN instead: TF #8484, #10268)", QR,
         refs=(("nn.sparse_softmax_cross_entropy_with_logits", "label == C"),
               ("nn.sparse_softmax_cross_entropy_with_logits", "negative label"),
               ("nn.sparse_softmax_cross_entropy_with_logits", "C = 0")),
         cases=(("nn.sparse_softmax_cross_entropy_with_logits",
                 err("label 100 for 2 classes (TF #10268)",
                     {"labels": np.array([100], np.int32), "logits": f32([[0.0, 1.0]])},
                     "InvalidArgumentError", "InvalidArgumentError",
                     "CPU: Received a label value of 100 ...", mention=("100",))),)),
    Seed("sigmoid_cross_entropy_with_logits",
         "labels must have logits' dtype; x = +inf, z = 0 -> NaN (and z = 0.9: TF #75256)",
         QR, refs=(("nn.sigmoid_cross_entropy_with_logits", "x = +-inf"),
                   ("nn.sigmoid_cross_entropy_with_logits", "float64 labels, float32 logits")),
         cases=(("nn.sigmoid_cross_entropy_with_logits",
                 ex("x = +inf, z = 0.9 -> NaN, float32 (TF #75256)",
                    {"labels": f32([0.9]), "logits": f32([np.inf])})),)),
    Seed("weighted_cross_entropy_with_logits", "gradient at x = 0 exactly is 1 - z", QR,
         refs=(("nn.weighted_cross_entropy_with_logits", "x = 0 kink: dx = 1 - z"),)),
    Seed("log_poisson_loss", "full loss: NaN targets gradient at target 0; target < 0 -> NaN",
         QR, refs=(("nn.log_poisson_loss", "sec. 1.6 example, full loss (dz NaN at z = 0)"),
                   ("nn.log_poisson_loss", "negative targets, full loss -> NaN"))),
    Seed("l2_loss", "integer input rejected; empty -> 0", QR,
         refs=(("nn.l2_loss", "int32"), ("nn.l2_loss", "empty -> 0"))),
    Seed("log_uniform_candidate_sampler", "expected counts use the number of tries", QR,
         refs=(("nn.log_uniform_candidate_sampler", "unique, range 10"),
               ("nn.log_uniform_candidate_sampler", "num_sampled = range_max (every class)"))),
    Seed("nce_loss / sampled_softmax_loss",
         "the accidental-hit mask hits only the last occurrence of a duplicated id", QR,
         refs=(("nn.nce_loss",
                "repeated labels in a row, duplicated sampled ids (last occurrence masked)"),
               ("nn.sampled_softmax_loss",
                "repeated labels in a row, duplicated sampled ids (last occurrence masked)"))),
    Seed("ctc_loss", "impossible alignments: dense path finite ~707, sparse path +inf", QR,
         refs=(("nn.ctc_loss", "dense impossible alignments: finite loss ~707 and TF's gradient"),
               ("nn.ctc_loss", "sparse: repeats leave too few frames -> +inf, softmax gradient"))),
    # ------------------------------------------------------------ cyloss.losses --
    Seed("compute_weighted_loss", "computed in float32 and cast back", QR,
         refs=(("losses.compute_weighted_loss", "float64 1+1e-12, NONE (TF: 1.0 in float32)"),
               ("losses.compute_weighted_loss", "NaN loss, zero weights -> 0 (div_no_nan)"))),
    Seed("absolute_difference, mean_squared_error, huber_loss, log_loss, hinge_loss, "
         "cosine_distance", "float32 output for float64 input; weights of the losses' rank",
         QR, refs=(("losses.absolute_difference",
                    "float64: computed in float64, TF rounds through float32"),
                   ("losses.mean_squared_error", "float64 squares beyond float32 (TF: inf, "
                                                 "cyloss: finite)"),
                   ("losses.absolute_difference", "weights [B] for [B,D] losses"),
                   ("losses.huber_loss", "ties |e| = delta"))),
    Seed("mean_pairwise_squared_error", "eager vs graph n: graph semantics", QR,
         refs=(("losses.mean_pairwise_squared_error",
                "sec. 2.4 data: graph value 8.166666 (eager would give 3.483333)"),)),
    Seed("sigmoid_cross_entropy", "label_smoothing applied only if > 0", QR,
         refs=(("losses.sigmoid_cross_entropy", "negative label smoothing is ignored"),)),
    Seed("softmax_cross_entropy", "weights [B,1] rejected (not squeezed)", QR,
         refs=(("losses.softmax_cross_entropy", "weights [B,1]"),)),
    Seed("sparse_softmax_cross_entropy", "labels / weights with a trailing 1 are squeezed", QR,
         refs=(("losses.sparse_softmax_cross_entropy",
                "labels [B,1] and weights [B,1] (both squeezed)"),)),
    Seed("add_loss / get_*", "scope filter is re.match: 'foo' also matches 'foo_1/...'", QR,
         refs=(("losses.get_losses",
                "scope is re.match on the name: 'fo', 'foo' (foo_1 too), 'b.r'"),)),
    Seed("sum_of_squares, sum_of_pairwise_squares, log (contrib)",
         "weights align to leading dims; the old pairwise loss uses n, not n - 1", QR,
         refs=(("contrib.losses.sum_of_pairwise_squares",
                "sec. 2.6 data: 5.444444 (core graph value 8.166666)"),
               ("contrib.losses.log", "sec. 2.3 data, weight [B] (the 2016 names)"))),
    # ------------------------------------------------------------ seq2seq --
    Seed("seq2seq.sequence_loss", "avg_t with sum_b: sum_b silently ignored", QR,
         refs=(("seq2seq.sequence_loss", "sec. 3.1 table, flags TFFT"),
               ("seq2seq.sequence_loss", "all weights zero: div_no_nan gives 0 and zero "
                                         "gradients"))),
    Seed("sequence_loss_by_example / sequence_loss (legacy)", "+1e-12 in the denominator", QR,
         refs=(("legacy_seq2seq.sequence_loss_by_example",
                "zero weight sum: the 1e-12 guard (huge weights gradient)"),
               ("legacy_seq2seq.sequence_loss",
                "zero weight sum: the 1e-12 guard (huge weights gradient)"))),
    # --------------------------------------------------------------- keras --
    Seed("keras CategoricalCrossentropy", "smoothing uses the size of the LAST axis", QR,
         refs=(("keras.CategoricalCrossentropy",
                "axis=0, label smoothing uses the LAST axis' size"),
               ("keras.CategoricalCrossentropy", "probs with exact 0 and 1 (clipped: zero "
                                                 "gradient)"))),
    Seed("keras SparseCategoricalCrossentropy",
         "labels pass through the loss dtype; negative labels rejected on CPU (TF #57173)",
         QR, refs=(("keras.SparseCategoricalCrossentropy", "float labels (truncated)"),
                   ("keras.SparseCategoricalCrossentropy", "every position ignored -> 0")),
         cases=(("keras.sparse_categorical_crossentropy",
                 err("negative labels on probabilities (TF #57173)",
                     {"y_true": np.array([-56, -47]),
                      "y_pred": f32([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])},
                     "InvalidArgumentError", "InvalidArgumentError",
                     "Received a label value of -56 ...", mention=("-56",))),
                ("keras.sparse_categorical_crossentropy",
                 err("axis beyond y_pred's rank (fuzz; TF: IndexError)",
                     {"y_true": np.zeros((2, 1, 2), np.int64),
                      "y_pred": np.full((2, 1, 2), 0.5, np.float32)},
                     "IndexError", "ValueError",
                     "Keras indexes y_true.shape[axis] (IndexError); cyloss raises ValueError "
                     "naming axis and y_pred's shape", options={"axis": 3},
                     mention=("axis", "y_pred"))),
                ("keras.sparse_categorical_crossentropy",
                 err("ignore_class with 2 labels for one row of logits (fuzz)",
                     {"y_true": np.array([3, 78]), "y_pred": np.zeros(92, np.float32)},
                     "InvalidArgumentError", "InvalidArgumentError",
                     "Keras reshapes the mask to y_pred.shape[:-1]",
                     options={"from_logits": True, "ignore_class": 78},
                     mention=("reshape",))))),
    Seed("keras BinaryCrossentropy, focal losses",
         "probabilities clipped to [1e-7, 1 - 1e-7] with zero gradient outside "
         "(keras #9664)", QR,
         refs=(("keras.BinaryCrossentropy", "probs exactly 0 and 1 (clipped, zero gradient)"),
               ("keras.BinaryFocalCrossentropy", "exact 0/1 probabilities"))),
    Seed("keras regression / cosine / Dice / Tversky / CGCE / Circle / CTC",
         "empty batch -> [] unreduced; Dice / Tversky axis=None is one global scalar", QR,
         refs=(("keras.MeanSquaredError", "empty batch: [] unreduced even for 'sum'"),
               ("keras.Dice", "axis=None: one scalar; sample_weight [1,0] broadcasts it "
                              "(-> value/2)")),
         cases=(
             ("keras.cosine_similarity",
              ex("ranks 3 and 2, axis=-1: each input normalized on its own rank (fuzz)",
                 {"y_true": _YT3, "y_pred": _YP2}, {"axis": -1})),
             ("keras.cosine_similarity",
              ex("ranks 3 and 2, axis=-2 (fuzz)", {"y_true": _YT3, "y_pred": _YP2},
                 {"axis": -2})),
             ("keras.cosine_similarity",
              ex("ranks 2 and 3, positive axis 1 (fuzz)",
                 {"y_true": _YP2, "y_pred": _YT3}, {"axis": 1})),
             ("keras.CosineSimilarity",
              kex("ranks 3 and 2, axis=-1 (fuzz)", {"y_true": _YT3, "y_pred": _YP2},
                  {"axis": -1, "dtype": "float64"})),
             ("keras.cosine_similarity",
              err("axis outside y_pred's rank (fuzz)",
                  {"y_true": np.ones((1, 4, 1)), "y_pred": np.ones(1)},
                  "InvalidArgumentError", "InvalidArgumentError",
                  "TF: Invalid reduction dimension", options={"axis": -2})),
             ("keras.categorical_generalized_cross_entropy",
              err("y_true [B+1] vs y_pred [B,C] (fuzz)",
                  {"y_true": np.array([0, 1, 1]), "y_pred": f32([[.2, .8], [.6, .4]])},
                  "InvalidArgumentError", "InvalidArgumentError", "TF: Incompatible shapes",
                  options={"q": 0.5})),
             ("keras.dice",
              err("axis (0, 1) beyond y_pred's rank 1 (fuzz)",
                  {"y_true": np.ones((2, 3)), "y_pred": np.ones(3)},
                  "InvalidArgumentError", "InvalidArgumentError",
                  "TF: Invalid reduction dimension", options={"axis": (0, 1)},
                  mention=("y_pred",))),
             ("keras.tversky",
              err("axis (1, 2) beyond the broadcast rank 2 (fuzz)",
                  {"y_true": np.ones((2, 3)), "y_pred": np.ones((2, 3))},
                  "InvalidArgumentError", "InvalidArgumentError",
                  "TF: Invalid reduction dimension", options={"axis": (1, 2)})),
             ("keras.circle",
              err("ref_embeddings of another width (fuzz)",
                  {"y_true": _CL_Y[:3], "y_pred": _CL_P[:3],
                   "ref_embeddings": np.ones((4, 3), np.float32)},
                  "InvalidArgumentError", "InvalidArgumentError",
                  "TF: MatMul Matrix size-incompatible", mention=("ref_embeddings",))),
             ("keras.circle",
              err("y_true of another length than y_pred (fuzz)",
                  {"y_true": _CL_Y, "y_pred": _CL_P[:3]},
                  "InvalidArgumentError", "InvalidArgumentError",
                  "TF: Mul Incompatible shapes")),
         )),
]
