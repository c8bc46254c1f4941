"""``python -m migration ARGS`` is ``rnn-migrate ARGS`` (same parser, same exit codes)."""
from __future__ import annotations

import sys

from migration.import_path import strip_startup_directory

strip_startup_directory()  # before anything else is imported: `python -m` put the current directory on sys.path

from migration.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
