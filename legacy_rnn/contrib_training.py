"""``tf.contrib.training.HParams`` for TensorFlow 2.21: named hyper-parameters with TF 1.15's API (attribute access,
``add_hparam``, ``set_hparam`` keeping the type, ``parse("a=1,b=x")``, ``values()``, ``override_from_dict``,
``to_json``), and ``checkpoints_iterator`` (TensorFlow's own ``tf.train.checkpoints_iterator``). Scalar values and
lists of scalars; ``parse`` reads scalars and ``[a, b]`` lists of the parameter's existing type."""
from __future__ import annotations

import json

import tensorflow as tf

checkpoints_iterator = tf.train.checkpoints_iterator
_TYPES = (bool, int, float, str)


def _cast(name: str, old, text: str):
    kind = type(old[0]) if isinstance(old, list) and old else type(old)
    if isinstance(old, list):
        items = [t.strip() for t in text.strip().strip("[]").split(";" if ";" in text else ",") if t.strip()]
        return [_cast(name, kind(), t) for t in items] if kind in _TYPES else items
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"Could not parse {text!r} as a bool for hparam {name!r}.")
        return text.lower() in ("true", "1")
    try:
        return kind(text) if kind in _TYPES else text
    except ValueError:
        raise ValueError(f"Could not parse {text!r} as {kind.__name__} for hparam {name!r}.") from None


class HParams:
    """TF 1.15 ``tf.contrib.training.HParams(**kwargs)``."""

    def __init__(self, hparam_def=None, model_structure=None, **kwargs):
        if hparam_def is not None:
            raise ValueError("HParams(hparam_def=...) (a proto) is not rebuilt; pass keyword arguments.")
        self._model_structure = model_structure
        self._hparam_types: dict[str, type] = {}
        for name, value in kwargs.items():
            self.add_hparam(name, value)

    def add_hparam(self, name: str, value) -> None:
        if getattr(self, name, None) is not None:
            raise ValueError(f"Hyperparameter name is reserved: {name}")
        self._hparam_types[name] = type(value)
        setattr(self, name, value)

    def set_hparam(self, name: str, value) -> None:
        if name not in self._hparam_types:
            raise KeyError(name)
        old = getattr(self, name)
        if old is not None and not isinstance(value, type(old)) and not (isinstance(old, float) and
                                                                         isinstance(value, int)):
            raise ValueError(f"Must pass a {type(old).__name__} for hparam {name!r}, got {type(value).__name__}.")
        setattr(self, name, float(value) if isinstance(old, float) else value)

    def del_hparam(self, name: str) -> None:
        if name in self._hparam_types:
            delattr(self, name)
            del self._hparam_types[name]

    def parse(self, values: str) -> "HParams":
        """``"lr=0.1,layers=2,cells=[4;8]"``: each value cast to the parameter's type; unknown names raise."""
        for item in filter(None, (s.strip() for s in _split(values))):
            name, sep, text = item.partition("=")
            if not sep or name.strip() not in self._hparam_types:
                raise ValueError(f"Unknown hyperparameter type for {name.strip()!r} (in {values!r}).")
            self.set_hparam(name.strip(), _cast(name.strip(), getattr(self, name.strip()), text.strip()))
        return self

    def override_from_dict(self, values_dict: dict) -> "HParams":
        for name, value in values_dict.items():
            self.set_hparam(name, value)
        return self

    def values(self) -> dict:
        return {name: getattr(self, name) for name in self._hparam_types}

    def get(self, key: str, default=None):
        return getattr(self, key) if key in self._hparam_types else default

    def to_json(self, indent=None, separators=None, sort_keys=False) -> str:
        return json.dumps(self.values(), indent=indent, separators=separators, sort_keys=sort_keys)

    def parse_json(self, values_json: str) -> "HParams":
        return self.override_from_dict(json.loads(values_json))

    def __contains__(self, key: str) -> bool:
        return key in self._hparam_types

    def __str__(self) -> str:
        return str(sorted(self.values().items()))

    __repr__ = __str__


def _split(values: str) -> list[str]:
    """Split on commas outside ``[...]``."""
    out, depth, cur = [], 0, ""
    for ch in values:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur]


__all__ = ["HParams", "checkpoints_iterator"]
