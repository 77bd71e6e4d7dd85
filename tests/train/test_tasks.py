"""The task protocol: every kind of task has it, and a text is batched as B streams."""

import inspect
import typing

import numpy as np
import pytest

from bptt.data.streams import StreamBatcher
from bptt.engine.truncated import truncation, windows
from bptt.train.config import resolve_config
from bptt.train.factories import make_task
from bptt.train.real_tasks import ClassificationTask, ForecastTask
from bptt.train.tasks import SequenceTask, StreamTask, Task, sequence_task

KINDS = (StreamTask, SequenceTask, ClassificationTask, ForecastTask)
METHODS = ("model_io", "train_batch", "eval_batches", "score")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_every_kind_of_task_follows_the_protocol(kind):
    for name in METHODS:
        assert inspect.signature(getattr(kind, name)) == inspect.signature(getattr(Task, name))
    fields = {f.name: f for f in kind.__dataclass_fields__.values()}
    for name in typing.get_type_hints(Task, localns={"Metric": object, "Vocabulary": object}):
        assert name in fields, name
    assert "streaming" not in fields


def test_stateful_is_a_property_of_the_kind():
    assert StreamTask.__dataclass_fields__["stateful"].default is True
    for kind in (SequenceTask, ClassificationTask, ForecastTask):
        assert kind.__dataclass_fields__["stateful"].default is False
    assert not sequence_task("adding", 10).stateful


@pytest.fixture
def text_task(text_file):
    return make_task(resolve_config({"task": "text", "text": str(text_file), "batch_size": 4}))


def test_a_text_batch_is_the_whole_split_as_b_streams(text_task):
    """The windows of the batch are the StreamBatcher's windows: the same data order."""
    batch = text_task.train_batch(seed=3, index=5, batch_size=4)
    ids = text_task.splits["train"]
    L = (ids.size - 1) // 4
    assert batch.inputs.shape == batch.targets.shape == batch.resets.shape == (L, 4)
    assert batch.loss_mask is None and batch.mask is None
    batcher = StreamBatcher(ids, 4, 7, doc_starts=text_task.doc_starts["train"])
    cut = windows(L, truncation(7))
    assert len(cut) == batcher.num_windows
    for w, expected in zip(cut, batcher, strict=True):
        part = batch.slice(w.start, w.stop)
        np.testing.assert_array_equal(part.inputs, expected.inputs)
        np.testing.assert_array_equal(part.targets, expected.targets)
        np.testing.assert_array_equal(part.resets, expected.resets)
    again = text_task.train_batch(seed=0, index=0, batch_size=4)  # every index: one pass
    np.testing.assert_array_equal(again.inputs, batch.inputs)


def test_text_evaluation_is_one_batch_of_the_split(text_task):
    (valid,) = text_task.eval_batches("valid", seed=0, batch_size=4, num_sequences=1)
    ids = text_task.splits["valid"]
    L = (ids.size - 1) // 4
    assert valid.inputs.shape == (L, 4)
    np.testing.assert_array_equal(valid.inputs[:, 1], ids[L : 2 * L])  # stream 1
    with pytest.raises(ValueError, match="`split` must be one of"):
        next(text_task.eval_batches("dev", seed=0, batch_size=4, num_sequences=1))


def test_a_drawn_evaluation_set_is_fixed_and_apart_from_training():
    task = sequence_task("copy", 4)

    def draw(split, seed=0):
        batches = task.eval_batches(split, seed=seed, batch_size=3, num_sequences=7)
        return [b.inputs for b in batches]

    valid = draw("valid")
    assert [x.shape[1] for x in valid] == [3, 3, 1]
    for a, b in zip(valid, draw("valid"), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(valid[0], draw("test")[0])
    assert not np.array_equal(valid[0], draw("valid", seed=1)[0])
    assert not np.array_equal(valid[0], task.train_batch(0, 0, 3).inputs)
