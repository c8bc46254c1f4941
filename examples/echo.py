"""Seed 002 (R2RT "Recurrent Neural Networks in Tensorflow I"): the binary dependency task, four ways.

The program is ``migration/examples/echo.py``: it ships with rnn-migrate, so an installed
``rnn-migrate example echo`` runs it. This script runs the same program from a checkout::

    python -m examples.echo --help    # from the repository root
"""
import sys

from migration.examples.echo import main

if __name__ == "__main__":
    sys.exit(main())
