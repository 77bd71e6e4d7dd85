"""A tanh RNN cell that misbehaves on one process of an mpiexec run, for the failure tests.

``BPTT_TEST_FAULT="<what>:<rank>:<call>"``: at its <call>-th ``step_forward`` in process
<rank> (the launcher's PMI_RANK), the cell does <what>: "term" sends SIGTERM to its own
process, "term2" sends it twice, "kill" SIGKILL, "raise" raises RuntimeError. Without the
variable it is RNNCell.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from bptt.cells.rnn import RNNCell

_calls = [0]


@dataclass(frozen=True)
class FaultyRNN(RNNCell):
    def step_forward(self, params, xp_t, carry):
        fault = os.environ.get("BPTT_TEST_FAULT")
        if fault:
            what, rank, call = fault.split(":")
            _calls[0] += 1
            if os.environ.get("PMI_RANK") == rank and _calls[0] == int(call):
                if what == "raise":
                    raise RuntimeError(f"injected failure at call {call}")
                if what == "term2":
                    os.kill(os.getpid(), signal.SIGTERM)
                    what = "term"
                os.kill(os.getpid(), {"term": signal.SIGTERM, "kill": signal.SIGKILL}[what])
        return super().step_forward(params, xp_t, carry)
