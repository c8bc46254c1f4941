"""An attention encoder-decoder reversing digit sequences: TF1 graph code, converted, decoded on both sides.

The program is ``migration/examples/seq2seq.py``: it ships with rnn-migrate, so an installed
``rnn-migrate example seq2seq`` runs it. This script runs the same program from a checkout::

    python -m examples.seq2seq --help    # from the repository root
"""
import sys

from migration.examples.seq2seq import main

if __name__ == "__main__":
    sys.exit(main())
