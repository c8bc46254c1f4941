"""TF 1.15 ``rnn_cell_impl.assert_like_rnncell`` for both twins: a ``TypeError`` naming the argument when an object
passed as a cell lacks what an RNNCell has (instead of an ``AttributeError`` deep inside a wrapper). No TensorFlow."""
from __future__ import annotations


def assert_like_rnncell(cell_name: str, cell) -> None:
    """Raise ``TypeError("The argument 'cell' (...) is not an RNNCell: <what is missing>.")`` as TF 1.15 did."""
    checks = (("'output_size' property is missing", hasattr(cell, "output_size")),
              ("'state_size' property is missing", hasattr(cell, "state_size")),
              ("either 'zero_state' or 'get_initial_state' method is required",
               hasattr(cell, "zero_state") or hasattr(cell, "get_initial_state")),
              ("is not callable", callable(cell)))
    errors = [what for what, ok in checks if not ok]
    if errors:
        raise TypeError(f"The argument {cell_name!r} ({cell}) is not an RNNCell: {', '.join(errors)}.")


__all__ = ["assert_like_rnncell"]
