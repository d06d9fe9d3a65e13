"""The Keras loss classes: constructor arguments, get_config as Keras writes
it, and the per-sample function each one wraps (keras/_functions.py)."""
from . import _functions as F
from ._pipeline import Loss, LossFunctionWrapper

_DEFAULT = "sum_over_batch_size"


class _Wrapper(LossFunctionWrapper):
    """A Keras class: `_fn` is its function form, `_config_keys` the
    constructor arguments Keras' get_config reports (beyond name and
    reduction)."""
    _fn = None
    _config_keys = ()

    def __init__(self, reduction=_DEFAULT, name=None, dtype=None, **kwargs):
        super().__init__(type(self)._fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for k in self._config_keys:
            setattr(self, k, kwargs[k])

    def get_config(self):
        config = Loss.get_config(self)
        config.update({k: getattr(self, k) for k in self._config_keys})
        return config


class _IdLabels(_Wrapper):
    """Losses whose y_true holds class ids: no gradient w.r.t. y_true."""
    _wrt = ("y_pred", "sample_weight")


class MeanSquaredError(_Wrapper):
    _fn = F.mean_squared_error

    def __init__(self, reduction=_DEFAULT, name="mean_squared_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanAbsoluteError(_Wrapper):
    _fn = F.mean_absolute_error

    def __init__(self, reduction=_DEFAULT, name="mean_absolute_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanAbsolutePercentageError(_Wrapper):
    _fn = F.mean_absolute_percentage_error

    def __init__(self, reduction=_DEFAULT, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanSquaredLogarithmicError(_Wrapper):
    _fn = F.mean_squared_logarithmic_error

    def __init__(self, reduction=_DEFAULT, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(reduction, name, dtype)


class CosineSimilarity(_Wrapper):
    _fn = F.cosine_similarity

    def __init__(self, axis=-1, reduction=_DEFAULT, name="cosine_similarity", dtype=None):
        super().__init__(reduction, name, dtype, axis=axis)   # Keras' config omits axis


class Huber(_Wrapper):
    _fn = F.huber

    def __init__(self, delta=1.0, reduction=_DEFAULT, name="huber_loss", dtype=None):
        super().__init__(reduction, name, dtype, delta=delta)  # Keras' config omits delta


class LogCosh(_Wrapper):
    _fn = F.log_cosh

    def __init__(self, reduction=_DEFAULT, name="log_cosh", dtype=None):
        super().__init__(reduction, name, dtype)


class Hinge(_Wrapper):
    _fn = F.hinge

    def __init__(self, reduction=_DEFAULT, name="hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class SquaredHinge(_Wrapper):
    _fn = F.squared_hinge

    def __init__(self, reduction=_DEFAULT, name="squared_hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class CategoricalHinge(_Wrapper):
    _fn = F.categorical_hinge

    def __init__(self, reduction=_DEFAULT, name="categorical_hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class KLDivergence(_Wrapper):
    _fn = F.kl_divergence

    def __init__(self, reduction=_DEFAULT, name="kl_divergence", dtype=None):
        super().__init__(reduction, name, dtype)


class Poisson(_Wrapper):
    _fn = F.poisson

    def __init__(self, reduction=_DEFAULT, name="poisson", dtype=None):
        super().__init__(reduction, name, dtype)


class BinaryCrossentropy(_Wrapper):
    _fn = F.binary_crossentropy
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction=_DEFAULT,
                 name="binary_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class BinaryFocalCrossentropy(_Wrapper):
    _fn = F.binary_focal_crossentropy
    _config_keys = ("from_logits", "label_smoothing", "axis", "apply_class_balancing",
                    "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction=_DEFAULT,
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, apply_class_balancing=apply_class_balancing,
                         alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(_Wrapper):
    _fn = F.categorical_crossentropy
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction=_DEFAULT,
                 name="categorical_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalFocalCrossentropy(_Wrapper):
    _fn = F.categorical_focal_crossentropy
    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction=_DEFAULT, name="categorical_focal_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_IdLabels):
    _fn = F.sparse_categorical_crossentropy
    _config_keys = ("from_logits", "ignore_class")

    def __init__(self, from_logits=False, ignore_class=None, reduction=_DEFAULT, axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)


class CTC(_IdLabels):
    _fn = F.ctc

    def __init__(self, reduction=_DEFAULT, name="ctc", dtype=None):
        super().__init__(reduction, name, dtype)


class Dice(_Wrapper):
    _fn = F.dice
    _config_keys = ("axis",)

    def __init__(self, reduction=_DEFAULT, name="dice", axis=None, dtype=None):
        super().__init__(reduction, name, dtype, axis=axis)


class Tversky(_Wrapper):
    _fn = F.tversky
    _config_keys = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction=_DEFAULT, name="tversky", axis=None,
                 dtype=None):
        super().__init__(reduction, name, dtype, alpha=alpha, beta=beta, axis=axis)


class Circle(_IdLabels):
    _fn = F.circle
    _config_keys = ("gamma", "margin", "remove_diagonal")

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction=_DEFAULT,
                 name="circle", dtype=None):
        super().__init__(reduction, name, dtype, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)


class CategoricalGeneralizedCrossEntropy(_IdLabels):
    _fn = F.categorical_generalized_cross_entropy
    _config_keys = ("q",)

    def __init__(self, q=0.5, reduction=_DEFAULT, name="categorical_generalized_cross_entropy",
                 dtype=None):
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(reduction, name, dtype, q=q)
