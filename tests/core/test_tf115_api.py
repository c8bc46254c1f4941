"""The TF 1.15 public API of tf.contrib.rnn / seq2seq / legacy_seq2seq / crf (tests/core/tf115_api.json, extracted by
hand from the 1.15 sources) against what ``rnn-migrate upgrade`` sends a TF1 program to (the family rows' and
namespaces' homes): every name exists there with 1.15's parameter names and defaults, or is listed in the data's
``not_yet`` (a ratchet: a name that exists must leave the list, and the list may not grow past the ceilings below).
"""
from __future__ import annotations

import importlib
import inspect
import json
import pathlib

import pytest

import legacy_rnn  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from migration.families import upgrade_homes

DATA = json.loads((pathlib.Path(__file__).parent / "tf115_api.json").read_text())
MODULES = sorted(DATA["modules"])
HOMES = upgrade_homes()
#: Ratchet ceilings: how many names / signatures may still be missing. Lower them when you implement one; never raise.
NOT_YET_CEILING = {"tf.contrib.rnn": 0, "tf.contrib.seq2seq": 0, "tf.contrib.legacy_seq2seq": 0, "tf.contrib.crf": 0}
SIGNATURE_NOT_YET_CEILING = 3


def _resolve(module: str, name: str):
    home = HOMES.get(f"{module}.{name}")
    if home is None and module in HOMES:
        home = f"{HOMES[module]}.{name}"
    if home is None:
        return None
    path, attr = home.rsplit(".", 1)
    try:
        return getattr(importlib.import_module(path), attr)
    except (ImportError, AttributeError):
        return None


def _params(obj) -> list[dict]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    out = []
    for i, p in enumerate(inspect.signature(target).parameters.values()):
        if (inspect.isclass(obj) and i == 0) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out.append({"name": p.name} if p.default is p.empty else {"name": p.name, "default": _encode(p.default)})
    return out


def _encode(default):
    if callable(default) and not isinstance(default, type):
        return {"callable": getattr(default, "__name__", repr(default))}
    if hasattr(default, "as_numpy_dtype"):
        return {"dtype": default.name}
    return default


def _mismatch(spec: dict, obj) -> str:
    """'' when ``obj`` has what ``spec`` records, else a readable difference."""
    if "fields" in spec:
        fields = list(getattr(obj, "_fields", ()))
        return "" if fields == spec["fields"] else f"fields {fields} != 1.15 {spec['fields']}"
    if spec.get("abstract"):
        return "" if inspect.isclass(obj) else f"{obj!r} is not a class"
    if "params" not in spec:
        return ""
    got = _params(obj)
    return "" if got == spec["params"] else f"parameters {got} != 1.15 {spec['params']}"


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_exists_or_is_not_yet(module: str) -> None:
    not_yet = set(DATA["not_yet"].get(module, []))
    assert not_yet <= set(DATA["modules"][module]), f"not_yet names that 1.15 did not have: {not_yet}"
    missing = sorted(n for n in DATA["modules"][module] if n not in not_yet and _resolve(module, n) is None)
    assert not missing, f"{module}: {missing} have no home; rebuild them or (only if new to the data) list them"
    done = sorted(n for n in not_yet if _resolve(module, n) is not None)
    assert not done, f"{module}: {done} now exist: remove them from not_yet in tf115_api.json (it only shrinks)"
    assert len(not_yet) <= NOT_YET_CEILING[module], "the not_yet list only shrinks: implement, do not add"


@pytest.mark.parametrize("module", MODULES)
def test_signatures_match_tf_1_15(module: str) -> None:
    waived = DATA.get("signature_not_yet", {})
    bad, fixed = {}, []
    for name, spec in DATA["modules"][module].items():
        obj = _resolve(module, name)
        if obj is None:
            continue
        diff = _mismatch(spec, obj)
        key = f"{module}.{name}"
        if diff and key not in waived:
            bad[name] = diff
        if not diff and key in waived:
            fixed.append(key)
    assert not bad, "\n".join(f"{module}.{n}: {d}" for n, d in bad.items())
    assert not fixed, f"{fixed} now match: remove them from signature_not_yet (it only shrinks)"
    assert len(waived) <= SIGNATURE_NOT_YET_CEILING


def test_the_checker_catches_a_wrong_signature() -> None:
    """Negative control: a renamed parameter, a changed default and a missing name are all reported."""
    spec = DATA["modules"]["tf.contrib.crf"]["crf_log_likelihood"]

    def renamed(inputs, tag_indices, lengths, transition_params=None):
        return None

    def other_default(inputs, tag_indices, sequence_lengths, transition_params=0):
        return None

    assert _mismatch(spec, renamed) and _mismatch(spec, other_default)
    assert not _mismatch(spec, legacy_rnn.crf_log_likelihood)
    assert _resolve("tf.contrib.seq2seq", "NoSuchHelper") is None
