"""Runnable programs from the seed documents, legacy (TF1 graph) and modern (Keras 2) side by side.

Each module ``examples.NAME`` has ``main(argv) -> int`` and runs as ``python -m examples.NAME`` or
``rnn-migrate example NAME``.
"""
