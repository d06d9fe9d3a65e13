"""Loss collections: TF 1.x graph collections, kept per context.

TF 1.x adds every `tf.compat.v1.losses` result to the graph collection
'losses' and lets `get_losses` / `get_total_loss` read it back; in TF 2
eager mode nothing is kept. cyloss keeps losses only inside

    with cyloss.losses.collection() as c:
        ...

which plays the role of the graph. The active collection lives in a
`contextvars.ContextVar`, so each thread (a new thread starts with no active
collection) and each asyncio task (it sees the collection active where it
was created; a block entered inside it stays its own) has its own; outside
any block nothing is kept and the getters return nothing.

Names. TF filters with `re.match(scope, tensor.name)`. cyloss records a name
for every item the way TF names the loss tensor: a loss called with
`scope="foo"` is recorded as "foo/value:0"; without a scope it uses the
function's default scope name ("absolute_difference", "weighted_loss", ...).
As in a TF graph, a scope name already used in the block gets a suffix: the
second "foo" is "foo_1" (so a filter "foo" also matches it, exactly as in
TF), and a scope ending in "/" is used exactly as given (its tensor then
becomes "foo/value_1:0"). `add_loss(..., scope=...)` names an added value the
same way; a value added without a scope has no name, like a Python number in
a TF collection, and any scope filter drops it.
"""
import contextlib
import contextvars
import re
import threading

import numpy as np

from ._autodiff import recomputing

LOSSES = "losses"
REGULARIZATION_LOSSES = "regularization_losses"

_ADD_N_INPUTS = ("Inputs must be an iterable of at least one Tensor/IndexedSlices with the "
                 "same dtype and shape.")


class LossCollection:
    """The collections of one `collection()` block: for each key (e.g.
    "losses", "regularization_losses") the values added, in order, with the
    names recorded for scope filtering; and the scope names used so far."""

    def __init__(self):
        self._items = {}            # key -> [(name or None, value)]
        self._tf_dtypes = {}        # id(value) -> TF's dtype, where it differs
        self._used = {}             # lower-cased scope name -> times used
        self._lock = threading.Lock()

    def scope_name(self, scope, default):
        """The name TF would give a name scope `scope` (default `default`)
        opened in this graph: unique in the block, case-insensitively, with
        "_1", "_2", ... appended as needed; a scope ending in "/" is reused
        as is."""
        if scope and scope.endswith("/"):
            return scope[:-1]
        name = scope or default
        with self._lock:
            key = name.lower()
            seen = self._used.get(key, 0)
            self._used[key] = seen + 1
            if not seen:
                return name
            i = seen
            while f"{key}_{i}" in self._used:
                i += 1
            self._used[f"{key}_{i}"] = 1
            return f"{name}_{i}"

    def add(self, key, value, name=None, tf_dtype=None):
        """Append `value`; `tf_dtype` is the dtype TF's loss would have had
        where cyloss keeps more precision (float64 where TF returns float32),
        so that add_n raises exactly where TF's would."""
        with self._lock:
            self._items.setdefault(key, []).append((name, value))
            if tf_dtype is not None:
                self._tf_dtypes[id(value)] = np.dtype(tf_dtype)

    def tf_dtype(self, value):
        """The dtype TF gives `value` in add_n."""
        with self._lock:
            d = self._tf_dtypes.get(id(value))
        if d is not None:
            return d
        if type(value) is float:        # TF converts a Python float to float32
            return np.dtype(np.float32)
        if type(value) is int:
            return np.dtype(np.int32)
        return np.asarray(value).dtype

    def get(self, key, scope=None):
        """The values of collection `key` (a new list); with `scope`, only
        those whose name `re.match`es it (unnamed values are dropped)."""
        with self._lock:
            items = list(self._items.get(key, ()))
        if scope is None:
            return [v for _, v in items]
        pattern = re.compile(scope)
        return [v for n, v in items if n is not None and pattern.match(n)]

    def names(self, key):
        """The recorded names of collection `key`, in order (None: unnamed)."""
        with self._lock:
            return [n for n, _ in self._items.get(key, ())]

    def keys(self):
        with self._lock:
            return list(self._items)

    def __repr__(self):
        with self._lock:
            sizes = {k: len(v) for k, v in self._items.items()}
        return f"LossCollection({sizes})"


_ACTIVE = contextvars.ContextVar("cyloss_loss_collection", default=None)


@contextlib.contextmanager
def collection(existing=None):
    """Activate a loss collection (a new one, or `existing` again) for the
    current thread / async task until the block ends; yields it.

    Inside the block every cyloss.losses / cyloss.contrib.losses function
    adds its result to its `loss_collection` (default "losses"; None or ""
    adds nothing) and the getters read it::

        with cyloss.losses.collection():
            cyloss.losses.mean_squared_error(y, p, scope="mse")
            cyloss.losses.add_loss(l2, "regularization_losses", scope="reg")
            total = cyloss.losses.get_total_loss()   # mse + l2

    Blocks nest: an inner block has its own collection and the outer one is
    active again after it.
    """
    c = LossCollection() if existing is None else existing
    if not isinstance(c, LossCollection):
        raise TypeError(f"collection() takes a LossCollection, got {type(c).__name__}")
    token = _ACTIVE.set(c)
    try:
        yield c
    finally:
        _ACTIVE.reset(token)


