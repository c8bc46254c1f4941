"""``python -m migration ARGS`` is ``rnn-migrate ARGS`` (same parser, same exit codes)."""
from __future__ import annotations

import sys

from migration.cli import main

if __name__ == "__main__":
    sys.exit(main())
