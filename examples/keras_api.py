"""Seed 001 (Keras recurrent layer API): return_sequences / return_state / stacked / Bidirectional, both sides.

The program is ``migration/examples/keras_api.py``: it ships with rnn-migrate, so an installed
``rnn-migrate example keras_api`` runs it. This script runs the same program from a checkout::

    python -m examples.keras_api --help    # from the repository root
"""
import sys

from migration.examples.keras_api import main

if __name__ == "__main__":
    sys.exit(main())