def active():
    """The active LossCollection, or None outside any collection() block."""
    return _ACTIVE.get()


def record(value, loss_collection, scope, default, tf_dtype=None):
    """What every loss does with its result: inside a block, open its scope
    name (as TF does, even when nothing is added) and add the value to
    `loss_collection` under "<scope>/value:0"."""
    c = _ACTIVE.get()
    if c is None or recomputing():     # a backward() re-running the forward adds nothing
        return
    name = c.scope_name(scope, default)
    if loss_collection:
        c.add(loss_collection, value, _tensor_name(c, name), tf_dtype)


def _tensor_name(c, scope_name):
    """TF's name of a tensor "value" created in scope `scope_name`: op names
    are unique in the graph too (a reused scope gets "value_1", ...)."""
    return c.scope_name(f"{scope_name}/value", None) + ":0"


def add_loss(loss, loss_collection=LOSSES, scope=None):
    """Add `loss` (any value, kept as is) to the collection `loss_collection`
    of the active block; a no-op outside a block (as TF 2 eager) or when
    `loss_collection` is None or "". Returns None.

    `scope` (cyloss' addition) names the value for the `scope` filters of the
    getters, as if it were created in a TF name scope: `scope="foo"` records
    "foo/value:0" (or "foo_1/value:0" when "foo" is already used in the
    block); without it the value is unnamed and any scope filter drops it.
    A regularization loss is therefore added as
    ``add_loss(penalty, "regularization_losses", scope="layer1")``.
    """
    c = _ACTIVE.get()
    if c is None:
        return None
    name = None if scope is None else _tensor_name(c, c.scope_name(scope, "add_loss"))
    if loss_collection:
        c.add(loss_collection, loss, name)
    return None


def get_losses(scope=None, loss_collection=LOSSES):
    """The values in `loss_collection` of the active block, in the order they
    were added; with `scope`, those whose recorded name `re.match`es it (so
    "foo" also matches "foo_1/..."). [] outside a block."""
    c = _ACTIVE.get()
    if c is None or loss_collection is None:
        return []
    return c.get(loss_collection, scope)


def get_regularization_losses(scope=None):
    """get_losses(scope, "regularization_losses")."""
    return get_losses(scope, REGULARIZATION_LOSSES)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """The sum of the regularization losses (same dtype and shape required,
    as TF's add_n), or a float32 0.0 when there are none."""
    losses = get_regularization_losses(scope)
    if losses:
        return add_n(losses, _ACTIVE.get())
    return np.asarray(0.0, np.float32)


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    """The sum of the losses in "losses" (and of the regularization losses
    when `add_regularization_losses`), filtered by `scope`. As TF's add_n:
    ValueError when there is nothing to add (always the case outside a
    block), TypeError for mixed dtypes, ValueError for mixed shapes."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses += get_regularization_losses(scope=scope)
    return add_n(losses, _ACTIVE.get())


def add_n(values, c=None):
    """Elementwise sum of same-shape values, added left to right, with TF's
    add_n rules and messages. The dtype check uses the dtypes TF would have
    (collection `c` knows which cyloss results TF would have narrowed to
    float32; a Python float is float32 to TF), the sum the widest real dtype
    among the values, so float64 results keep their precision."""
    if not values:
        raise ValueError(_ADD_N_INPUTS)
    tf_dtypes = [(c or LossCollection()).tf_dtype(v) for v in values]
    if any(d != tf_dtypes[0] for d in tf_dtypes):
        raise TypeError(f"Tensors in list passed to 'inputs' of 'AddN' Op have types "
                        f"[{', '.join(str(d) for d in tf_dtypes)}] that don't all match.")
    arrays = [np.asarray(v, np.int32) if type(v) is int else np.asarray(v) for v in values]
    for a in arrays:
        if a.dtype.kind not in "biuf":
            raise TypeError(f"add_n: a loss of dtype {a.dtype} cannot be added")
    strong = [a.dtype for v, a in zip(values, arrays) if type(v) not in (int, float)]
    dtype = max(strong, key=lambda d: d.itemsize) if strong else tf_dtypes[0]
    arrays = [a.astype(dtype, copy=False) for a in arrays]
    shapes = [a.shape for a in arrays]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"Shapes must be equal to add losses (add_n), got shapes "
                         f"{', '.join(str(s) for s in shapes)}")
    total = arrays[0].copy()
    for a in arrays[1:]:
        total = total + a
    return np.asarray(total, dtype)


__all__ = ["collection", "add_loss", "get_losses", "get_regularization_losses",
           "get_regularization_loss", "get_total_loss", "LossCollection"]
