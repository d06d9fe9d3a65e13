"""cyloss' error types."""


class InvalidArgumentError(ValueError):
    """A value TensorFlow rejects at run time (TF's tf.errors.InvalidArgumentError),
    such as a sparse label outside [0, num_classes). A ValueError, so code that
    catches ValueError keeps working."""
