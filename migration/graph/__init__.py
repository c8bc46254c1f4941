"""The user's original TF1 graph as ground truth.

* :mod:`migration.graph.graphdef` indexes a ``GraphDef`` (main graph + function library) without executing it;
* :mod:`migration.graph.sandbox` checks every op a fetch needs against an allowlist before anything runs;
* :mod:`migration.graph.rewrite` bypasses dropout subgraphs (inference = no dropout);
* :mod:`migration.graph.reference` runs the original graph with every variable replaced by its checkpoint value;
* :mod:`migration.graph.blocks` finds each RNN block's boundary tensors in the original graph by structure;
* :mod:`migration.graph.to_keras` translates the graph from its placeholders to its outputs into a tf_keras model.
"""
