"""contrib.seq2seq.sequence_loss: being written."""
__all__ = []
