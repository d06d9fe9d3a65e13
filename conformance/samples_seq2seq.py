"""Hypothesis strategies for cyloss.seq2seq.sequence_loss and the legacy_seq2seq
pair (TF_SEMANTICS.md sec. 3).

Shapes: B, T from the mode's budget (either may be 0 or 1), C from the shared
class-count draw (1..5000, the kernel thresholds included). Flags: all 16
combinations of the four contrib flags (the 7 invalid ones are error-parity
cases); the legacy flags both ways. Weights: ones, random in [0, 2), padding
masks (each example a random length: whole tails of zeros), whole zero rows
(an example) and columns (a time step), all zeros (div_no_nan / the 1e-12
guard), signed weights (cancelling denominators), and zero weights on NaN /
inf logits rows (TF's ce * 0 = NaN). softmax_loss_function: None or
cyloss.nn.sparse_softmax_cross_entropy_with_logits (the oracle then calls
tf.nn's). Targets int32 / int64, sometimes out of range (error parity).
"""
import numpy as np
from hypothesis import strategies as st

import cyloss.nn

from .samples import (INT_DTYPES, PROFILES, Case, Expect, _budget, _classes, _common, _dims,
                      _srng, logits_rows)

FLAGS = ("average_across_timesteps", "average_across_batch", "sum_over_timesteps",
         "sum_over_batch")
WEIGHT_KINDS = ("ones", "uniform", "padding", "padding", "zero-rows", "zero-cols", "all-zero",
                "signed", "zero-on-special")
_ALL = [tuple(bool(i >> k & 1) for k in range(4)) for i in range(16)]
_VALID = [f for f in _ALL if not (f[0] and f[2]) and not (f[1] and f[3])]
# all 16 combinations; the 9 valid ones three times as often as the 7 invalid
FLAG_DRAWS = tuple(_ALL + _VALID * 2)
LOSS_FNS = (None, None, None, cyloss.nn.sparse_softmax_cross_entropy_with_logits)


def seq_weights(rng, b, t, dtype, kind, x=None):
    """Weights [B, T] of one kind (see the module docstring)."""
    shape = (b, t)
    if kind == "ones":
        w = np.ones(shape)
    elif kind == "uniform":
        w = rng.uniform(0, 2, shape)
    elif kind == "padding":
        lengths = rng.integers(0, t + 1, b) if t else np.zeros(b, int)
        w = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float64)
        w *= rng.choice([1.0, 0.5, 2.0], shape)
    elif kind == "zero-rows":
        w = rng.uniform(0, 2, shape)
        w[rng.random(b) < 0.4, :] = 0
    elif kind == "zero-cols":
        w = rng.uniform(0, 2, shape)
        w[:, rng.random(t) < 0.4] = 0
    elif kind == "all-zero":
        w = np.zeros(shape)
    elif kind == "signed":
        w = rng.uniform(-1, 1, shape)
    elif kind == "zero-on-special":
        # zero weights exactly where the logits row is not finite (and elsewhere
        # at random): TF still computes ce * 0 there (NaN for inf / NaN ce)
        w = rng.uniform(0, 2, shape)
        w[rng.random(shape) < 0.3] = 0
        if x is not None and x.size:
            bad = ~np.all(np.isfinite(x), axis=-1)
            w[bad] = 0
    else:
        raise ValueError(kind)
    return w.astype(dtype)


def _special_labels(rng, x, lab):
    """-inf on the labelled class of some rows (ce = +inf)."""
    if lab.size and x.shape[-1]:
        x2, l1 = x.reshape(-1, x.shape[-1]), lab.reshape(-1)
        rows = np.nonzero(rng.random(l1.size) < 0.2)[0]
        x2[rows, l1[rows]] = -np.inf


def _bad_label(draw, rng, lab, c, ldtype):
    bad = draw(st.sampled_from((-1, c, c + 7, -(2**31) if ldtype == "int32" else -(2**40))))
    flat = lab.reshape(-1)
    flat[int(rng.integers(flat.size))] = bad
    return Expect(("InvalidArgumentError",), "InvalidArgumentError",
                  "label outside [0, num_classes): TF's sparse xent checks the range",
                  mention=(str(bad),))


