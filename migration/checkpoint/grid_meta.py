"""The frequency slicing of a ``tf.contrib.rnn.GridLSTMCell`` / ``BidirectionalGridLSTMCell`` read from the ``.meta``.

The checkpoint stores only the weights; the grid's configuration (feature_size, frequency_skip, the blocks and their
slices, coupled gates, the backward offset, forget_bias, cell_clip, the input width) are Python arguments of the
program. TF 1.15 builds them into the graph, under the cell's op scope (``<scope>/grid_lstm_cell/...``, in the
``while`` body function of ``dynamic_rnn``), and this module reads them back from the parsed protobuf only (nothing is
imported or executed):

* every slice is a ``Slice`` op with Const ``begin [0, s]`` and ``size [-1, F]``: the slice starts and feature_size;
  the forward slices read the step input (its ``_output_shapes`` give the input width D), the backward grid's read a
  ``Pad`` whose Const paddings ``[[0, 0], [a, b]]`` give ``backward_slice_offset`` (``b``, or ``-a``);
* per slice, the gate input is a ``ConcatV2 [x_k, m_time_prev_k, m_freq]`` under the grid's scope (``fwd/`` for the
  bidirectional cell): a block starts where ``m_freq`` is the zeros TF 1.15 makes for each block, so the slices group
  into blocks whatever the starts are; ``m_time_prev`` read through a ``StridedSlice`` means ``state_is_tuple=False``;
* ``Split`` ``num_split`` is the number of gates (3: ``couple_input_forget_gates``); the Const added to a ``Split``'s
  output 2 is forget_bias; ``clip_by_value``'s ``Minimum`` Const is cell_clip.

:func:`grid_options` gives the arguments of the Keras twin (an equivalent slicing: explicit start/end lists unless the
program's single block covers the input from column 0), or raises :class:`MigrationError` naming what it could not
read and the remedy. Only the cell's first call is read (the op scope that is, or ends with, the variable directory;
several such scopes are refused, never guessed).
"""
from __future__ import annotations

import re
from typing import Mapping, Optional

import numpy as np

from migration.checkpoint.meta import MetaGraph
from migration.core.errors import MigrationError
from migration.core.tfproto import make_ndarray
from migration.families.grid_lstm import grid_tf1_names
from migration.families.row import META_GRID, Family

_ZEROS_OPS = ("Fill", "Const", "Zeros", "ZerosLike")


def _ref(inp: str) -> tuple[str, int]:
    parts = inp.lstrip("^").split(":")
    return parts[0], int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 0


def _order(name: str) -> int:
    """``.../Slice`` -> 0, ``.../Slice_7`` -> 7 (TF's creation order of ops with the same base name)."""
    match = re.search(r"_(\d+)$", name)
    return int(match.group(1)) if match else 0


def _const(nodes: dict, inp: str) -> Optional[np.ndarray]:
    node = nodes.get(_ref(inp)[0])
    while node is not None and node.op == "Identity" and node.input:
        node = nodes.get(_ref(node.input[0])[0])
    if node is None or node.op != "Const":
        return None
    return make_ndarray(node.attr["value"].tensor, what=f"Const {node.name!r}")


def _last_dim(node, index: int) -> Optional[int]:
    shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else ()
    if len(shapes) <= index or shapes[index].unknown_rank or not shapes[index].dim:
        return None
    size = int(shapes[index].dim[-1].size)
    return size if size > 0 else None


