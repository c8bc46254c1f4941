"""Property-based tests of the manifest reader: random bytes, random JSON and mutated real-looking manifests give a
valid manifest or a MigrationError naming the file, never another exception (which the CLI would turn into exit 3)."""
from __future__ import annotations

import copy
import json
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from migration.checkpoint.manifest import MANIFEST, read_manifest
from migration.core.errors import MigrationError

SETTINGS = settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = {
    "format": "rnn-migrate/checkpoint-conversion", "version": 1, "checkpoint": "/data/model.ckpt",
    "blocks": [{"name": "rnn", "scope": "rnn", "file": "blocks/rnn.keras", "input_size": 5, "layers": 1,
                "outputs": ["outputs", "state/c", "state/h"],
                "cells": [{"direction": "", "layer": 0, "input_size": 5, "spec": {"kind": "basic_lstm", "units": 6},
                           "weights": [{"keras": "kernel", "shape": [5, 24], "slots": {"m": "optimizer/m/rnn/rnn0_0.npy"}}]}]}],
    "embeddings": [{"name": "embedding", "source": "checkpoint", "file": "embeddings/embedding.npy", "shape": [20, 5],
                    "partitions": None, "strategy": None}],
    "dense": [{"name": "dense", "kernel": "dense/kernel", "bias": "dense/bias", "shape": [6, 2],
               "kernel_file": "dense/dense/kernel.npy", "bias_file": "dense/dense/bias.npy"}],
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def out_dir():
    with tempfile.TemporaryDirectory() as d:
        yield d


def _read(out_dir: str, raw: bytes):
    with open(os.path.join(out_dir, MANIFEST), "wb") as f:
        f.write(raw)
    try:
        return read_manifest(out_dir)
    except MigrationError as exc:
        assert MANIFEST in str(exc) or out_dir in str(exc)
        return None


def test_the_valid_manifest_is_accepted(out_dir):
    assert _read(out_dir, json.dumps(VALID).encode()) == VALID


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(out_dir, raw):
    _read(out_dir, raw)


@SETTINGS
@given(json_values)
def test_random_json(out_dir, value):
    _read(out_dir, json.dumps(value).encode())


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(VALID) if p]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values | st.sampled_from(
    ["/etc/passwd", "../x.keras", "", -1, 0, [-3, 2], "blocks/../../x"])), min_size=1, max_size=3))
def test_mutated_manifests(out_dir, mutations):
    manifest = copy.deepcopy(VALID)
    for path, value in mutations:
        node = manifest
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = copy.deepcopy(value)  # a sampled list inserted twice must not become circular
        except (KeyError, IndexError, TypeError):
            continue
    result = _read(out_dir, json.dumps(manifest).encode())
    if result is not None:  # accepted: then every reader's assumption holds
        for block in result["blocks"]:
            assert isinstance(block["file"], str) and not os.path.isabs(block["file"])
            assert isinstance(block["input_size"], int) and block["input_size"] >= 1
        for emb in result["embeddings"]:
            assert all(isinstance(d, int) and d >= 0 for d in emb["shape"])


@pytest.mark.parametrize("text, pattern", [
    ("[]", "not an rnn-migrate conversion manifest"),
    ('{"format": "rnn-migrate/checkpoint-conversion", "version": 1}', "'blocks' is a required property"),
    ("deeply", "Cannot parse"),
])
def test_hostile_examples(out_dir, text, pattern):
    raw = ("[" * 100000 + "]" * 100000) if text == "deeply" else text
    with open(os.path.join(out_dir, MANIFEST), "w") as f:
        f.write(raw)
    with pytest.raises(MigrationError, match=pattern if text != "deeply" else "Cannot parse|not an rnn-migrate"):
        read_manifest(out_dir)
