"""What a ``.keras`` archive may name before Keras sees it: bounded JSON, allowlisted modules, classes and packages.

Keras' ``safe_mode`` refuses ``lambda`` objects only: a config's ``"module"`` key is still handed to
``importlib.import_module``, so a model could import (and run the top level of) any module on ``sys.path``. Here the
whole ``config.json`` is checked first, every dictionary at any depth (layers, nested layers and cells, activations,
initializers, regularizers, constraints, losses, optimizers, metrics):

* ``module``: ``None`` or a dotted name under :data:`ALLOWED_MODULE_ROOTS` (``tf_keras``, ``keras``, ``modern_rnn``);
* ``class_name``, ``spec_name``: a plain (optionally one-dot qualified) identifier, never ``Lambda``/``__lambda__``;
* ``registered_name``: ``None``, a plain identifier, or ``PACKAGE>Name`` with ``PACKAGE`` under ``modern_rnn`` (the
  project's registered custom layers);
* no serialized Python function (``function_type: lambda`` or a ``code`` + ``defaults`` pair).

The JSON itself is bounded before it is parsed: at most :data:`MAX_CONFIG_BYTES` bytes and :data:`MAX_DEPTH` levels
of nesting (a deeply nested config would otherwise end in a ``RecursionError`` inside ``json.loads`` or Keras).
The archive may hold only :data:`ARCHIVE_MEMBERS` (no ``assets/``, which Keras extracts to disk; no ``.npz`` weights).
"""
from __future__ import annotations

import json
import re
import zipfile
from typing import Any, Iterator

import numpy as np

from migration.core.errors import MigrationError

ALLOWED_MODULE_ROOTS = ("tf_keras", "keras", "modern_rnn")
ALLOWED_PACKAGE_ROOTS = ("modern_rnn",)
CODE_CLASSES = frozenset({"Lambda", "__lambda__"})
MAX_CONFIG_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100
#: What a tf_keras ``model.save('x.keras')`` writes; anything else is refused.
ARCHIVE_MEMBERS = frozenset({"config.json", "metadata.json", "model.weights.h5"})
WEIGHTS_MEMBER = "model.weights.h5"

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"^{_IDENT}(\.{_IDENT})*$")
_CLASS = re.compile(rf"^{_IDENT}(\.{_IDENT})?$")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text (string contents ignored), without recursion."""
    skeleton = _STRINGS.sub(b"", raw)
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    steps = np.zeros(len(codes), dtype=np.int64)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max()) if len(steps) else 0


def parse_bounded_json(raw: bytes, where: str) -> Any:
    """``json.loads(raw)`` after the size and depth bounds; :class:`MigrationError` naming ``where`` otherwise."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise MigrationError(f"{where} is over {MAX_CONFIG_BYTES >> 20} MiB; refusing to parse it. A Keras model "
                             "config is a few kilobytes to megabytes: re-save the model with model.save('model.keras').")
    depth = json_depth(raw)
    if depth > MAX_DEPTH:
        raise MigrationError(f"{where} is nested {depth} levels deep (the limit is {MAX_DEPTH}); refusing to parse it. "
                             "A Keras model config is a few dozen levels deep: the file is damaged or hostile.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MigrationError(f"{where} is not valid JSON ({str(exc)[:200]}).") from None


def _module_allowed(module: str) -> bool:
    return bool(_DOTTED.match(module)) and module.split(".")[0] in ALLOWED_MODULE_ROOTS


def _registered_allowed(name: str) -> bool:
    if ">" not in name:
        return bool(_CLASS.match(name))
    package, _, short = name.partition(">")
    return bool(_DOTTED.match(package)) and package.split(".")[0] in ALLOWED_PACKAGE_ROOTS and bool(_CLASS.match(short))


def _walk(node: Any, where: str, depth: int = 0) -> Iterator[tuple[str, dict]]:
    """Every dictionary of the config with its path (``layers[2]/config/cell/config``), depth-bounded."""
    if depth > MAX_DEPTH:
        raise MigrationError(f"config nested over {MAX_DEPTH} levels at {where}")
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}" if where else str(key), depth + 1)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}[{i}]", depth + 1)


def config_violation(config: Any) -> str | None:
    """A one-line description (key path, key, value) of the first forbidden name in a Keras config, else None."""
    for where, node in _walk(config, ""):
        at = where or "config"
        module = node.get("module")
        if "module" in node and module is not None and not (isinstance(module, str) and _module_allowed(module)):
            return (f"{at}/module = {module!r}: only modules under {', '.join(ALLOWED_MODULE_ROOTS)} may be named "
                    "(Keras would import this module, running its code)")
        for key in ("class_name", "spec_name"):
            value = node.get(key)
            if key not in node or value is None:
                continue
            if not isinstance(value, str) or not _CLASS.match(value):
                return f"{at}/{key} = {value!r}: not a class name"
            if value in CODE_CLASSES:
                name = node.get("config", {}).get("name") if isinstance(node.get("config"), dict) else None
                return f"{at}/{key} = {value!r}{f' (layer {name!r})' if name else ''}: a Lambda holds Python code"
        registered = node.get("registered_name")
        if registered is not None and not (isinstance(registered, str) and _registered_allowed(registered)):
            return (f"{at}/registered_name = {registered!r}: only Keras names and packages under "
                    f"{', '.join(ALLOWED_PACKAGE_ROOTS)} may be named")
        if node.get("function_type") == "lambda" or ("code" in node and "defaults" in node):
            return f"{at}: a serialized Python function"
    return None


def read_archive_config(path: str) -> Any:
    """The parsed ``config.json`` of the ``.keras`` zip at ``path`` (members and JSON bounded); no check of names."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if "config.json" not in names:
                raise MigrationError(f"{path!r} is not a Keras v3 archive (no config.json inside); save the model "
                                     "with model.save('model.keras').")
            extra = sorted(set(names) - ARCHIVE_MEMBERS) or sorted(n for n in set(names) if names.count(n) > 1)
            if extra:
                raise MigrationError(
                    f"Refused {path!r}: the archive holds {extra[:3]}; a tf_keras model archive holds only "
                    f"{sorted(ARCHIVE_MEMBERS)} (rnn-migrate loads no assets and no .npz weights). Re-save the model "
                    "with model.save('model.keras').")
            with archive.open("config.json") as f:
                raw = f.read(MAX_CONFIG_BYTES + 1)
    except zipfile.BadZipFile:
        raise MigrationError(f"{path!r} is not a .keras archive (not a zip file); save the model with "
                             "model.save('model.keras').") from None
    except OSError as exc:
        raise MigrationError(f"Cannot read Keras model {path!r}: {exc.strerror or exc}.") from None
    return parse_bounded_json(raw, f"{path!r}: config.json")


def check_config(config: Any, path: str) -> None:
    """:class:`MigrationError` naming the key and the value when ``config`` names anything outside the allowlists."""
    found = config_violation(config)
    if found:
        raise MigrationError(
            f"Refused {path!r}: {found}. rnn-migrate loads models made of tf_keras layers and the modern_rnn cells "
            "only, so that loading runs no code from the file. Rebuild the model from those layers and save again.")