class _Grid:
    """The nodes of one cell in one graph context (``cell_dir``: its variable directory; ``op_dir``: its op scope)."""

    def __init__(self, nodes: dict, cell_dir: str, op_dir: str, path: str) -> None:
        self.nodes, self.cell_dir, self.op_dir, self.path = nodes, cell_dir, op_dir, path
        self.source: Optional[str] = None  # the step input of the call read (the first one)

    def fail(self, what: str) -> MigrationError:
        return MigrationError(
            f"{self.path!r}: cannot read the {what} of the grid cell {self.cell_dir!r} from the graph (TF 1.15 builds "
            "it from Python arguments of the program; the checkpoint does not store it). Convert it by hand: "
            "migration.families.grid_lstm.grid_to_keras(arrays, config, forget_bias) with the program's arguments "
            "(docs/api-map.md#gridlstmcell).")

    def ops(self, scope: str, op: str) -> list:
        found = [n for name, n in self.nodes.items() if n.op == op and name.startswith(scope + "/")
                 and "/" not in name[len(scope) + 1:]]
        return sorted(found, key=lambda n: _order(n.name))

    def step_input(self, node) -> str:
        """The tensor a Slice cuts: the step input, seen through the backward grid's Pad."""
        name = _ref(node.input[0])[0]
        pad = self.nodes.get(name)
        return pad.input[0] if pad is not None and pad.op in ("Pad", "PadV2") else node.input[0]

    def slice_start(self, node) -> tuple[int, int]:
        begin, size = _const(self.nodes, node.input[1]), _const(self.nodes, node.input[2])
        if begin is None or size is None or begin.shape != (2,) or size.shape != (2,):
            raise self.fail(f"slice {node.name!r} (begin/size are not constants)")
        return int(begin[1]), int(size[1])

    def blocks(self, scope: str) -> tuple[list[list[int]], int, list, bool]:
        """The slice starts per block of the grid under ``scope``, feature_size, the Slice nodes, concatenated
        state or not."""
        blocks, sizes, slices, concat_state = [], set(), [], False
        for concat in self.ops(scope, "ConcatV2"):
            if len(concat.input) != 4:
                continue
            first = self.nodes.get(_ref(concat.input[0])[0])
            if first is None or first.op != "Slice" or not first.name.startswith(self.op_dir + "/"):
                continue
            source = self.step_input(first)
            self.source = self.source or source
            if source != self.source:  # another call of the cell (static_rnn: the next time step, same op scope)
                continue
            start, size = self.slice_start(first)
            sizes.add(size)
            slices.append(first)
            m_freq = self.nodes.get(_ref(concat.input[2])[0])
            if m_freq is not None and m_freq.op in _ZEROS_OPS or not blocks:
                blocks.append([])
            blocks[-1].append(start)
            m_time = self.nodes.get(_ref(concat.input[1])[0])
            concat_state |= m_time is not None and m_time.op in ("StridedSlice", "Slice")
        if not blocks or len(sizes) != 1:
            raise self.fail("frequency slices (no `[x_k, m_time, m_freq]` concat of a Slice found under "
                            f"{scope!r}, or several feature sizes {sorted(sizes)})")
        return blocks, sizes.pop(), slices, concat_state

    def scalar_facts(self, scope: str) -> dict[str, set]:
        """gates (Split num_split), forget_bias (Const + Split:2), cell_clip (Minimum's Const) under ``scope``."""
        found: dict[str, set] = {"gates": set(), "forget_bias": set(), "cell_clip": set()}
        for name, node in self.nodes.items():
            if not name.startswith(scope + "/"):
                continue
            if node.op == "Split":
                found["gates"].add(int(node.attr["num_split"].i))
            elif node.op in ("Add", "AddV2") and len(node.input) == 2:
                for k in (0, 1):
                    src, idx = _ref(node.input[k])
                    value = _const(self.nodes, node.input[1 - k])
                    if idx == 2 and getattr(self.nodes.get(src), "op", "") == "Split" and value is not None \
                            and value.size == 1:
                        found["forget_bias"].add(float(str(np.float32(value.reshape(())))))
            elif node.op == "Minimum" and "clip_by_value" in name:
                value = _const(self.nodes, node.input[1])
                if value is not None and value.size == 1:
                    found["cell_clip"].add(float(str(np.float32(value.reshape(())))))
        return found


def _while_v2_body(meta: MetaGraph, parent: str) -> Optional[str]:
    """The library function of the TF 2.x ``while_v2`` loop ``parent/while`` (``dynamic_rnn(scope=parent)`` built by
    TF 2.x): its ``body`` attribute; None when the main graph has no such loop."""
    node = meta.main.get(f"{parent}/while") if parent else None
    if node is None or node.op not in ("While", "StatelessWhile"):
        return None
    name = node.attr["body"].func.name
    return name if any(c.function == name for c in meta.contexts) else None


