"""Seed 003 (text preparation for Keras RNNs) with real models and the real GloVe vectors.

The program is ``migration/examples/text_prep.py``: it ships with rnn-migrate, so an installed
``rnn-migrate example text_prep`` runs it. This script runs the same program from a checkout::

    python -m examples.text_prep --help    # from the repository root
"""
import sys

from migration.examples.text_prep import main

if __name__ == "__main__":
    sys.exit(main())
