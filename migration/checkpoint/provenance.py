"""Is the ``.meta`` the graph of the program that saved the checkpoint? (issue 20: a ``.meta`` with the same variables
but another ``forget_bias`` was trusted silently.)

Nothing in a TF1 checkpoint ties its data to a graph: ``Saver.save`` writes ``P.data-*`` and ``P.index``, updates the
``checkpoint`` state file, then exports ``P.meta`` (a MetaGraphDef holding the graph, the variable collections and the
Saver's ``saver_def``). So provenance is never proven; what is checked, cheaply and from the proto only:

* **where it comes from**: the ``.meta`` saved beside the checkpoint under the same prefix counts as the program's own;
  one passed with ``--meta`` from elsewhere (another step's ``.meta``, another directory) is of unproven provenance;
* **the Saver**: the keys the ``.meta``'s Saver saves (the ``tensor_names`` of its ``SaveV2`` ops, in the scope its
  ``saver_def`` names), with their dtypes and shapes (``shape_and_slices`` for partitioned variables, else the
  variable node's ``shape``), must be exactly the checkpoint's keys, dtypes and shapes;
* **the time**: ``Saver.save`` writes ``P.meta`` right after ``P.index``; a beside ``.meta`` whose modification time is
  more than :data:`MTIME_SLACK` seconds away from the ``.index``'s was probably put there later;
* the ``saver_def``'s format version (a V1 Saver cannot have written a V2 checkpoint). The ``checkpoint`` state file
  holds only paths and times, nothing of the graph, so it is not used.

Any failed check makes the provenance *unproven*: the verdict then says "verified against a .meta of unproven
provenance", a warning names the reasons, and ``--require-provenance`` turns it into exit 2 before anything is
written. A ``.meta`` replaced beside the checkpoint by one from the same program (same Saver, same shapes) with a
plausible time cannot be told apart: that limit is stated in ``docs/security.md``.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional

from migration.checkpoint.meta import MetaGraph, load_meta
from migration.checkpoint.reader import CheckpointReader
from migration.core.errors import MigrationError

#: Seconds between the ``.index`` and the ``.meta`` of one ``Saver.save`` beyond which they look unrelated.
MTIME_SLACK = 3600.0
_SAVE_OPS = ("SaveV2", "SaveSlices", "Save")
_FORWARD = ("Identity", "ReadVariableOp", "Snapshot", "IdentityN")


@dataclasses.dataclass
class Provenance:
    meta: str
    beside: bool
    reasons: list[str]

    @property
    def proven(self) -> bool:
        return self.beside and not self.reasons

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "proven": self.proven, "beside_checkpoint": self.beside, "reasons": self.reasons}


def resolve_meta(prefix: str, meta_path: Optional[str]) -> Optional[MetaGraph]:
    """The graph to use: ``meta_path`` (``--meta``: must be a regular file) or the ``.meta`` beside ``prefix``."""
    if meta_path is None:
        return load_meta(prefix)
    if not os.path.exists(meta_path):
        raise MigrationError(f"--meta {meta_path!r} not found.")
    if not os.path.isfile(meta_path):
        raise MigrationError(f"--meta {meta_path!r} is not a regular file; pass the .meta MetaGraphDef file.")
    return MetaGraph(os.path.abspath(meta_path))


def _strings(node) -> list[str]:
    return [s.decode("utf-8", "replace") for s in node.attr["value"].tensor.string_val] if node is not None else []


def _variable_shape(nodes: dict, name: str) -> Optional[tuple[int, ...]]:
    """The declared shape of the variable a saved tensor reads (through Identity/ReadVariableOp), if found."""
    for _ in range(8):
        node = nodes.get(name.lstrip("^").split(":")[0])
        if node is None:
            return None
        if "shape" in node.attr and node.op in ("VariableV2", "VarHandleOp", "Variable"):
            return tuple(int(d.size) for d in node.attr["shape"].shape.dim)
        if node.op not in _FORWARD or not node.input:
            return None
        name = node.input[0]
    return None


def saved_tensors(meta: MetaGraph) -> Optional[dict[str, tuple[str, Optional[tuple[int, ...]]]]]:
    """``{key: (dtype, full shape or None)}`` that the ``.meta``'s Saver writes; None when it has no Saver."""
    scope = ""
    if meta.saver_def is not None and meta.saver_def.save_tensor_name:
        scope = meta.saver_def.save_tensor_name.rsplit("/", 1)[0] + "/"
    nodes = meta.main
    saves = [n for n in nodes.values() if n.op in _SAVE_OPS and n.name.startswith(scope) and len(n.input) >= 3]
    out: dict[str, tuple[str, Optional[tuple[int, ...]]]] = {}
    for node in saves:
        try:
            out.update(_saved_by(nodes, node))
        except (ValueError, TypeError, IndexError):  # a hand-edited Save node: not a Saver we can read
            continue
    return out or None


