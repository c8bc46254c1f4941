"""Variables that parameter-server-era training leaves in a checkpoint and that a Keras model has no use for.

``SyncReplicasOptimizer``, ``MonitoredTrainingSession`` / Estimator input pipelines and ``replica_device_setter``
jobs save counters that describe the *training run*, not the model. They are recognized here (so ``inspect`` and
the manifest name each one and what wrote it), and not migrated: ``tf.distribute`` keeps its own step counters
(``optimizer.iterations`` comes from ``global_step``, which :mod:`migration.checkpoint.recognize` handles).

=====================================  ===========  ============================================================
variable (any scope prefix, ``_N``)    dtype/shape  written by (TF 1.15 source)
=====================================  ===========  ============================================================
``sync_rep_local_step``                int scalar   ``SyncReplicasOptimizer.apply_gradients`` (the worker's copy
                                                    of the global step, a LOCAL variable a full Saver keeps)
``<queue>/limit_epochs/epochs``        int scalar   ``tf.train.limit_epochs`` under ``string_input_producer`` /
                                                    ``input_producer`` / ``slice_input_producer`` (num_epochs)
``local_step``                         int scalar   ``SyncReplicasOptimizerV2`` and hand-written PS loops
``global_step/...`` (not the counter)  int scalar   ``MonitoredTrainingSession`` step-counter hooks
=====================================  ===========  ============================================================
"""
from __future__ import annotations

import re
from typing import Optional

from migration.checkpoint.reader import VariableInfo

#: (pattern on the variable key, what wrote it)
BOOKKEEPING_TABLE: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"(?:^|/)sync_rep_local_step(?:_\d+)?$"),
     "SyncReplicasOptimizer's per-worker local step"),
    (re.compile(r"(?:^|/)limit_epochs/epochs$"),
     "input-queue epoch counter of tf.train.limit_epochs / *_input_producer(num_epochs=...)"),
    (re.compile(r"(?:^|/)local_step(?:_\d+)?$"),
     "per-worker local step of a parameter-server training loop"),
    (re.compile(r"^global_step/.+$"),
     "MonitoredTrainingSession step-counter bookkeeping"),
)


def classify(key: str, info: VariableInfo) -> Optional[str]:
    """What distributed-training machinery wrote ``key`` (an integer scalar), or None when it is not bookkeeping."""
    if info.shape != () or "int" not in info.dtype:
        return None
    for pattern, what in BOOKKEEPING_TABLE:
        if pattern.search(key):
            return what
    return None


__all__ = ["BOOKKEEPING_TABLE", "classify"]