def _locate(meta: MetaGraph, cell_dir: str) -> tuple[dict, str]:
    """The graph context and the op scope of the cell's first call: in the body of the TF 2.x while loop
    ``parent/while`` (its ops named ``<a suffix of parent>/cell``, the enclosing variable scopes left out), else
    ``cell_dir`` itself (TF 2 while functions), else
    the one in a TF 1.x while frame (``parent/while/<a suffix of parent>/cell``: ``outer/enc/while/enc/grid_lstm_cell``
    for ``outer/enc/grid_lstm_cell``), else ``parent/cell_dir``
    (``static_rnn`` under ``variable_scope('parent')``), else the one op scope ending with ``/cell_dir`` (a
    ``name_scope`` prefix); several candidates are refused, never guessed."""
    parent, _, cell = cell_dir.rpartition("/")
    found = {}
    for ctx in meta.contexts:
        for name, node in ctx.nodes.items():
            op_dir = name.rsplit("/", 1)[0] if "/" in name else ""
            if node.op == "Slice" and (op_dir == cell_dir or op_dir.endswith("/" + cell)):
                found.setdefault(op_dir, ctx.nodes)

    def in_frame(op_dir: str) -> bool:  # TF 1.x while frame of dynamic_rnn(scope=parent): parent/while/<tail>/cell
        middle = op_dir[len(parent) + len("/while/"):-len(cell) - 1]
        return op_dir.startswith(f"{parent}/while/") and op_dir.endswith(f"/{cell}") and bool(middle) and (
            parent == middle or parent.endswith("/" + middle))

    body = _while_v2_body(meta, parent)
    if body is not None:  # TF 2.x while_v2 of dynamic_rnn(scope=parent): its body names ops <a suffix of parent>/cell
        ctx = next(c for c in meta.contexts if c.function == body)
        dirs = {n.rsplit("/", 1)[0] for n, node in ctx.nodes.items() if node.op == "Slice" and "/" in n}
        hits = [d for d in dirs if d.endswith("/" + cell) and (
            parent == d[:-len(cell) - 1] or parent.endswith("/" + d[:-len(cell) - 1]))]
        if len(hits) == 1:
            return ctx.nodes, hits[0]
    for tier in ([cell_dir], [d for d in found if parent and in_frame(d)],
                 [f"{parent}/{cell_dir}"],  # static_rnn under variable_scope(parent)
                 [d for d in found if d.endswith("/" + cell_dir)]):  # a name_scope prefix
        if len(tier) == 1 and tier[0] in found:
            return found[tier[0]], tier[0]
    found = {d: n for d, n in found.items() if d.endswith("/" + cell_dir) or in_frame(d)}
    remedy = "Convert it by hand: migration.families.grid_lstm.grid_to_keras (docs/api-map.md#gridlstmcell)."
    if not found:
        raise MigrationError(f"{meta.path!r}: no frequency Slice of the grid cell {cell_dir!r} in the graph (called "
                             f"under another name scope?). {remedy}")
    raise MigrationError(f"{meta.path!r}: the grid cell {cell_dir!r} matches several op scopes {sorted(found)}; "
                         f"which one reads its variables is not decided from the names. {remedy}")


def _slicing(blocks: list[list[int]], feature_size: int, depth: int) -> dict:
    """The twin's slicing arguments giving exactly these slice starts."""
    skips = {b[k + 1] - b[k] for b in blocks for k in range(len(b) - 1)}
    if len(skips) > 1 or any(s <= 0 for s in skips):
        raise MigrationError(f"grid slices {blocks} are not evenly spaced as TF 1.15 cuts them.")
    skip = skips.pop() if skips else 1
    out = {"feature_size": feature_size, "frequency_skip": skip, "num_frequency_blocks": [len(b) for b in blocks]}
    if len(blocks) == 1 and blocks[0][0] == 0 and (depth - feature_size) // skip + 1 == len(blocks[0]):
        return out
    return dict(out, start_freqindex_list=[b[0] for b in blocks],
                end_freqindex_list=[b[-1] + feature_size for b in blocks])


def _one(meta: MetaGraph, grid: _Grid, facts: dict[str, set], key: str, default=None):
    values = facts[key]
    if len(values) > 1:
        raise MigrationError(f"{meta.path!r}: the grid cell {grid.cell_dir!r} has several values for {key}: "
                             f"{sorted(values)}.")
    return values.pop() if values else default


