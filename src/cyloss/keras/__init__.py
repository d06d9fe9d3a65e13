"""tf.keras.losses: being written."""
__all__ = []
