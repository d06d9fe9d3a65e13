"""Cases and the hypothesis strategies that generate them.

A Case is one concrete call: keyword arguments (arrays and scalars), options
(axis, dim, compute_full_loss, ...), the dtype under test, and the memory
layout handed to cyloss. Hypothesis draws the structure (shapes, class counts,
dtype, axis, argument forms, value profile, layout) and one integer seed; the
array values come from NumPy's generator with that seed, so big arrays cost
one draw and every case can be rebuilt from its description.

Sizes: class counts 1..5000 (plus the kernel thresholds 15/16/17, 64, 4096),
batch dimensions 0 and 1 included, and a total budget per array set by the
Mode; about one case in 25 uses the Mode's `big_size` so that the
multi-threaded kernel paths (>= 32768 elements) run too.
"""
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

DTYPES = ("float32", "float64")
INT_DTYPES = ("int32", "int64")
# The kernels switch paths at 16 classes (block softmax), use 16 accumulator
# lanes and 64-row blocks, and 4096-element blocks in pointwise kernels.
EDGE_CLASSES = (1, 2, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4095, 4096, 4097, 5000)


@dataclass(frozen=True)
class Mode:
    name: str
    examples: int       # hypothesis examples per entry
    max_size: int       # elements per array in an ordinary case
    big_size: int       # elements in the rare big case (multi-threaded kernels)
    max_classes: int = 5000


MODES = {
    "quick": Mode("quick", examples=800, max_size=4096, big_size=40_000),
    "full": Mode("full", examples=6000, max_size=65_536, big_size=400_000),
}


@dataclass(frozen=True)
class Expect:
    """An error-parity case: TF raises one of `tf` (class names; tf.errors.* or
    builtins) and cyloss must raise `cyloss` (a class name, checked with
    isinstance). `mention`: substrings cyloss' message must contain."""
    tf: tuple
    cyloss: str
    why: str
    mention: tuple = ()


@dataclass
class Case:
    fn: str                         # registry key, e.g. "nn.softmax"
    args: dict                      # argument name -> array / Python scalar (keyword call)
    options: dict = field(default_factory=dict)    # non-array keywords
    dtype: str = ""                 # dtype under test
    kind: str = ""                  # generator branch, e.g. "axis/special"
    seed: int = 0                   # NumPy seed of the values; dy uses seed + 1
    layout: str = "as-is"           # memory layout given to cyloss (TF gets contiguous copies)
    expect: Expect = None           # set for error-parity cases
    divergence: str = None          # key of the entry's Divergence that applies
    label: str = ""                 # name of an explicit (fixed) case

    def describe(self):
        """JSON-friendly description: enough to rebuild the call."""
        args = {}
        for k, v in self.args.items():
            if isinstance(v, np.ndarray):
                args[k] = f"{v.dtype}{list(v.shape)}"
            elif isinstance(v, np.generic):
                args[k] = f"np.{v.dtype}({v.item()!r})"
            else:
                args[k] = repr(v)
        d = {"fn": self.fn, "kind": self.kind, "dtype": self.dtype, "seed": self.seed,
             "layout": self.layout, "args": args, "options": dict(self.options)}
        if self.label:
            d["label"] = self.label
        if self.divergence:
            d["divergence"] = self.divergence
        if self.expect:
            d["expect"] = {"tf": list(self.expect.tf), "cyloss": self.expect.cyloss}
        return d

    def call_repr(self, module="cyloss"):
        """`cyloss.nn.softmax(logits=<float32[2,3]>, axis=0)`-style string."""
        ns, name = self.fn.rsplit(".", 1)
        parts = [f"{k}={v}" for k, v in self.describe()["args"].items()]
        parts += [f"{k}={v!r}" for k, v in self.options.items()]
        return f"{module}.{ns}.{name}({', '.join(parts)})"


# ----------------------------------------------------------------- layouts --

LAYOUTS = ("as-is", "as-is", "as-is", "fortran", "strided", "reversed", "readonly")


