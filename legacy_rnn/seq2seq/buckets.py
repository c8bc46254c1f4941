"""``tf.contrib.legacy_seq2seq.model_with_buckets``: kept importable from here (the home ``rnn-migrate upgrade``
used before it moved into :mod:`legacy_rnn.seq2seq.legacy_seq2seq`, where TF 1.15 had it)."""
from __future__ import annotations

from legacy_rnn.seq2seq.legacy_seq2seq import model_with_buckets

__all__ = ["model_with_buckets"]
