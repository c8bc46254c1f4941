"""A grid's configuration read from a ``.meta`` that TF 2.x wrote, with ``dynamic_rnn`` inside an enclosing
``variable_scope`` (the common program form): TF 2.x's ``while_v2`` body function names the cell's ops
``rnn/grid_lstm_cell/...`` (the enclosing scopes left out) while its variables are ``<outer>/rnn/grid_lstm_cell/...``,
and two such grids give the same op scope in two different functions. migration.checkpoint.grid_meta finds each
through the main graph's ``<outer>/rnn/while`` loop and its ``body`` function (before: "no frequency Slice of the grid
cell"). Negative control: each grid's own configuration comes back (different feature sizes, blocks, options), not
the other's.
"""
from __future__ import annotations

import legacy_rnn
from legacy_rnn import grid_lstm, tf, v1


def test_grids_under_enclosing_variable_scopes_are_found_in_their_while_v2_bodies(tmp_path):
    from migration.checkpoint.grid_meta import grid_options
    from migration.checkpoint.meta import MetaGraph

    with legacy_rnn.new_graph(3):
        x = v1.placeholder(tf.float32, [None, 4, 5], name="x")
        with v1.variable_scope("first"):
            legacy_rnn.dynamic_rnn(grid_lstm.grid_lstm_cell(3, forget_bias=0.6, feature_size=2, frequency_skip=1,
                                                            num_frequency_blocks=[4], use_peepholes=True), x,
                                   dtype=tf.float32)
        with v1.variable_scope("outer"), v1.variable_scope("second"):
            legacy_rnn.dynamic_rnn(grid_lstm.bidirectional_grid_lstm_cell(
                3, forget_bias=0.8, feature_size=3, frequency_skip=2, num_frequency_blocks=[2],
                cell_clip=0.3, backward_slice_offset=1), x, dtype=tf.float32)
        v1.train.export_meta_graph(str(tmp_path / "model.meta"))
    meta = MetaGraph(str(tmp_path / "model.meta"))
    first = grid_options(meta, "first/rnn/grid_lstm_cell", False)
    second = grid_options(meta, "outer/second/rnn/bidirectional_grid_lstm_cell", True)
    assert (first["feature_size"], first["frequency_skip"], list(first["num_frequency_blocks"])) == (2, 1, [4])
    assert (second["feature_size"], second["frequency_skip"], list(second["num_frequency_blocks"])) == (3, 2, [2])
    assert first["forget_bias"] == 0.6 and second["forget_bias"] == 0.8
    assert second["backward_slice_offset"] == 1 and second["cell_clip"] == 0.3 and first["cell_clip"] is None
