"""Token tasks for the online estimators: one-hot inputs instead of an embedding.

The estimators differentiate the recurrent layer's parameters (W_x, W_h, b) only; an
embedding in front of it would need its own influence matrix. With one-hot inputs
(D = V) the layer's W_x is the embedding (times the gate projection), so nothing is lost.
``OneHotTask`` presents a task of token ids (bptt.train.tasks.Task) that way: its
``model_io`` asks for ``input_size`` = V, its evaluation batches hold one-hot floats (for
``bptt.train.evaluate.evaluate``), and its training batches keep their ids, which the online
loop encodes one step at a time (``stepper.as_features``), so a long text is never held
one-hot in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bptt.window import Batch


def one_hot_batch(batch: Batch, size: int, dtype: Any = np.float64) -> Batch:
    """``batch`` with its (T, B) token ids as (T, B, V) one-hot floats."""
    return batch._replace(inputs=np.eye(size, dtype=dtype)[np.asarray(batch.inputs)])


@dataclass(frozen=True)
class OneHotTask:
    """A task of token ids seen through one-hot inputs (see the module docstring).

    Attributes:
        task: the wrapped task (any object following bptt.train.tasks.Task).
    """

    task: Any

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def loss(self) -> str:
        return self.task.loss

    @property
    def metric(self) -> Any:
        return self.task.metric

    @property
    def vocab(self) -> Any:
        return self.task.vocab

    @property
    def stateful(self) -> bool:
        return self.task.stateful

    @property
    def vocab_size(self) -> int:
        return int(self.task.model_io()["vocab_size"])

    def model_io(self) -> dict[str, Any]:
        """{"input_size": V, "output_size": O}."""
        io = self.task.model_io()
        return {"input_size": int(io["vocab_size"]), "output_size": io["output_size"]}

    def train_batch(self, seed: int, index: int, batch_size: int) -> Batch:
        """The wrapped task's batch, ids kept (encoded one step at a time by the loop)."""
        return self.task.train_batch(seed, index, batch_size)

    def eval_batches(
        self, split: str, *, seed: int, batch_size: int, num_sequences: int
    ) -> Iterator[Batch]:
        """The wrapped task's evaluation batches with one-hot float inputs."""
        for batch in self.task.eval_batches(
            split, seed=seed, batch_size=batch_size, num_sequences=num_sequences
        ):
            yield one_hot_batch(batch, self.vocab_size)

    def score(self, loss_sum: float, count: int, correct: int) -> float:
        return self.task.score(loss_sum, count, correct)


def for_online(task: Any) -> Any:
    """``task`` as the online estimators take it: wrapped in OneHotTask if it has tokens."""
    return OneHotTask(task) if "vocab_size" in task.model_io() else task
