"""One module per ``rnn-migrate`` subcommand (see :mod:`migration.cli`)."""
