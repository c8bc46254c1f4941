"""The bottom layer: the shared vocabulary every other package speaks (cell specs, gate orders, errors, the
TensorFlow environment, terminal output). It imports nothing else of rnn-migrate, so ``legacy_rnn``, ``modern_rnn``
and every job may import it."""
