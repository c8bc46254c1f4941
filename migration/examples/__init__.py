"""Runnable programs from the seed documents, legacy (TF1 graph) and modern (Keras 2) side by side.

Each program has ``main(argv) -> int`` and runs as ``rnn-migrate example NAME`` (the table in
:mod:`migration.commands.example`), ``python -m migration.examples.NAME`` or ``python examples/NAME.py`` from a
checkout. They ship with the product (an installed wheel runs them); the repository's top-level ``examples/`` holds
a thin script for each. Layer: above the jobs they use (checkpoint, glove, datasets), below :mod:`migration.demo`.
"""
