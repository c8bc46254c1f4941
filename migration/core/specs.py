"""What a recurrent cell is, independent of the framework that runs it.

A :class:`CellSpec` names a TF1 cell kind and the hyper-parameters that matter for its weights and its maths. Both
``legacy_rnn`` and ``modern_rnn`` build cells from it, the converters read it, and the checkpoint tools infer it from
variable names and shapes.

==============  ==================================  ===========================================  ====================
``kind``        TF1 construct                       TF1 variables under the cell scope           Keras 2 twin
==============  ==================================  ===========================================  ====================
``handwritten`` ``get_variable('W'), ('b')`` cell   ``W [D+U, U]``, ``b [U]``                     ``SimpleRNNCell``
``basic_rnn``   ``BasicRNNCell``                    ``kernel [D+U, U]``, ``bias [U]``            ``SimpleRNNCell``
``basic_lstm``  ``BasicLSTMCell``                   ``kernel [D+U, 4U]``, ``bias [4U]``          ``LSTMCell``
``lstm``        ``LSTMCell`` (peepholes, num_proj,  ``kernel [D+R, 4U]``, ``bias [4U]``,         ``LSTMCell``, or
                cell_clip, proj_clip)               ``w_{f,i,o}_diag [U]``,                      ``modern_rnn``'s
                                                    ``projection/kernel [U, P]``; R = P or U     ``ProjectionLSTMCell``
``gru``         ``GRUCell``                         ``gates/kernel [D+U, 2U]``, ``gates/bias``,  ``GRUCell(reset_after
                                                    ``candidate/kernel [D+U, U]``, ``/bias``     =False)``
``lstm_block``  ``tf.contrib.rnn.LSTMBlockCell``     as ``lstm`` (no projection); forget_bias,     as ``lstm``
                (kernel ``tf.raw_ops.LSTMBlockCell``) cell_clip, use_peephole are op attributes
``lstm_block_   ``LSTMBlockFusedCell`` (time-major,  ``lstm_fused_cell/{kernel,bias}``,          as ``lstm``
fused``         ``tf.raw_ops.BlockLSTM``)            optional ``w_{i,f,o}_diag``
``gru_block``   ``GRUBlockCell`` (v1 names)          ``w_ru [D+U, 2U]``, ``b_ru``, ``w_c``, ``b_c``  as ``gru``
``gru_block_v2`` ``GRUBlockCellV2``                  the ``GRUCell`` names                         as ``gru``
``layer_norm_   ``LayerNormBasicLSTMCell``           ``kernel [D+U, 4U]`` (no bias), ``{input,     ``modern_rnn``'s
lstm``                                               transform,forget,output,state}/{gamma,beta}`` ``LayerNormLSTMCell``
``cudnn_compat  ``CudnnCompatibleLSTMCell``          ``cudnn_compatible_lstm_cell/{kernel,bias}``  ``LSTMCell``
ible_lstm``     (forget_bias fixed to 0)
``cudnn_compat  ``CudnnCompatibleGRUCell``           ``gates/*``, ``candidate/{input,hidden}_       ``GRUCell(reset_
ible_gru``                                           projection/{kernel,bias}``                    after=True)``
==============  ==================================  ===========================================  ====================

The ``tf.contrib`` kinds live in :mod:`legacy_rnn.contrib` / :mod:`modern_rnn.contrib`; their converters in
:mod:`migration.contrib_converters`; the cuDNN ones in :mod:`legacy_rnn.cudnn` / :mod:`modern_rnn.cudnn` and
:mod:`migration.cudnn_converters`.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Literal, Optional

CellKind = Literal["handwritten", "basic_rnn", "basic_lstm", "lstm", "gru", "lstm_block", "lstm_block_fused",
                   "gru_block", "gru_block_v2", "cudnn_compatible_lstm", "cudnn_compatible_gru",
                   "layer_norm_lstm"]
CELL_KINDS: tuple[str, ...] = ("handwritten", "basic_rnn", "basic_lstm", "lstm", "gru",
                               "lstm_block", "lstm_block_fused", "gru_block", "gru_block_v2",
                               "cudnn_compatible_lstm", "cudnn_compatible_gru", "layer_norm_lstm")
LSTM_KINDS: tuple[str, ...] = ("basic_lstm", "lstm", "lstm_block", "lstm_block_fused", "cudnn_compatible_lstm",
                               "layer_norm_lstm")
#: LSTM kinds that take use_peepholes / cell_clip (only ``lstm`` also takes num_proj / proj_clip).
PEEPHOLE_LSTM_KINDS: tuple[str, ...] = ("lstm", "lstm_block", "lstm_block_fused")
GRU_KINDS: tuple[str, ...] = ("gru", "gru_block", "gru_block_v2", "cudnn_compatible_gru")
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid", "linear", "softsign", "elu")

#: Kinds added above the core by :mod:`migration.families` rows (kind -> traits: ``lstm``, ``gru``, ``options``:
#: the CellSpec fields beyond units/forget_bias/activation that the kind accepts). The stock kinds above are the
#: vocabulary ``legacy_rnn``/``modern_rnn`` share; a new family registers its kind here through its row.
EXTRA_KINDS: dict[str, dict[str, object]] = {}


def register_kind(kind: str, scope: str, *, lstm: bool = False, gru: bool = False,
                  options: tuple[str, ...] = (), sizes: Optional[Callable[["CellSpec"], tuple]] = None) -> None:
    """Make ``kind`` a valid :class:`CellSpec` kind (called by the family registry for kinds the core does not list);
    ``options``: ``"num_proj"`` (``"use_peepholes"``, ``"cell_clip"``) and the names the kind may carry in
    :attr:`CellSpec.options`; ``sizes``: spec -> (output size, TF1 state sizes, Keras state sizes) of a kind whose
    sizes are not the LSTM/RNN ones (the GridLSTM cells: ``2 U`` per frequency slice, two state tensors per slice)."""
    if kind in CELL_KINDS:
        return
    EXTRA_KINDS[kind] = {"lstm": lstm, "gru": gru, "options": tuple(options), "sizes": sizes}
    TF1_CELL_SCOPES[kind] = scope

# Default scope name of each TF1 cell class (the directory under the RNN scope in a checkpoint).
TF1_CELL_SCOPES: dict[str, str] = {
    "handwritten": "rnn_cell",
    "basic_rnn": "basic_rnn_cell",
    "basic_lstm": "basic_lstm_cell",
    "lstm": "lstm_cell",
    "gru": "gru_cell",
    "lstm_block": "lstm_cell",
    "lstm_block_fused": "lstm_fused_cell",
    "gru_block": "gru_cell",
    "gru_block_v2": "gru_cell",
    "cudnn_compatible_lstm": "cudnn_compatible_lstm_cell",
    "cudnn_compatible_gru": "cudnn_compatible_gru_cell",
    "layer_norm_lstm": "layer_norm_basic_lstm_cell",
}


@dataclasses.dataclass(frozen=True)
class CellSpec:
    """One recurrent cell, as TF1 defined it.

    Attributes:
        kind: one of :data:`CELL_KINDS`.
        units: number of units U (the cell state size).
        forget_bias: added to the forget gate pre-activation at run time by TF1 LSTM cells; **not stored in the
            checkpoint**. Keras has no such term, so the converters fold it into the forget-gate bias.
        use_peepholes, num_proj, cell_clip, proj_clip: ``LSTMCell`` options (``kind='lstm'`` only).
        activation: the cell's activation (TF1 default tanh).
        options: ``(name, value)`` pairs of a registered kind's own hyper-parameters (NASCell's ``use_bias``,
            GLSTMCell's ``number_of_groups``); each name must be among the kind's registered options.
    """

    kind: str
    units: int
    forget_bias: float = 1.0
    use_peepholes: bool = False
    num_proj: Optional[int] = None
    cell_clip: Optional[float] = None
    proj_clip: Optional[float] = None
    activation: str = "tanh"
    options: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in CELL_KINDS and self.kind not in EXTRA_KINDS:
            from migration.core.errors import UnknownCellError

            raise UnknownCellError(
                f"Received an invalid value for `kind`: expected one of {CELL_KINDS + tuple(EXTRA_KINDS)}, "
                f"got {self.kind!r}."
            )
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units <= 0:
            raise ValueError(f"Received an invalid value for `units`: expected a positive integer, got {self.units!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"Received an invalid value for `activation`: expected one of {ACTIVATIONS}, got {self.activation!r}.")
        lstm_only = {"use_peepholes": self.use_peepholes, "num_proj": self.num_proj,
                     "cell_clip": self.cell_clip, "proj_clip": self.proj_clip}
        if self.kind in PEEPHOLE_LSTM_KINDS and self.kind != "lstm":
            lstm_only = {"num_proj": self.num_proj, "proj_clip": self.proj_clip}
        allowed = EXTRA_KINDS.get(self.kind, {}).get("options", ())
        for name in allowed:  # a registered kind with a projection (NASCell, GLSTMCell), peepholes, a clip (grids)
            lstm_only.pop(name, None)
        unknown = [name for name, _ in self.options if name not in allowed or name in lstm_only]
        if unknown:
            raise ValueError(f"Received invalid `options` {unknown} for kind={self.kind!r}; it takes {list(allowed)}.")
        if self.kind != "lstm":
            for name, value in lstm_only.items():
                if value not in (None, False):
                    raise ValueError(
                        f"Received an invalid value for `{name}`: {value!r} is an LSTMCell option, but kind={self.kind!r}."
                    )
        if self.kind == "cudnn_compatible_lstm" and self.forget_bias != 0.0:
            raise ValueError(f"Received an invalid value for `forget_bias`: CudnnCompatibleLSTMCell fixes it to 0 (cuDNN "
                             f"has none), got {self.forget_bias!r}. Pass forget_bias=0.0.")
        if self.num_proj is not None and (isinstance(self.num_proj, bool) or not isinstance(self.num_proj, int) or self.num_proj <= 0):
            raise ValueError(f"Received an invalid value for `num_proj`: expected a positive integer or None, got {self.num_proj!r}.")
        for name in ("cell_clip", "proj_clip"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"Received an invalid value for `{name}`: expected a positive number or None, got {value!r}.")
        if self.proj_clip is not None and self.num_proj is None:
            raise ValueError("Received an invalid value for `proj_clip`: it needs `num_proj` (TF1 ignores it otherwise).")

    @property
    def is_lstm(self) -> bool:
        return self.kind in LSTM_KINDS or bool(EXTRA_KINDS.get(self.kind, {}).get("lstm"))

    @property
    def needs_custom_keras_cell(self) -> bool:
        """True when no stock tf_keras cell computes the same thing (peepholes, projection or clipping)."""
        return self.kind in PEEPHOLE_LSTM_KINDS and (
            self.use_peepholes or self.num_proj is not None or self.cell_clip is not None)

    @property
    def is_gru(self) -> bool:
        return self.kind in GRU_KINDS or bool(EXTRA_KINDS.get(self.kind, {}).get("gru"))

    def _sizes(self) -> Optional[tuple]:
        sizes = EXTRA_KINDS.get(self.kind, {}).get("sizes")
        return sizes(self) if sizes is not None else None  # type: ignore[operator]

    @property
    def output_size(self) -> int:
        """Size of the cell output (and of the recurrent input): P for a projection LSTM, else U (a registered
        kind's ``sizes`` hook first)."""
        sizes = self._sizes()
        if sizes is not None:
            return sizes[0]
        return self.num_proj if self.num_proj is not None else self.units

    @property
    def tf1_state_sizes(self) -> tuple[int, ...]:
        """TF1 state structure sizes: ``(c, h)`` (``(c, m)`` with projection) for LSTMs, ``(h,)`` otherwise."""
        sizes = self._sizes()
        if sizes is not None:
            return tuple(sizes[1])
        return (self.units, self.output_size) if self.is_lstm else (self.units,)

    @property
    def keras_state_sizes(self) -> tuple[int, ...]:
        """Keras state order: ``[h, c]`` for LSTMs (``[m, c]`` with projection), ``[h]`` otherwise."""
        sizes = self._sizes()
        if sizes is not None:
            return tuple(sizes[2])
        return (self.output_size, self.units) if self.is_lstm else (self.units,)

    @property
    def tf1_scope(self) -> str:
        return TF1_CELL_SCOPES[self.kind]

    def option(self, name: str, default: object = None) -> object:
        """The value of one of :attr:`options` (``default`` when the spec does not set it)."""
        return dict(self.options).get(name, default)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("options")
        if self.options:  # only the kinds that have some: every other manifest keeps its exact spec dict
            out["options"] = dict(self.options)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "CellSpec":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"Received unknown CellSpec fields {sorted(unknown)}; expected a subset of {sorted(fields)}.")
        data = dict(data)
        if isinstance(data.get("options"), dict):  # JSON lists (a grid's blocks) back to tuples: hashable, equal
            data["options"] = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                           for k, v in data["options"].items()))
        return cls(**data)
