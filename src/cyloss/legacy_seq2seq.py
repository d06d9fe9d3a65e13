"""legacy_seq2seq: being written."""
__all__ = []
