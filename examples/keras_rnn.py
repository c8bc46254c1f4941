"""Seed 000 (Keras RNN sentiment classifiers): the seven models, each with its TF1 twin.

The program is ``migration/examples/keras_rnn.py``: it ships with rnn-migrate, so an installed
``rnn-migrate example keras_rnn`` runs it. This script runs the same program from a checkout::

    python -m examples.keras_rnn --help    # from the repository root
"""
import sys

from migration.examples.keras_rnn import main

if __name__ == "__main__":
    sys.exit(main())
