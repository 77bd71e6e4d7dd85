"""The BPTT engine: whole sequences through a cell, forward and backward."""

from bptt.engine.full import Tape, backward, forward
from bptt.engine.validate import zero_carry

__all__ = ["Tape", "backward", "forward", "zero_carry"]
