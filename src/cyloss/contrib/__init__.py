"""TF 1.x `tf.contrib` counterparts: `cyloss.contrib.losses` (tf.contrib.losses)."""
from . import losses

__all__ = ["losses"]