def apply_layout(a, layout):
    """The same values as `a` in another memory layout (what cyloss is given)."""
    if not isinstance(a, np.ndarray) or a.ndim == 0 or layout == "as-is":
        return a
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.empty(tuple(2 * n for n in a.shape), a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if layout == "reversed":
        flipped = np.ascontiguousarray(a[(slice(None, None, -1),) * a.ndim])
        return flipped[(slice(None, None, -1),) * a.ndim]
    if layout == "readonly":
        b = a.copy()
        b.setflags(write=False)
        return b
    raise ValueError(layout)


# ------------------------------------------------------------------ values --

PROFILES = ("normal", "normal", "normal", "wide", "wide", "tiny", "ties", "big", "huge",
            "special", "special")


def real_values(rng, shape, dtype, profile):
    """Finite values of one profile:
    normal N(0,1); wide N(0,30^2); tiny N(0,1e-3^2); ties small integers (exact
    ties and zeros); big +-1e4 (+ noise); huge +-10^U(0,30)."""
    shape = tuple(shape)
    if profile in ("normal", "special"):
        a = rng.standard_normal(shape)
    elif profile == "wide":
        a = rng.standard_normal(shape) * 30
    elif profile == "tiny":
        a = rng.standard_normal(shape) * 1e-3
    elif profile == "ties":
        a = rng.integers(-2, 3, shape).astype(np.float64)
    elif profile == "big":
        a = rng.choice([-1e4, 1e4], shape) + rng.standard_normal(shape) * rng.choice(
            [0.0, 1.0, 100.0], shape)
    elif profile == "huge":
        a = rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(0, 30, shape)
    else:
        raise ValueError(profile)
    return a.astype(dtype)


def sprinkle(rng, a, p=0.05, kinds=("-inf", "inf", "nan", "zero")):
    """Replace a fraction p of the entries of `a` by special values (in place)."""
    if a.size == 0:
        return a
    flat = a.reshape(-1)
    pick = rng.random(flat.size) < p
    vals = {"-inf": -np.inf, "inf": np.inf, "nan": np.nan, "zero": 0.0}
    choice = rng.integers(0, len(kinds), flat.size)
    for j, k in enumerate(kinds):
        flat[pick & (choice == j)] = vals[k]
    return a


def special_rows(rng, a2):
    """Row patterns (class axis last) whose softmax-family results TF defines:
    one -inf, several -inf, all -inf (-> NaN), one +inf (-> NaN), a NaN, +inf
    and -inf together, or an untouched row."""
    n, c = a2.shape
    if c == 0:
        return a2
    for i in range(n):
        r = rng.random()
        if r < 0.45:
            continue
        if r < 0.6:
            a2[i, rng.integers(c)] = -np.inf
        elif r < 0.7:
            a2[i, rng.random(c) < 0.5] = -np.inf
        elif r < 0.77:
            a2[i, :] = -np.inf
        elif r < 0.85:
            a2[i, rng.integers(c)] = np.inf
        elif r < 0.93:
            a2[i, rng.integers(c)] = np.nan
        else:
            a2[i, rng.integers(c)] = np.inf
            a2[i, rng.integers(c)] = -np.inf
    return a2


def logits_rows(rng, shape, dtype, profile):
    """Logits with the class axis last; the 'special' profile patterns rows."""
    a = real_values(rng, shape, dtype, profile)
    if profile == "special" and a.size:
        special_rows(rng, a.reshape(-1, a.shape[-1]))
    return a


# -------------------------------------------------------------- structure --

def _srng(draw):
    """A NumPy generator for structure that hypothesis would skew to tiny values
    (dimension sizes): hypothesis still picks which dims are 0, 1 or free."""
    return np.random.default_rng([draw(st.integers(0, 2**32 - 1)),
                                  draw(st.integers(0, 2**32 - 1))])


def _budget(draw, mode):
    """Total elements: log-uniform within a drawn size class; ~1 in 25 cases
    is big enough for the multi-threaded kernel paths."""
    srng = _srng(draw)
    if srng.random() < 0.04:
        return int(srng.integers(mode.big_size // 2, mode.big_size + 1))
    lo, hi = draw(st.sampled_from(((256, mode.max_size), (8, 256), (1, 8),
                                   (256, mode.max_size), (mode.max_size // 4, mode.max_size))))
    return int(np.exp(srng.uniform(np.log(lo), np.log(hi))))


def _classes(draw, mode, zero=False):
    if zero and _srng(draw).random() < 0.025:
        return 0
    kind = draw(st.sampled_from(("edge", "small", "edge", "any")))
    if kind == "small":
        return draw(st.integers(1, 8))
    if kind == "edge":
        return draw(st.sampled_from(EDGE_CLASSES))
    srng = _srng(draw)
    return int(np.exp(srng.uniform(0, np.log(mode.max_classes))))


def _dims(draw, n, budget, zero=True):
    """n dimensions whose product is about `budget`: hypothesis picks which
    are 1 (2 in 11) or free, and whether one is 0 (about 1 in 12 shapes); the
    free ones share log(budget) at random."""
    kinds = [draw(st.sampled_from(("n",) * 9 + ("1", "1"))) for _ in range(n)]
    out = [1] * n
    free = [i for i, k in enumerate(kinds) if k == "n"]
    srng = _srng(draw)
    if free:
        w = srng.dirichlet(np.ones(len(free)))
        for i, wi in zip(free, w):
            out[i] = max(2, int(round(max(budget, 1) ** wi)))
        while np.prod(out) > 1.5 * budget + 16 and max(out) > 2:
            j = int(np.argmax(out))
            out[j] = max(2, out[j] // 2)
    if zero and n and srng.random() < 1 / 12:
        out[int(srng.integers(n))] = 0
    return out


def _common(draw):
    return (draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**32 - 1)),
            draw(st.sampled_from(LAYOUTS)))


def _rank(draw, lo, hi):
    """Ranks lo..hi, the lowest (often 0: scalars) at half the weight of the others."""
    return draw(st.sampled_from((lo,) + tuple(r for r in range(lo + 1, hi + 1) for _ in (0, 1))))


def _shape(draw, mode, min_rank, max_rank):
    rank = _rank(draw, min_rank, max_rank)
    return _dims(draw, rank, _budget(draw, mode))


# ------------------------------------------------------- per-function cases --

@st.composite
def softmax_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    rank = _rank(draw, 1, 4)
    c = _classes(draw, mode, zero=True)
    lead = _dims(draw, rank - 1, max(1, _budget(draw, mode) // max(c, 1)))
    form = draw(st.sampled_from(("default", "axis", "axis", "axis-neg", "dim")))
    if form == "default":
        ax, options = rank - 1, {}
    elif form == "axis":
        ax = draw(st.integers(0, rank - 1))
        options = {"axis": ax}
    elif form == "axis-neg":
        neg = draw(st.integers(-rank, -1))
        ax, options = neg % rank, {"axis": neg}
    else:
        d = draw(st.integers(-rank, rank - 1))
        ax, options = d % rank, {"dim": d}
    profile = draw(st.sampled_from(PROFILES))
    rng = np.random.default_rng(seed)
    x = np.moveaxis(logits_rows(rng, lead + [c], dtype, profile), -1, ax)
    return Case(fn, {"logits": x}, options, dtype=dtype, kind=f"{form}/{profile}",
                seed=seed, layout=layout)


def _label_rows(rng, shape, kind, dtype):
    """Dense labels, class axis last."""
    c = shape[-1]
    if kind == "dist":
        y = rng.random(shape) ** 3
        s = y.sum(-1, keepdims=True)
        y = np.divide(y, s, out=np.full_like(y, 1.0 / max(c, 1)), where=s > 0)
    elif kind == "onehot":
        y = np.zeros(shape)
        if c and y.size:
            idx = rng.integers(0, c, shape[:-1])
            np.put_along_axis(y, idx[..., None], 1.0, -1)
    elif kind == "scaled":      # rows not summing to 1 (TF's gradient is softmax - y)
        y = rng.random(shape) * 2
    else:                       # signed
        y = rng.standard_normal(shape)
    return y.astype(dtype)


@st.composite
def softmax_xent_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    rank = _rank(draw, 1, 4)
    c = _classes(draw, mode, zero=True)
    lead = _dims(draw, rank - 1, max(1, _budget(draw, mode) // max(c, 1)), zero=c > 0)
    # (C = 0 together with an empty batch: TF fails in a Reshape; a fixed error case)
    form = draw(st.sampled_from(("default", "axis-1", "axis", "axis", "dim")))
    if form == "default":
        ax, options = rank - 1, {}
    elif form == "axis-1":
        ax, options = rank - 1, {"axis": -1}
    else:
        # TF accepts -1 and [0, rank) only (a Range op); other axes are error cases.
        a = draw(st.sampled_from((-1,) + tuple(range(rank))))
        ax = a % rank
        options = {"axis" if form == "axis" else "dim": a}
    lkind = draw(st.sampled_from(("dist", "dist", "onehot", "scaled", "signed", "int",
                                  "wide-dtype", "broadcast")))
    if lkind == "broadcast" and ax != rank - 1:
        lkind = "dist"
    profile = draw(st.sampled_from(PROFILES))
    rng = np.random.default_rng(seed)
    shape = lead + [c]
    x = logits_rows(rng, shape, dtype, profile)
    divergence = None
    if lkind == "int":
        y = _label_rows(rng, shape, "onehot", draw(st.sampled_from(INT_DTYPES)))
    elif lkind == "wide-dtype":     # float64 labels on float32 logits (TF casts), or f32 on f64
        other = "float64" if dtype == "float32" else "float32"
        y = _label_rows(rng, shape, "dist", other)
    elif lkind == "broadcast":
        n = int(np.prod(lead)) if lead else 1
        shapes = ((c,), (1, c), (1, 1, c), tuple(lead) + (1,), (1,))
        if options.get("axis", options.get("dim", -1)) != -1:
            # A positive axis sends both through TF's transpose, which needs
            # labels of the logits' rank (a fixed error case covers the rest).
            shapes = ((1,) * (rank - 1) + (c,), tuple(lead) + (1,))
        lshape = draw(st.sampled_from(shapes))
        y = _label_rows(rng, list(lshape), draw(st.sampled_from(("dist", "scaled"))), dtype)
        k = lshape[-1]
        m = int(np.prod(lshape[:-1])) if len(lshape) > 1 else 1
        if (m, k) != (n, c) and m * k != n * c:     # (equal sizes: TF's reshape works)
            divergence = "broadcast-labels-grad"
    else:
        y = _label_rows(rng, shape, lkind, dtype)
    if ax != rank - 1:
        x, y = np.moveaxis(x, -1, ax), np.moveaxis(y, -1, ax)
    return Case(fn, {"labels": y, "logits": x}, options, dtype=dtype,
                kind=f"{form}/{lkind}/{profile}", seed=seed, layout=layout,
                divergence=divergence)


@st.composite
def sparse_xent_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    rank = _rank(draw, 1, 4)
    c = _classes(draw, mode)
    lead = _dims(draw, rank - 1, max(1, _budget(draw, mode) // c))
    ldtype = draw(st.sampled_from(INT_DTYPES))
    profile = draw(st.sampled_from(PROFILES))
    kind = draw(st.sampled_from(("ok",) * 9 + ("bad-label",)))
    rng = np.random.default_rng(seed)
    x = logits_rows(rng, lead + [c], dtype, profile)
    labels = rng.integers(0, c, lead).astype(ldtype) if lead else np.asarray(
        rng.integers(0, c), ldtype)
    if profile == "special" and labels.size:
        # -inf on the labelled class (-> +inf loss) in some rows
        x2, l1 = x.reshape(-1, c), labels.reshape(-1)
        rows = np.nonzero(rng.random(l1.size) < 0.2)[0]
        x2[rows, l1[rows]] = -np.inf
    expect = None
    if kind == "bad-label" and labels.size:
        bad = draw(st.sampled_from((-1, c, c + 7, -(2**31) if ldtype == "int32" else -(2**40))))
        flat = labels.reshape(-1)
        pos = int(rng.integers(flat.size))
        flat[pos] = bad
        expect = Expect(("InvalidArgumentError",), "InvalidArgumentError",
                        "label outside [0, num_classes): TF's CPU kernel checks the range",
                        mention=(str(bad),))
    return Case(fn, {"labels": labels, "logits": x}, {}, dtype=dtype,
                kind=f"{kind}/{ldtype}/{profile}", seed=seed, layout=layout, expect=expect)


def _pointwise_x(rng, shape, dtype, profile):
    a = real_values(rng, shape, dtype, "normal" if profile in ("kink", "special") else profile)
    if profile == "kink":           # exact zeros: the branch point x >= 0 / sign(0)
        a[rng.random(a.shape) < 0.3] = 0
    if profile == "special":
        sprinkle(rng, a, 0.1)
    return a


def _unit_labels(rng, shape, kind, dtype):
    if kind == "unit":
        z = rng.random(shape)
    elif kind == "binary":
        z = rng.integers(0, 2, shape).astype(np.float64)
    else:                       # outside [0, 1]: the formula is applied as is
        z = rng.uniform(-1, 2, shape)
    return np.asarray(z, dtype)


POINTWISE_PROFILES = ("normal", "normal", "wide", "tiny", "kink", "big", "huge", "special",
                      "special")


@st.composite
def sigmoid_xent_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    shape = _shape(draw, mode, 0, 4)
    zkind = draw(st.sampled_from(("unit", "unit", "binary", "outside")))
    profile = draw(st.sampled_from(POINTWISE_PROFILES))
    rng = np.random.default_rng(seed)
    x = _pointwise_x(rng, shape, dtype, profile)
    z = _unit_labels(rng, shape, zkind, dtype)
    return Case(fn, {"labels": z, "logits": x}, {}, dtype=dtype, kind=f"{zkind}/{profile}",
                seed=seed, layout=layout)


@st.composite
def weighted_xent_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    shape = _shape(draw, mode, 0, 4)
    zkind = draw(st.sampled_from(("unit", "unit", "binary", "outside")))
    profile = draw(st.sampled_from(POINTWISE_PROFILES))
    pform = draw(st.sampled_from(("float", "int", "np-scalar", "0d", "vector", "full",
                                  "full", "ones")))
    if pform == "vector" and not shape:
        pform = "0d"
    rng = np.random.default_rng(seed)
    x = _pointwise_x(rng, shape, dtype, profile)
    z = _unit_labels(rng, shape, zkind, dtype)
    pvals = draw(st.sampled_from(("uniform", "uniform", "one", "zero")))

    def pw_values(s):
        if pvals == "one":
            return np.ones(s, dtype)
        if pvals == "zero":
            return np.zeros(s, dtype)
        return rng.uniform(0, 5, s).astype(dtype)

    if pform == "float":
        pw = float(pw_values(()))
    elif pform == "int":
        pw = int(draw(st.integers(0, 4)))
    elif pform == "np-scalar":
        pw = pw_values(())[()]                  # NumPy scalar of the logits' dtype
    elif pform == "0d":
        pw = pw_values(())
    elif pform == "vector":                     # per class: the last axis
        pw = pw_values(shape[-1:])
    elif pform == "full":
        pw = pw_values(shape)
    else:                                       # size-1 axes / fewer leading axes
        keep = [draw(st.booleans()) for _ in shape]
        drop = draw(st.integers(0, len(shape)))
        pshape = [d if k else 1 for d, k in zip(shape, keep)][drop:]
        pw = pw_values(pshape)
    return Case(fn, {"labels": z, "logits": x, "pos_weight": pw}, {}, dtype=dtype,
                kind=f"{zkind}/{profile}/pos_weight={pform}:{pvals}", seed=seed,
                layout=layout)


@st.composite
def log_poisson_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    shape = _shape(draw, mode, 0, 4)
    tkind = draw(st.sampled_from(("counts", "counts", "unit", "big", "negative")))
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "kink", "big",
                                    "special")))
    full = draw(st.sampled_from(("omit", False, True, True)))
    rng = np.random.default_rng(seed)
    if tkind == "counts":
        z = rng.poisson(rng.uniform(0.1, 20), shape).astype(np.float64)
    elif tkind == "unit":           # the masked Stirling range [0, 1], with exact 0 and 1
        z = rng.choice([0.0, 1.0, 0.5, 0.25, 0.999], shape)
        z = np.where(rng.random(shape) < 0.5, rng.random(shape), z)
    elif tkind == "big":
        z = np.floor(10.0 ** rng.uniform(0, 6, shape))
    else:
        z = rng.uniform(-3, 3, shape)
    z = np.asarray(z, dtype)
    c = _pointwise_x(rng, shape, dtype, profile)
    if profile == "normal":
        c = c * 2
    if profile in ("big",):         # exp(+-1e4) overflows / underflows: inf / 0
        c = np.asarray(rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(0, 4, shape),
                       dtype)
    options = {} if full == "omit" else {"compute_full_loss": full}
    return Case(fn, {"targets": z, "log_input": c}, options, dtype=dtype,
                kind=f"{tkind}/{profile}/full={full}", seed=seed, layout=layout)


@st.composite
def l2_loss_cases(draw, mode, fn):
    dtype, seed, layout = _common(draw)
    shape = _shape(draw, mode, 0, 4)
    profile = draw(st.sampled_from(("normal", "normal", "wide", "tiny", "ties", "big", "huge",
                                    "special", "near-overflow")))
    rng = np.random.default_rng(seed)
    if profile == "near-overflow":
        # sum(t^2) / max(dtype) in [0.5, 2.5]: around the point where the sum
        # of squares overflows but the sum of halved squares may not
        u = rng.uniform(0.3, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
        target = rng.uniform(0.5, 2.5)
        u = u * np.sqrt(target / max(float(np.sum(u * u)), 1e-300))
        t = np.asarray(u * np.sqrt(np.finfo(dtype).max) * (1 - 4 * np.finfo(dtype).eps), dtype)
        return Case(fn, {"t": t}, {}, dtype=dtype, kind=profile, seed=seed, layout=layout)
    t = real_values(rng, shape, dtype, "normal" if profile == "special" else profile)
    if profile == "special":
        sprinkle(rng, t, 0.02, ("inf", "-inf", "nan"))
    return Case(fn, {"t": t}, {}, dtype=dtype, kind=profile, seed=seed, layout=layout)
