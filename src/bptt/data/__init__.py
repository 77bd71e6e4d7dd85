"""Data: text encoding, (T, B) stream batching for truncated BPTT, padding, synthetic tasks.

Every batch is time-major: token ids (T, B), features (T, B, D), masks (T, B).
"""

from bptt.data.ngram import DEFAULT_ALPHAS, NGramModel, fit_ngram, ngram_nll, tune_alpha
from bptt.data.padding import (
    iterate_minibatches,
    last_valid_index,
    lengths_to_mask,
    pad_sequences,
)
from bptt.data.shakespeare import (
    NUM_PLAYS,
    TEST_PLAYS,
    VALID_PLAYS,
    Corpus,
    Play,
    load_plays,
    load_shakespeare,
    markdown_to_text,
    plays_directory,
)
from bptt.data.streams import StreamBatcher, StreamWindow, document_starts
from bptt.data.synthetic import (
    ADDING_BASELINE_MSE,
    COPY_BLANK,
    COPY_DELIMITER,
    COPY_NUM_CLASSES,
    COPY_NUM_SYMBOLS,
    COPY_VOCAB_SIZE,
    TEMPORAL_ORDER_BASELINE_NATS,
    TEMPORAL_ORDER_CLASSES,
    TEMPORAL_ORDER_SYMBOLS,
    AddingBatch,
    CopyBatch,
    TemporalOrderBatch,
    adding_problem,
    copy_baseline,
    copy_task,
    temporal_order,
)
from bptt.data.text import Vocabulary, read_text_file

__all__ = [
    "ADDING_BASELINE_MSE",
    "COPY_BLANK",
    "COPY_DELIMITER",
    "COPY_NUM_CLASSES",
    "COPY_NUM_SYMBOLS",
    "COPY_VOCAB_SIZE",
    "DEFAULT_ALPHAS",
    "NUM_PLAYS",
    "TEMPORAL_ORDER_BASELINE_NATS",
    "TEMPORAL_ORDER_CLASSES",
    "TEMPORAL_ORDER_SYMBOLS",
    "TEST_PLAYS",
    "VALID_PLAYS",
    "AddingBatch",
    "CopyBatch",
    "Corpus",
    "NGramModel",
    "Play",
    "StreamBatcher",
    "StreamWindow",
    "TemporalOrderBatch",
    "Vocabulary",
    "adding_problem",
    "copy_baseline",
    "copy_task",
    "document_starts",
    "fit_ngram",
    "iterate_minibatches",
    "last_valid_index",
    "lengths_to_mask",
    "load_plays",
    "load_shakespeare",
    "markdown_to_text",
    "ngram_nll",
    "pad_sequences",
    "plays_directory",
    "read_text_file",
    "temporal_order",
    "tune_alpha",
]
