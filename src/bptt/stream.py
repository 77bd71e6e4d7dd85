"""Streaming inference: feed a sequence chunk by chunk, keeping the state between chunks.

A recurrent model's state after step t is all it needs from steps 0..t, so running chunks
x[0:t1], x[t1:t2], ... one after the other, each from the final carries of the one before,
gives the outputs of one call on the whole sequence (up to the rounding of products of
other sizes). The Streamer is the object that holds those carries between calls; it is the
only state here, held by the caller like a Workspace, and nothing else is kept.

    streamer = Streamer(model, params)
    for chunk in chunks:                        # each (t, B, D) floats or (t, B) token ids
        outputs = streamer.feed(chunk)          # (t, B, O), as Model.forward on the chunk
    streamer.reset([2])                         # sequence 2 starts a new document

Readout "last" returns, after each chunk, the readout of the state so far: after the last
chunk, the output of one call on the whole sequence. A bidirectional model reads each
sequence whole and cannot stream. A chunk may carry a mask (padded steps keep the state, as
in ``Model.forward``) and resets (a document boundary before a step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bptt.errors import BpttError
from bptt.model import Model
from bptt.types import Array, Params


class Streamer:
    """Runs ``model`` over consecutive chunks of a sequence, carrying the state across them.

    Args:
        model: a unidirectional model (any readout).
        params: its parameters.
        carries0: optional initial carries, one per layer (``Model.forward``'s form);
            zeros when None.

    Attributes:
        carries: the state after the chunks fed so far (None before the first chunk when
            no ``carries0`` was given: zeros).
        steps: the number of time steps fed so far.
    """

    def __init__(self, model: Model, params: Params, *, carries0: Any = None) -> None:
        if model.config.bidirectional:
            raise BpttError(
                "A bidirectional model cannot stream: its reverse direction reads each "
                "sequence from its end. Run Model.forward on the whole sequence instead."
            )
        self.model = model
        self.params = params
        self.carries = None if carries0 is None else tuple(carries0)
        self.steps = 0

    def feed(self, chunk: Any, *, mask: Any = None, resets: Any = None) -> Array:
        """The outputs for the next chunk, from the state the previous chunks left.

        Args:
            chunk: (t, B, D) floats or (t, B) token ids, the next t steps of every sequence.
            mask: optional (t, B) booleans, False at padded steps (the state is kept there).
            resets: optional (t, B) booleans: zero that sequence's state before the step.

        Returns:
            ``Model.forward``'s outputs on the chunk: (t, B, O) for readout "all", (B, O)
            from the state after the chunk for "last", the top layer's outputs without a
            readout.
        """
        outputs, self.carries, _ = self.model.forward(
            self.params, chunk, mask=mask, resets=resets, carries0=self.carries
        )
        self.steps += int(np.shape(chunk)[0])
        return outputs

    def reset(self, rows: Sequence[int] | Any = None) -> None:
        """Zero the state: of every sequence (``rows`` None), or of the sequences ``rows``
        (indices or a (B,) boolean mask), e.g. where a new document starts."""
        if rows is None or self.carries is None:
            self.carries = None if rows is None else self.carries
            return
        B = self.carries[0].h.shape[0]
        index = np.asarray(rows)
        if index.dtype == bool and index.shape == (B,):
            index = np.flatnonzero(index)
        elif (
            index.dtype.kind not in "iu"
            or index.ndim != 1
            or not np.all((index >= 0) & (index < B))
        ):
            raise BpttError(
                f"`rows` must be batch rows in 0..{B - 1} or a ({B},) boolean mask, got {rows!r}."
            )
        new = []
        for carry in self.carries:
            fields = [
                np.array(value) for value in carry
            ]  # copies: the old carries stay as they were
            for value in fields:
                value[index] = 0.0
            new.append(type(carry)(*fields))
        self.carries = tuple(new)
