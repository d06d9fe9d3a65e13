"""tf.keras.losses (Keras 3, TF 2.21): every loss class and function form,
with Keras' reductions, sample weights, masks and configs (TF_SEMANTICS.md
sec. 4). One deliberate difference (API.md): a class built with dtype=None
computes float64 inputs in float64 (Keras would compute them in float32).

    loss = cyloss.keras.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    loss(y_true, y_pred, sample_weight=w)
    value, backward = cyloss.vjp(loss, y_true, y_pred, sample_weight=w)
"""
import inspect

from ._classes import (CTC, BinaryCrossentropy, BinaryFocalCrossentropy,
                       CategoricalCrossentropy, CategoricalFocalCrossentropy,
                       CategoricalGeneralizedCrossEntropy, CategoricalHinge, Circle,
                       CosineSimilarity, Dice, Hinge, Huber, KLDivergence, LogCosh,
                       MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
                       MeanSquaredLogarithmicError, Poisson, SparseCategoricalCrossentropy,
                       SquaredHinge, Tversky)
from ._functions import (binary_crossentropy, binary_focal_crossentropy,
                         categorical_crossentropy, categorical_focal_crossentropy,
                         categorical_generalized_cross_entropy, categorical_hinge, circle,
                         cosine_similarity, ctc, dice, hinge, huber, kl_divergence, log_cosh,
                         mean_absolute_error, mean_absolute_percentage_error,
                         mean_squared_error, mean_squared_logarithmic_error, poisson,
                         sparse_categorical_crossentropy, squared_hinge, tversky)
from ._pipeline import Loss, LossFunctionWrapper, Reduction

# tf.keras.losses' aliases: the same function objects
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

_CLASSES = [Loss, LossFunctionWrapper, KLDivergence, Poisson, BinaryCrossentropy,
            BinaryFocalCrossentropy, CategoricalCrossentropy, CategoricalFocalCrossentropy,
            SparseCategoricalCrossentropy, MeanSquaredError, MeanAbsoluteError,
            MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity,
            LogCosh, Huber, Hinge, SquaredHinge, CategoricalHinge, Dice, Tversky, Circle, CTC]
_FUNCTIONS = [kl_divergence, poisson, binary_crossentropy, binary_focal_crossentropy,
              categorical_crossentropy, categorical_focal_crossentropy,
              sparse_categorical_crossentropy, mean_squared_error, mean_absolute_error,
              mean_absolute_percentage_error, mean_squared_logarithmic_error,
              cosine_similarity, log_cosh, huber, hinge, squared_hinge, categorical_hinge,
              dice, tversky, circle, ctc]
# Keras' ALL_OBJECTS_DICT: what get() resolves by name (Keras 3.15 leaves
# CategoricalGeneralizedCrossEntropy and its function out: get() rejects them)
_BY_NAME = {o.__name__: o for o in _CLASSES + _FUNCTIONS}
_ALIASES = {"bce": binary_crossentropy, "BCE": binary_crossentropy, "kld": kl_divergence,
            "KLD": kl_divergence, "mae": mean_absolute_error, "MAE": mean_absolute_error,
            "mse": mean_squared_error, "MSE": mean_squared_error,
            "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
            "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error}
_GET = dict(_BY_NAME, **_ALIASES)


def serialize(loss):
    """Keras' config dict of a loss instance or function."""
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__,
                "config": loss.get_config(), "registered_name": None}
    if loss in _FUNCTIONS:
        return {"module": "builtins", "class_name": "function", "config": loss.__name__,
                "registered_name": "function"}
    if loss is None or isinstance(loss, (str, int, float, bool, dict)):
        return loss
    raise TypeError(f"Cannot serialize {loss!r}: not a cyloss.keras loss")


def deserialize(name, custom_objects=None):
    """A loss from a config dict or a name, as Keras' deserialize resolves it."""
    objects = dict(_BY_NAME, **(custom_objects or {}))
    if isinstance(name, str):
        if name in _ALIASES:
            raise ValueError(f"Could not deserialize 'keras.metrics.{name}' because it is not "
                             "a KerasSaveable subclass")
        obj = objects.get(name)
        if obj is None:
            return name                 # Keras hands unknown strings back
        return obj() if inspect.isclass(obj) else obj
    if not isinstance(name, dict):
        return name
    cls_name = name.get("class_name")
    config = name.get("config", {})
    if cls_name == "function":
        fn = objects.get(config)
        if fn is None or inspect.isclass(fn):
            raise TypeError(f"Could not locate function '{config}'. Make sure custom classes "
                            "and functions are decorated with "
                            "`@keras.saving.register_keras_serializable()`.")
        return fn
    cls = objects.get(cls_name)
    if cls is None:
        return cls_name                 # as Keras does for an unknown class name
    if not inspect.isclass(cls):
        return cls
    return cls.from_config(dict(config))


def get(identifier):
    """Keras' losses.get: a name, a config dict, a callable or None."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _GET.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret loss identifier: {identifier}")


__all__ = [
    "Loss", "Reduction", "BinaryCrossentropy", "BinaryFocalCrossentropy",
    "CategoricalCrossentropy", "CategoricalFocalCrossentropy", "SparseCategoricalCrossentropy",
    "CategoricalGeneralizedCrossEntropy", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh",
    "CosineSimilarity", "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson",
    "Dice", "Tversky", "Circle", "CTC",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "sparse_categorical_crossentropy",
    "categorical_generalized_cross_entropy", "categorical_hinge", "circle", "cosine_similarity",
    "ctc", "dice", "hinge", "huber", "kld", "KLD", "kullback_leibler_divergence", "logcosh",
    "mae", "MAE", "mape", "MAPE", "mse", "MSE", "msle", "MSLE", "poisson", "squared_hinge",
    "tversky", "get", "serialize", "deserialize",
]