@st.composite
def sequence_loss_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    c = _classes(draw, mode)
    b, t = _dims(draw, 2, max(1, _budget(draw, mode) // c))
    flags = list(draw(st.sampled_from(FLAG_DRAWS)))
    ldtype = draw(st.sampled_from(INT_DTYPES))
    profile = draw(st.sampled_from(PROFILES))
    wkind = draw(st.sampled_from(WEIGHT_KINDS))
    loss_fn = draw(st.sampled_from(LOSS_FNS))
    kind = draw(st.sampled_from(("ok",) * 14 + ("bad-label",)))
    rng = np.random.default_rng(seed)
    x = logits_rows(rng, (b, t, c), dtype, profile)
    lab = rng.integers(0, c, (b, t)).astype(ldtype)
    if profile == "special":
        _special_labels(rng, x, lab)
    w = seq_weights(rng, b, t, dtype, wkind, x)
    options = dict(zip(FLAGS, flags))
    options["softmax_loss_function"] = loss_fn
    expect = None
    if (flags[0] and flags[2]) or (flags[1] and flags[3]):
        expect = Expect(("ValueError",), "ValueError",
                        "average_x and sum_over_x together: TF's static check")
    elif kind == "bad-label" and lab.size:
        expect = _bad_label(draw, rng, lab, c, ldtype)
    fl = "".join("TF"[not f] for f in flags)
    return Case(fn, {"logits": x, "targets": lab, "weights": w}, options, dtype=dtype,
                kind=f"{kind}/{fl}/{wkind}/{profile}/{ldtype}/"
                     f"{'cyloss-fn' if loss_fn else 'None'}",
                seed=seed, layout=layout, expect=expect)


@st.composite
def legacy_cases(draw, mode, fn):
    """Per-step lists as TF's legacy functions take them, given to both sides
    stacked ([T, B, C], [T, B], [T, B]: cyloss iterates the steps, the oracle
    unstacks them) or, in one case in four, as Python lists of per-step arrays
    (then the layout applies to nothing). T >= 1 (TF's add_n needs a step)."""
    dtype, seed, layout = _common(draw)
    c = _classes(draw, mode)
    t = draw(st.sampled_from((1, 1, 2, 3, 5, 8, 17)))
    (b,) = _dims(draw, 1, max(1, _budget(draw, mode) // (c * t)))
    ldtype = draw(st.sampled_from(INT_DTYPES))
    profile = draw(st.sampled_from(PROFILES))
    wkind = draw(st.sampled_from(WEIGHT_KINDS))
    loss_fn = draw(st.sampled_from(LOSS_FNS))
    as_list = _srng(draw).random() < 0.25
    kind = draw(st.sampled_from(("ok",) * 14 + ("bad-label",)))
    options = {"average_across_timesteps": draw(st.booleans()),
               "softmax_loss_function": loss_fn}
    if fn.endswith(".sequence_loss"):
        options["average_across_batch"] = draw(st.booleans())
    rng = np.random.default_rng(seed)
    x = logits_rows(rng, (t, b, c), dtype, profile)
    lab = rng.integers(0, c, (t, b)).astype(ldtype)
    if profile == "special":
        _special_labels(rng, x, lab)
    w = seq_weights(rng, b, t, dtype, wkind, np.swapaxes(x, 0, 1)).T.copy()
    expect = None
    if kind == "bad-label" and lab.size:
        expect = _bad_label(draw, rng, lab, c, ldtype)
    args = {"logits": x, "targets": lab, "weights": w}
    if as_list:
        args = {k: [v[i] for i in range(t)] for k, v in args.items()}
    fl = "".join("TF"[not v] for k, v in options.items() if k != "softmax_loss_function")
    return Case(fn, args, options, dtype=dtype,
                kind=f"{kind}/{fl}/{wkind}/{profile}/{ldtype}/"
                     f"{'list' if as_list else 'stacked'}/"
                     f"{'cyloss-fn' if loss_fn else 'None'}",
                seed=seed, layout=layout, expect=expect)
