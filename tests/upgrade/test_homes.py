"""Every home the upgrade table writes exists: the family rows' homes in legacy_rnn import and are what TF 1.15 named,
the deep TF 1.x paths map to modules that exist, and the private modules left as written still ship with TF 2.21."""
from __future__ import annotations

import importlib

import pytest

import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from migration.families import PARTIAL_MODULES, upgrade_homes
from migration.upgrade import homes, symbols

HOMES = upgrade_homes()


def resolve(dotted: str):
    """Import the longest importable module prefix of ``dotted``, then walk the attributes; raise if any is missing."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ModuleNotFoundError:
            continue
        for attr in parts[n:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("tf1, home", sorted(HOMES.items()))
def test_every_family_home_imports(tf1, home):
    obj = resolve(home)
    assert obj is not None
    if home.startswith("legacy_rnn.") and tf1.rsplit(".", 1)[-1][:1].isupper() and tf1.count(".") > 2:
        assert isinstance(obj, type), f"{tf1} is a class in TF 1.15; its home {home} is not"


def test_resolve_can_fail():
    with pytest.raises((ModuleNotFoundError, AttributeError)):
        resolve("legacy_rnn.contrib_rnn.NoSuchCell")
    with pytest.raises((ModuleNotFoundError, AttributeError)):
        resolve("legacy_rnn.seq2seq.BeamSearchDecoderV2")  # a TF 1.15 module-level name not rebuilt


def test_module_homes_list_exactly_what_they_export():
    for tf1, home in HOMES.items():
        if tf1.count(".") != 2 or tf1 in PARTIAL_MODULES:
            continue
        module = importlib.import_module(home)
        listed = {k.rsplit(".", 1)[1] for k, v in HOMES.items() if k.startswith(tf1 + ".") and v.startswith(home + ".")}
        exported = set(getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")])
        assert listed <= exported, (tf1, listed - exported)


@pytest.mark.parametrize("rel", sorted(set(symbols.TABLE) | set(homes.PRIVATE_MODULES) | {
    "contrib.rnn.LSTMBlockCell", "contrib.crf.crf_decode", "contrib.layers.batch_norm", "contrib.learn.ModeKeys",
    "contrib.framework.nest.flatten", "contrib.seq2seq.python.ops.attention_wrapper.AttentionWrapper",
    "profiler.ProfileOptionBuilder.float_operation", "python.ops.rnn.bidirectional_dynamic_rnn",
    "contrib.summary.create_file_writer"}))
def test_every_home_upgrade_writes_exists(rel):
    import tensorflow as tf

    home = homes.new_home(rel)
    if home is None:
        return
    if homes.is_absolute(home):
        resolve(home)
    else:
        obj = tf
        for part in home.split("."):
            obj = getattr(obj, part)


@pytest.mark.parametrize("module", sorted(homes.KEPT_PRIVATE))
def test_private_modules_left_as_written_still_ship(module):
    importlib.import_module("tensorflow." + module)


@pytest.mark.parametrize("rel", ["contrib.seq2seq.BasicDecoderV2", "contrib.seq2seq.BeamSearchDecoderV2",
                                 "contrib.rnn.NTMCell", "contrib.rnn.CompiledWrapper",
                                 "python.ops.rnn_cell_impl._linear", "contrib.learn.preprocessing",
                                 "contrib.layers.embed_sequence"])
def test_not_rebuilt_names_have_no_home(rel):
    """Negative control: what legacy_rnn does not rebuild is never written as a home (upgrade leaves it, manual)."""
    assert homes.new_home(rel) is None