def grid_options(meta: MetaGraph, cell_dir: str, bidirectional: bool) -> dict:
    """The twin's arguments of the grid cell whose variables are under ``cell_dir`` (slicing, coupled gates,
    backward offset, cell_clip, state_is_tuple) plus ``forget_bias`` and ``input_size`` (D); see the module
    docstring. Raises :class:`MigrationError` naming the option it could not read."""
    nodes, op_dir = _locate(meta, cell_dir)
    grid = _Grid(nodes, cell_dir, op_dir, meta.path)
    scope = grid.op_dir + ("/fwd" if bidirectional else "")
    blocks, feature_size, slices, concat_state = grid.blocks(scope)
    depth = _last_dim(grid.nodes[_ref(slices[0].input[0])[0]], _ref(slices[0].input[0])[1])
    if depth is None:
        raise grid.fail("input width (no static shape of the sliced step input)")
    facts = grid.scalar_facts(scope)
    gates = _one(meta, grid, facts, "gates")
    if gates not in (3, 4):
        raise grid.fail(f"gate count (Split num_split {gates})")
    options = dict(_slicing(blocks, feature_size, depth), couple_input_forget_gates=gates == 3,
                   cell_clip=_one(meta, grid, facts, "cell_clip"), input_size=depth,
                   forget_bias=_one(meta, grid, facts, "forget_bias", 1.0 if gates == 3 else None))
    if options["forget_bias"] is None:
        raise grid.fail("forget_bias (no Const added to the f gate)")
    if bidirectional:
        options["backward_slice_offset"] = _backward_offset(grid, blocks)
    elif concat_state:
        options["state_is_tuple"] = False
    return options


def _backward_offset(grid: _Grid, blocks: list[list[int]]) -> int:
    """``backward_slice_offset``: 0 when the backward grid reads the forward slices, else the ``Pad``'s paddings
    (checked against the backward slices' starts)."""
    backward, _, _, _ = grid.blocks(grid.op_dir + "/bwd")
    pads = [p for p in grid.ops(grid.op_dir, "Pad") if p.input[0] == grid.source]
    if not pads:
        offset = 0
    else:
        paddings = _const(grid.nodes, pads[0].input[1])
        if paddings is None or paddings.shape != (2, 2):
            raise grid.fail("backward_slice_offset (Pad paddings are not a constant)")
        offset = int(paddings[1][1]) if paddings[1][1] > 0 else -int(paddings[1][0])
    expected = [sorted(s + max(offset, 0) for s in b) for b in blocks] if pads else blocks
    if [sorted(b) for b in backward] != expected:
        raise grid.fail(f"backward slices ({backward} are not the forward slices {blocks} shifted by {offset})")
    return offset




def grid_cell_config(meta: Optional[MetaGraph], cell_dir: str, shapes: Mapping[str, tuple[int, ...]],
                     bidirectional: bool) -> tuple[dict, float]:
    """(the twin's configuration, forget_bias) of :func:`grid_cell_config_and_width`."""
    config, forget_bias, _ = grid_cell_config_and_width(meta, cell_dir, shapes, bidirectional)
    return config, forget_bias


