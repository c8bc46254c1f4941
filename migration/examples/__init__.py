"""Runnable programs from the seed documents, legacy (TF1 graph) and modern (Keras 2) side by side.

Each program has ``main(argv) -> int`` and runs as ``rnn-migrate example NAME`` (the table in
:mod:`migration.commands.example`), ``python -m migration.examples.NAME``, or ``python -m examples.NAME`` from a
checkout's root. They ship with the product (an installed wheel runs them); the repository's top-level
``examples/`` holds a thin script for each. Layer: above the jobs they use (checkpoint, glove, datasets), below
:mod:`migration.demo`.

Imports inside functions: TensorFlow (through ``legacy_rnn``/``modern_rnn``), matplotlib and the checkpoint package
are imported by the functions that use them, on first use, because ``rnn-migrate --help`` imports the demo and,
through it, these modules; everything else is imported at the top. None of them dodges a circle (``.importlinter``).
"""
