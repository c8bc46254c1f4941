"""One row per cell family: everything rnn-migrate knows about a TF1 cell class, as data and small functions.

A :class:`Family` is what :mod:`migration.families.registry` lists and what the jobs (``inspect``, ``convert``,
``verify``, ``export``, ``upgrade``) ask instead of comparing kind strings. The builders name the classes/functions
in :mod:`legacy_rnn` / :mod:`modern_rnn` (imported on first use, so that reading a row never imports TensorFlow).
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Container, Mapping, Optional, Sequence

import numpy as np

from migration.core.specs import CellSpec

Arrays = dict[str, np.ndarray]
#: How the ``.meta`` gives a family's hyper-parameters (:mod:`migration.checkpoint.meta` implements each reader):
#: LSTM gates (the Const added to the forget block, clips, the j activation, or the fused op's attributes), the
#: LayerNormBasicLSTMCell forget add, a basic RNN's activation after its BiasAdd.
META_LSTM_GATES, META_LAYER_NORM_FORGET, META_RNN_ACTIVATION = "lstm_gates", "layer_norm_forget", "rnn_activation"
#: the reader of a cell's whole configuration (:attr:`Family.meta_config`): the GridLSTM cells'
#: (:mod:`migration.checkpoint.grid_meta`)
META_GRID = "grid_config"
#: the output targets beyond Keras 2 (``rnn-migrate convert --target``), and a row's answer for a target it does not
#: list; every answer starts with one of SUPPORT_LEVELS
EXPORT_TARGETS: tuple[str, ...] = ("keras3", "onnx")
SUPPORT_LEVELS: tuple[str, ...] = ("exact:", "exact with a custom layer:", "exact with an op set:", "not supported:")
NOT_MAPPED = "not supported: not yet mapped to this target"
#: (spec, input_size, scope) -> (positional args, keyword args) of a builder
BuilderArgs = Callable[[CellSpec, Optional[int], str], tuple[tuple, dict]]


@dataclasses.dataclass(frozen=True)
class Layout:
    """A checkpoint layout of the family: the cell directory, the variables under it (the first required one
    identifies it), renames to the names the converter reads, and hyper-parameter defaults of that directory."""

    dirname: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    defaults: Mapping[str, object] = dataclasses.field(default_factory=dict)
    #: the kind the recognizer gives the cell (a layout can be read as another family's kind: LSTMBlockCell
    #: checkpoints are LSTMCell's arrays, refined by the .meta op attributes)
    recognized_as: Optional[str] = None
    #: position in the recognizer's table (the order the rows were read in before the registry; new rows: 100+)
    order: int = 100
    #: names beyond ``required``/``optional`` the directory may hold (block-numbered names: the GridLSTM cells'
    #: ``W_f_<b>_<shard>``); None: only the listed ones
    accepts: Optional[Callable[[str], object]] = None


@dataclasses.dataclass(frozen=True)
class Builder:
    """A builder in ``legacy_rnn`` or ``modern_rnn``: ``module:function`` and how a spec becomes its arguments."""

    target: str
    args: BuilderArgs

    def __call__(self, spec: CellSpec, input_size: Optional[int] = None, scope: str = "rnn_cell"):
        module, name = self.target.split(":")
        args, kwargs = self.args(spec, input_size, scope)
        return getattr(importlib.import_module(module), name)(*args, **kwargs)


@dataclasses.dataclass(frozen=True)
class Converter:
    """The weights of one cell on both sides: names, and pure NumPy conversions both ways."""

    tf1_names: Callable[[CellSpec], tuple[str, ...]]
    keras_names: Callable[[CellSpec], tuple[str, ...]]
    to_keras: Callable[[CellSpec, Mapping[str, np.ndarray], int, float], list[np.ndarray]]
    to_tf1: Callable[[CellSpec, Sequence[np.ndarray], float], Arrays]
    tf1_shapes: Callable[[CellSpec, int], dict[str, tuple[int, ...]]]
    #: (spec, Keras weights) -> the Keras input size, for the shape check of the way back (None: the first weight's
    #: rows, a ``kernel [D, ...]``; PhasedLSTMCell's input also holds the time column)
    keras_input_size: Optional[Callable[[CellSpec, Sequence[np.ndarray]], int]] = None


@dataclasses.dataclass(frozen=True)
class Family:
    """One cell family (one TF1 cell class, with its older spellings)."""

    kind: str
    #: one line for ``inspect``/the manifest/docs
    description: str
    #: public TF1 class names (1.x), e.g. ``tf.nn.rnn_cell.BasicLSTMCell``
    tf1_classes: tuple[str, ...]
    #: the default variable directory under the RNN scope
    scope: str
    #: checkpoint layouts the recognizer reads (current names first, then older spellings)
    layouts: tuple[Layout, ...]
    #: hyper-parameter -> TF1 default
    hyper: Mapping[str, object]
    #: how each hyper-parameter that the checkpoint does not store is found: "meta: ..." / "attribute: ..." /
    #: "constant: ..."; keys are a subset of ``hyper``
    not_in_checkpoint: Mapping[str, str]
    converter: Converter
    legacy: Builder
    #: one column per output target; "keras2" today
    targets: Mapping[str, Builder]
    #: TF1 public dotted symbol -> project home (``legacy_rnn.contrib.LSTMBlockCell``)
    upgrade_homes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: class names of the cell before TF 1.2 (scopes like ``BasicLSTMCell/Linear/Matrix``)
    pre12_classes: tuple[str, ...] = ()
    lstm: bool = False
    gru: bool = False
    #: hooks where the defaults do not serve
    #: (names, shape) -> (units, input size, num_proj) from a recognized cell's variables
    dims: Optional[Callable[[Mapping[str, str], Callable[[str], tuple]], tuple[int, int, Optional[int]]]] = None
    #: a Keras cell -> its spec, for ``export`` (None: not this family's cell)
    keras_spec: Optional[Callable[[Any, float, str], Optional[CellSpec]]] = None
    #: Keras weight name -> (the TF1 variable names it is made of, how), for the manifest (``convert``); empty: the
    #: lstm/gru row's for a family with that trait, else every variable of the cell and the converter's name
    transforms: Mapping[str, tuple[tuple[str, ...], str]] = dataclasses.field(default_factory=dict)
    #: the Keras classes of the family (safe-mode loading needs them registered)
    keras_classes: tuple[str, ...] = ()
    #: the family whose layouts the checkpoint shares when it has none of its own (LSTMBlockCell: LSTMCell's)
    recognized_through: Optional[str] = None
    #: CellSpec fields beyond units/forget_bias/activation that the recognizer fills from the shapes, and the names of
    #: the kind's own :attr:`CellSpec.options` (a registered kind may take ``num_proj`` too)
    spec_options: tuple[str, ...] = ()
    #: (names, shape) -> the kind's own :attr:`CellSpec.options` read from a recognized cell's variables (NASCell:
    #: ``use_bias`` is whether a ``bias`` is stored); None: the kind has none
    read_options: Optional[Callable[[Mapping[str, str], Callable[[str], tuple]], dict]] = None
    #: TF1 names (after renames) of the family's 2-D variables that are not spelt ``*kernel`` (``W_0`` of
    #: CoupledInputForgetGateLSTMCell; the grids: a container answering ``in`` for every ``W_f_<b>_<shard>``): the
    #: recognizer checks every other name is a 1-D vector
    matrices: Container[str] = ()
    #: TF1 names of variables the cell creates but never reads (contrib LayerNormLSTMCell's ``bias`` with
    #: layer_norm): converted and exported like the others, but not looked for among the original graph's loop reads
    unread: tuple[str, ...] = ()
    #: the spec fields ``rnn-migrate inspect`` prints for a cell of the family (None/False values are left out)
    inspect_keys: tuple[str, ...] = ("activation",)
    #: which reader of the ``.meta`` finds the hyper-parameters (one of the ``META_*`` names; None: none)
    meta_reader: Optional[str] = None
    #: (meta, first variable key) -> hyper-parameters, when no op scope of the cell gave any (LSTMBlockFusedCell)
    meta_fallback: Optional[Callable[[Any, str], dict]] = None
    #: the column of the further output targets (:data:`EXPORT_TARGETS`: ``keras3``, ``onnx``; see docs/targets.md):
    #: target -> ``"exact: how"`` / ``"exact with a custom layer: which"`` / ``"not supported: why"``. A target a
    #: row does not list is :data:`NOT_MAPPED` (the safe default of a new row). The LSTMCell options a target has no
    #: twin for (peepholes, num_proj, clips) are refused per cell by :mod:`migration.targets.weights`.
    export: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: for the output targets: the Keras 2 arrays -> (``"LSTM"``/``"GRU"``/``"RNN"``, ``[kernel, recurrent_kernel,
    #: bias]``) of the standard layer computing the same step (:func:`diagonal_recurrence`); None: the arrays as they
    #: are, the layer from the row's lstm/gru trait
    standard: Optional[Callable[[CellSpec, list[np.ndarray]], tuple[str, list[np.ndarray]]]] = None
    #: for the output targets: the custom step computing this family's cell where no standard layer/op does (the
    #: class of :mod:`migration.targets.keras3_cells` and the Scan body of :mod:`migration.targets.onnx_cells` of
    #: that name, both fed the Keras 2 arrays as they are); "": standard layers (see :func:`custom_export`)
    custom_cell: str = ""
    #: spec -> (output size, TF1 state sizes, Keras state sizes) where they are not the LSTM/RNN ones (registered
    #: with the kind: :attr:`CellSpec.output_size` ... ask it); None: the defaults
    spec_sizes: Optional[Callable[[CellSpec], tuple]] = None
    #: spec -> the names of its flat TF1 state tensors (the block model's ``state/<name>`` outputs) where they are not
    #: ``c, h`` / ``h``; None: those
    state_labels: Optional[Callable[[CellSpec], tuple[str, ...]]] = None
    #: which reader of the ``.meta`` gives the cell's whole configuration when the checkpoint's shapes do not
    #: (:data:`META_GRID`); the recognizer then builds the spec with :attr:`spec_from_config` (no ``.meta``: refused)
    meta_config: Optional[str] = None
    #: (configuration, forget_bias) -> the spec, for :attr:`meta_config`
    spec_from_config: Optional[Callable[[Mapping, float], CellSpec]] = None
    #: how many tensors ``dynamic_rnn`` fed the TF1 cell as one nested input (PhasedLSTMCell: ``(time, x)``); the
    #: Keras twin reads them concatenated on the last axis, in that order (the whole model concatenates them)
    input_parts: int = 1

    def support(self, target: str) -> str:
        """This row's entry of the ``target`` column (:data:`NOT_MAPPED` when it has none)."""
        return self.export.get(target, NOT_MAPPED)

    @property
    def keras2(self) -> Builder:
        return self.targets["keras2"]

    @property
    def meta_hyper(self) -> tuple[str, ...]:
        """The hyper-parameters the recognizer looks for in the ``.meta`` (the rest have defaults or the checkpoint)."""
        return tuple(k for k, how in self.not_in_checkpoint.items() if how.startswith(("meta", "attribute")))


