"""``tf.contrib.tensorboard.plugins.projector`` for TensorFlow 2.21 without the ``tensorboard`` package: the
embedding projector's configuration, written as the ``projector_config.pbtxt`` TensorBoard reads (protobuf text
format, the fields of ``ProjectorConfig`` / ``EmbeddingInfo`` / ``SpriteMetadata``)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

FILENAME = "projector_config.pbtxt"


@dataclass
class SpriteMetadata:
    image_path: str = ""
    single_image_dim: list[int] = field(default_factory=list)


@dataclass
class EmbeddingInfo:
    tensor_name: str = ""
    metadata_path: str = ""
    bookmarks_path: str = ""
    tensor_shape: list[int] = field(default_factory=list)
    sprite: SpriteMetadata = field(default_factory=SpriteMetadata)
    tensor_path: str = ""


class _Embeddings(list):
    def add(self) -> EmbeddingInfo:
        info = EmbeddingInfo()
        self.append(info)
        return info


@dataclass
class ProjectorConfig:
    model_checkpoint_path: str = ""
    embeddings: _Embeddings = field(default_factory=_Embeddings)
    model_checkpoint_dir: str = ""


def _text(obj, indent: str = "") -> list[str]:
    out = []
    for name, value in vars(obj).items():
        if isinstance(value, list) and value and not isinstance(value[0], (int, str)):
            for item in value:
                out += [f"{indent}{name} {{", *_text(item, indent + "  "), f"{indent}}}"]
        elif isinstance(value, list):
            out += [f"{indent}{name}: {v}" for v in value]
        elif isinstance(value, SpriteMetadata):
            inner = _text(value, indent + "  ")
            out += [f"{indent}{name} {{", *inner, f"{indent}}}"] if inner else []
        elif value:
            out.append(f"{indent}{name}: {json.dumps(value)}")
    return out


def visualize_embeddings(summary_writer, config: ProjectorConfig) -> None:
    """Write ``projector_config.pbtxt`` into the writer's log directory (a ``FileWriter`` or a directory path)."""
    logdir = summary_writer.get_logdir() if hasattr(summary_writer, "get_logdir") else os.fspath(summary_writer)
    os.makedirs(logdir, exist_ok=True)
    with open(os.path.join(logdir, FILENAME), "w", encoding="utf-8") as fh:
        fh.write("\n".join(_text(config)) + "\n")


__all__ = ["ProjectorConfig", "EmbeddingInfo", "SpriteMetadata", "visualize_embeddings"]
