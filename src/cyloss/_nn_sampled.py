"""tf.nn sampled losses: being written."""
__all__ = []
