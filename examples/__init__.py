"""The seed programs, as thin scripts over the product (top layer: nothing in ``migration``, ``legacy_rnn`` or
``modern_rnn`` imports this package, and the wheel does not install it).

The programs themselves are in :mod:`migration.examples` (``rnn-migrate example NAME``) and :mod:`migration.demo`
(``rnn-migrate demo``); ``python -m examples.NAME`` runs the same code from a checkout.
"""
