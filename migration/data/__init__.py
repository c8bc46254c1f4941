"""Data shipped with rnn-migrate (see README.md here): read through :mod:`migration.datasets`."""