def _saved_by(nodes: dict, node) -> dict[str, tuple[str, Optional[tuple[int, ...]]]]:
    """What one ``SaveV2`` / ``SaveSlices`` / ``Save`` node writes (see :func:`saved_tensors`)."""
    import tensorflow as tf

    out = {}
    names = _strings(nodes.get(node.input[1].split(":")[0]))
    slices = _strings(nodes.get(node.input[2].split(":")[0])) if node.op != "Save" else []
    attr = node.attr["dtypes" if "dtypes" in node.attr else "T"]
    dtypes = [tf.dtypes.as_dtype(t).name for t in attr.list.type]
    tensors = [t for t in node.input[3 if node.op != "Save" else 2:] if not t.startswith("^")]
    for i, key in enumerate(names):
        spec = slices[i].split() if i < len(slices) else []
        shape = tuple(int(d) for d in spec[:-1]) if spec else (
            _variable_shape(nodes, tensors[i]) if i < len(tensors) else None)
        out[key] = (dtypes[i] if i < len(dtypes) else "?", shape)
    return out


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def meta_provenance(reader, meta: MetaGraph, *, explicit: bool) -> Provenance:
    """Check ``meta`` against the checkpoint ``reader`` reads (see the module docstring)."""
    own = reader.source_prefix + ".meta"
    beside = not explicit or _same_file(meta.path, own)
    reasons = [] if beside else [f"passed with --meta, not the .meta saved beside the checkpoint ({own!r})"]
    saved = saved_tensors(meta)
    keys = reader.variables
    if meta.saver_def is not None and meta.saver_def.version == 1 and os.path.exists(reader.source_prefix + ".index"):
        reasons.append("its Saver writes V1 checkpoints (no .index), this checkpoint is V2")
    if saved is None:
        reasons.append("it holds no Saver (no readable SaveV2 op), so its variables cannot be matched with the "
                       "checkpoint's")
    else:
        only_meta = sorted(set(saved) - set(keys))
        only_ckpt = sorted(set(keys) - set(saved))
        if only_meta:
            reasons.append(f"its Saver saves {len(only_meta)} variable(s) the checkpoint does not hold ({only_meta[:3]})")
        if only_ckpt:
            reasons.append(f"the checkpoint holds {len(only_ckpt)} variable(s) its Saver does not save "
                           f"({only_ckpt[:3]})")
        for key in sorted(set(saved) & set(keys)):
            dtype, shape = saved[key]
            info = keys[key]
            if dtype != info.dtype or (shape is not None and tuple(shape) != tuple(info.shape)):
                reasons.append(f"its Saver saves {key!r} as {dtype}{list(shape) if shape is not None else ''}, the "
                               f"checkpoint holds {info.dtype}{list(info.shape)}")
                break
    index = reader.source_prefix + ".index"
    if beside and os.path.exists(index):
        apart = abs(os.stat(meta.path).st_mtime - os.stat(index).st_mtime)
        if apart > MTIME_SLACK:
            reasons.append(f"it was written {apart / 3600:.1f} h apart from the checkpoint's .index (Saver.save "
                           "writes both within seconds)")
    return Provenance(meta.path, beside, reasons)


def check_provenance(provenance: Optional[Provenance], require: bool) -> None:
    """``--require-provenance``: refuse (exit 2) a ``.meta`` of unproven provenance, before anything is written."""
    if require and provenance is not None and not provenance.proven:
        raise MigrationError(f"Refused the graph {provenance.meta!r} (--require-provenance): "
                             f"{'; '.join(provenance.reasons)}. Put the .meta saved with this checkpoint beside it.")


def annotate(verification: Optional[dict], provenance: Optional[Provenance]) -> None:
    """Add the provenance to a verification report when it is unproven (a proven one changes nothing)."""
    if verification is None or provenance is None or provenance.proven:
        return
    verification["meta_provenance"] = provenance.to_dict()
    verification.setdefault("notes", []).append(
        f"the .meta {provenance.meta!r} is of unproven provenance ({'; '.join(provenance.reasons)}): the reference "
        "graph and its hyper-parameters come from it")


__all__ = ["MTIME_SLACK", "Provenance", "annotate", "check_meta", "check_provenance", "meta_provenance", "resolve_meta",
           "saved_tensors"]


def check_meta(checkpoint: str, meta_path: Optional[str], require: bool) -> Optional[Provenance]:
    """The provenance of the graph ``verify`` will use for ``checkpoint`` (None without a .meta); refused (exit 2)
    when unproven and ``require``."""
    reader = CheckpointReader(checkpoint)
    meta = resolve_meta(reader.prefix, meta_path)
    provenance = meta_provenance(reader, meta, explicit=meta_path is not None) if meta is not None else None
    check_provenance(provenance, require)
    return provenance
