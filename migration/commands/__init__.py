"""One module per ``rnn-migrate`` subcommand (see :mod:`migration.cli`), and :mod:`.common`, what they share.

:mod:`migration.cli` imports every module here to build its parser, so a module imports at its top only what
building the parser needs: ``--help`` and ``scan`` start without TensorFlow, pandas or the checkpoint package. The
job a handler runs (``migration.checkpoint``, ``migration.glove``, ...) is imported inside that handler, on first
use; these are the only imports placed inside functions here, and none of them dodges a circle (the commands sit
above every job: ``.importlinter``).
"""
