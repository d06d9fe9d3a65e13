"""tf.nn.ctc_loss: being written."""
__all__ = []
