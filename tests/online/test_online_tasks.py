"""Token tasks through one-hot inputs."""

import numpy as np

from bptt.online.tasks import OneHotTask, for_online
from bptt.train.tasks import sequence_task


def test_one_hot_task_keeps_training_ids_and_encodes_evaluation_batches():
    copy = sequence_task("copy", 3)
    task = for_online(copy)
    assert isinstance(task, OneHotTask)
    assert task.model_io() == {"input_size": 10, "output_size": 9}
    assert (task.name, task.loss, task.stateful, task.metric) == (
        "copy",
        "xent",
        False,
        copy.metric,
    )
    ids = task.train_batch(0, 0, 2).inputs
    assert ids.dtype.kind == "i" and np.array_equal(ids, copy.train_batch(0, 0, 2).inputs)
    encoded = next(task.eval_batches("valid", seed=0, batch_size=2, num_sequences=2))
    plain = next(copy.eval_batches("valid", seed=0, batch_size=2, num_sequences=2))
    assert encoded.inputs.shape == (23, 2, 10) and np.array_equal(
        encoded.inputs.argmax(-1), plain.inputs
    )
    assert task.score(3.0, 2, 1) == copy.score(3.0, 2, 1)


def test_float_tasks_pass_through():
    adding = sequence_task("adding", 5)
    assert for_online(adding) is adding
