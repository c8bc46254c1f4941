"""Seed 004: GloVe + BasicLSTMCell + DropoutWrapper sentiment classifier and its Keras 2 twin.

The program is ``migration/examples/sentiment_cli.py`` (model and training in ``migration/examples/sentiment.py``):
it ships with rnn-migrate, so an installed ``rnn-migrate example sentiment`` runs it. This script runs the same program from a checkout::

    python -m examples.sentiment --help    # from the repository root
"""
import sys

from migration.examples.sentiment_cli import main

if __name__ == "__main__":
    sys.exit(main())