def grid_cell_config_and_width(meta: Optional[MetaGraph], cell_dir: str, shapes: Mapping[str, tuple[int, ...]],
                               bidirectional: bool) -> tuple[dict, float, int]:
    """The Keras twin's whole configuration of one grid cell and the program's forget_bias, from the checkpoint's
    variable shapes under ``cell_dir`` (``shapes``: name below the cell directory -> shape) and the ``.meta``: units
    from ``B_f_0 [G U]``, peepholes / shared weights / shards from which variables exist, the slicing from
    :func:`grid_options`; every block's shapes checked against them. Refused (:class:`MigrationError`, naming the
    option and the remedy) without a ``.meta`` (the checkpoint alone cannot tell gates from units nor give the
    slicing) and for ``state_is_tuple=False`` with several blocks (the twin does not reproduce TF 1.15's block-0
    offsets quirk)."""
    remedy = ("convert it by hand: migration.families.grid_lstm.grid_to_keras(arrays, config, forget_bias) with the "
              "program's arguments (docs/api-map.md#gridlstmcell)")
    if meta is None:
        raise MigrationError(f"the grid cell {cell_dir!r}: no .meta beside the checkpoint; feature_size, "
                             "frequency_skip, num_frequency_blocks, start/end_freqindex_list, couple_input_forget_gates "
                             "(3 or 4 gates: the shapes alone cannot tell gates from units) and forget_bias are "
                             f"Python arguments of the program, read only from the graph. Put the .meta back, or {remedy}.")
    options = grid_options(meta, cell_dir, bidirectional)
    forget_bias, depth = options.pop("forget_bias"), options.pop("input_size")
    if options.get("state_is_tuple") is False and len(options["num_frequency_blocks"]) > 1:
        raise MigrationError(f"the grid cell {cell_dir!r} has state_is_tuple=False with "
                             f"{len(options['num_frequency_blocks'])} blocks: TF 1.15 then reads every block's state at "
                             "block 0's offsets, which the Keras twin does not reproduce; keep the legacy cell "
                             "(legacy_rnn.grid_lstm.GridLSTMCell) for this model.")
    d = "fwd/" if bidirectional else ""
    gates = 3 if options["couple_input_forget_gates"] else 4
    if f"{d}B_f_0" not in shapes or len(shapes[f"{d}B_f_0"]) != 1 or shapes[f"{d}B_f_0"][0] % gates:
        raise MigrationError(f"the grid cell {cell_dir!r}: no `{d}B_f_0` of {gates} gate blocks among {sorted(shapes)}.")
    units = shapes[f"{d}B_f_0"][0] // gates
    config = dict(options, units=units, use_peepholes=f"{d}W_I_diag_freqf_0" in shapes,
                  share_time_frequency_weights=f"{d}W_t_0_0" not in shapes,
                  num_unit_shards=sum(1 for k in range(len(shapes)) if f"{d}W_f_0_{k}" in shapes))
    expected = {}
    for name in grid_tf1_names(config, bidirectional):
        if name.rsplit("/", 1)[-1].startswith(("B_", "W_f_", "W_t_")) and "_diag_" not in name:
            rows = options["feature_size"] + 2 * units
            expected.update({f"{name}_{k}": (rows // config["num_unit_shards"] + (k < rows % config["num_unit_shards"]),
                                             gates * units) for k in range(config["num_unit_shards"])}
                            if name.rsplit("/", 1)[-1].startswith("W_") else {name: (gates * units,)})
        else:
            expected[name] = (units,)
    if dict(shapes) != expected:
        raise MigrationError(f"the grid cell {cell_dir!r}: its variables {dict(sorted(shapes.items()))} are not those "
                             f"of the configuration the graph gives ({config}, input width {depth}): "
                             f"{dict(sorted(expected.items()))}; {remedy}.")
    return config, forget_bias, depth


def configured_spec(row: Family, meta: Optional[MetaGraph], cell_dir: str,
                    shapes: Mapping[str, tuple[int, ...]]) -> tuple[int, int, None, object, dict[str, str]]:
    """The recognizer's reading of a cell whose row has ``meta_config`` (:data:`META_GRID`): (units, input width,
    no projection, the spec, where each hyper-parameter came from). Raises :class:`MigrationError` naming what is
    missing (no ``.meta``), what the twin does not reproduce (``state_is_tuple=False``) and the remedy."""
    if row.meta_config != META_GRID or row.spec_from_config is None:
        raise MigrationError(f"no reader of the .meta for the configuration {row.meta_config!r} of {row.kind!r}.")
    bidirectional = row.layouts[0].required[0].startswith("fwd/")
    config, forget_bias, depth = grid_cell_config_and_width(meta, cell_dir, shapes, bidirectional)
    if config.get("state_is_tuple") is False:
        raise MigrationError(f"the grid cell {cell_dir!r} has state_is_tuple=False: its TF1 state is one "
                             "concatenated tensor, the converted block's the 2 x slices tensors of the state tuple; "
                             "not converted (rebuild the program with state_is_tuple=True, the default, or keep the "
                             "legacy cell legacy_rnn.grid_lstm.GridLSTMCell).")
    sources = {key: "meta (the grid's graph: migration.checkpoint.grid_meta)" for key in row.not_in_checkpoint}
    if config["couple_input_forget_gates"]:
        sources["forget_bias"] = "unused (couple_input_forget_gates: no f gate; 1.0 kept)"
    return int(config["units"]), int(depth), None, row.spec_from_config(config, forget_bias), sources


__all__ = ["grid_options", "grid_cell_config", "grid_cell_config_and_width", "configured_spec"]
