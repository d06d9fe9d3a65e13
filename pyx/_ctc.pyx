# cython: language_level=3
"""(being written)"""


def placeholder():
    return 0
