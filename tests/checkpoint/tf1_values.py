"""Filling a TF1 program's variables with chosen values for the tests (seeded, asymmetric, non-zero biases)."""
from __future__ import annotations


def load_values(sess, pairs) -> None:
    """``Variable.load(value, sess)`` for every ``(variable, value)`` pair, all in ONE session run: each ``load`` is a
    run of its own (a new pruned executor, ~12 ms), which made filling a program's variables cost seconds. Same
    effect: each variable's initializer runs with its initial value fed, so no op is added to the graph."""
    feeds, ops, later = {}, [], []
    for var, value in pairs:
        fed = var.initializer.inputs[1]
        if fed in feeds:  # two variables made from one initial-value tensor: the second loads on its own
            later.append((var, value))
        else:
            feeds[fed] = value
            ops.append(var.initializer)
    if ops:
        sess.run(ops, feeds)
    for var, value in later:
        var.load(value, sess)


def _fast_config():
    from legacy_rnn import v1

    config = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    config.graph_options.rewrite_options.disable_meta_optimizer = True  # no Grappler
    config.graph_options.optimizer_options.opt_level = v1.OptimizerOptions.L0  # no classic constant folding / CSE
    return config


#: The session config of the tests' own TF1 graphs: one thread each (deterministic; two xdist workers share two
#: cores) and the graph run as written: Grappler and the classic optimizer cost more than these small graphs take to
#: run (the grid module's gradient graph of every option cell: 12.7 -> 9.0 CPU s); the numbers are the same.
FAST = _fast_config()
