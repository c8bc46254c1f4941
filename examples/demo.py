"""``rnn-migrate demo``: train the seed-004 TF1 sentiment graph, convert its checkpoint, verify, evaluate, train on.

The job is ``migration/demo.py`` (the example programs it uses are in ``migration/examples/``): it ships with
rnn-migrate, so an installed ``rnn-migrate demo`` runs it. This script runs the same job from a checkout::

    python -m examples.demo --help    # from the repository root
"""
import sys

from migration.demo import main

if __name__ == "__main__":
    sys.exit(main())