def refused(why: str) -> dict[str, str]:
    """The ``export`` column of a family no output target takes yet: ``not supported: why`` for each target."""
    return {target: f"not supported: {why}" for target in EXPORT_TARGETS}


def custom_export(cell: str, onnx_ops: str) -> dict[str, str]:
    """The ``export`` column of a family computed by the custom step ``cell`` (:attr:`Family.custom_cell`)."""
    return {"keras3": f"exact with a custom layer: rnn_migrate>{cell} in keras.layers.RNN (registered by "
                      "`import migration.targets.keras3_cells`; the Keras 2 arrays as they are)",
            "onnx": f"exact with an op set: a Scan whose body is the step in plain ops ({onnx_ops}; opset 17)"}


def diagonal_recurrence(op: str):
    """The ``standard`` hook of a family whose Keras recurrent weight is a vector of gate blocks (IndRNN, IndyGRU,
    IndyLSTM: ``h * u``): each block ``u`` becomes ``diag(u)``, so a standard layer's ``h @ R`` is the same product
    (the off-diagonal terms add exact zeros); ``op``: the standard layer (``"RNN"``, ``"GRU"``, ``"LSTM"``)."""
    def standard(spec: CellSpec, weights: list[np.ndarray]) -> tuple[str, list[np.ndarray]]:
        kernel, vector, bias = (np.asarray(w) for w in weights)
        blocks = [np.diag(vector[k * spec.units:(k + 1) * spec.units]) for k in range(vector.shape[0] // spec.units)]
        return op, [kernel, np.concatenate(blocks, axis=1).astype(vector.dtype), bias]
    return standard


def default_dims(kernel: str = "kernel", bias: str = "bias", blocks: int = 1):
    """units from ``bias [blocks*U]``, input size from ``kernel [D+U, blocks*U]``."""
    def dims(names: Mapping[str, str], shape: Callable[[str], tuple]) -> tuple[int, int, Optional[int]]:
        units = shape(bias)[0] // blocks
        return units, shape(kernel)[0] - units, None
    return dims


def keras_spec_hook(kind: str, keras_class: str, with_forget_bias: bool = False):
    """The export hook (``Family.keras_spec``) of a family whose Keras twin is one custom class ``module:Class``
    holding ``units`` and ``activation`` (and forget_bias: the TF1 cell's, ``--forget-bias``, when it has one)."""
    def hook(cell: Any, forget_bias: float, where: str) -> Optional[CellSpec]:
        module, name = keras_class.split(":")
        if not isinstance(cell, getattr(importlib.import_module(module), name)):
            return None
        activation = cell.get_config().get("activation", "tanh")
        activation = activation if isinstance(activation, str) else activation["config"]["name"]
        extra = {"forget_bias": forget_bias} if with_forget_bias else {}
        return CellSpec(kind, cell.units, activation=activation, **extra)
    return hook


def act_or_none(spec: CellSpec) -> Optional[str]:
    """TF1 builders take ``activation=None`` for tanh."""
    return None if spec.activation == "tanh" else spec.activation
