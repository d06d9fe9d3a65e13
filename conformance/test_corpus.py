"""The seed corpus (corpus.py) against TensorFlow.

* every row of TF_SEMANTICS.md's quick reference has a Seed;
* every reference names a fixed case the registry still has (test_conformance
  runs those at every SIMD level);
* every new corpus case runs through the engine: value, gradients, dtypes and
  untouched inputs (value cases), TF's and cyloss' error classes and cyloss'
  message (error cases).
"""
import dataclasses

import pytest

from cyloss.conformance import corpus, engine, registry, report

# The "function" column of TF_SEMANTICS.md sec. 0 (the quick reference), plus
# the CTC row of sec. 1.10.
QUICK_REFERENCE_ROWS = (
    "softmax, log_softmax", "softmax_cross_entropy_with_logits (v2)",
    "softmax_cross_entropy_with_logits (v1)", "sparse_softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits", "weighted_cross_entropy_with_logits",
    "log_poisson_loss", "l2_loss", "log_uniform_candidate_sampler",
    "nce_loss / sampled_softmax_loss", "ctc_loss", "compute_weighted_loss",
    "absolute_difference, mean_squared_error, huber_loss, log_loss, hinge_loss, "
    "cosine_distance", "mean_pairwise_squared_error", "sigmoid_cross_entropy",
    "softmax_cross_entropy", "sparse_softmax_cross_entropy", "add_loss / get_*",
    "sum_of_squares, sum_of_pairwise_squares, log (contrib)", "seq2seq.sequence_loss",
    "sequence_loss_by_example / sequence_loss (legacy)", "keras CategoricalCrossentropy",
    "keras SparseCategoricalCrossentropy", "keras BinaryCrossentropy, focal losses",
    "keras regression / cosine / Dice / Tversky / CGCE / Circle / CTC",
)

REFS = [(s, k, label) for s in corpus.SEEDS for k, label in s.refs]
CASES = [(k, c) for s in corpus.SEEDS for k, c in s.cases]


def test_every_quick_reference_row_is_seeded():
    rows = {s.row for s in corpus.SEEDS}
    missing = [r for r in QUICK_REFERENCE_ROWS if r not in rows]
    assert not missing, f"quick-reference rows without a seed: {missing}"
    for s in corpus.SEEDS:
        assert s.refs or s.cases, f"seed {s.row!r} has neither references nor cases"


@pytest.mark.parametrize("seed,key,label", REFS, ids=[f"{k}:{label}" for _, k, label in REFS])
def test_reference_exists(seed, key, label):
    entry = registry.REGISTRY.get(key)
    assert entry is not None, f"{seed.row}: no registry entry {key!r}"
    labels = {c.label for c in entry.examples + entry.errors}
    assert label in labels, (f"{seed.row}: {key} has no fixed case {label!r} any more; "
                             f"update conformance/corpus.py")


@pytest.mark.parametrize("key,case", CASES, ids=[f"{k}:{c.label}" for k, c in CASES])
def test_corpus_case(key, case, tf_oracle):
    entry = registry.REGISTRY[key]
    case = dataclasses.replace(case, fn=key)
    r = engine.run_case(entry, case)
    assert r.ok, "\n" + report.reproducer(r)


def test_corpus_cases_are_new():
    """A corpus case must not duplicate a registry fixed case (same label)."""
    for key, case in CASES:
        labels = {c.label for c in registry.REGISTRY[key].examples
                  + registry.REGISTRY[key].errors}
        assert case.label not in labels, f"{key}: {case.label!r} is already in the registry"
