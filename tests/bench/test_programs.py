"""bptt.bench.programs: the timed bptt programs."""

import pytest

from bptt.bench import BenchConfig, bptt_programs


def test_bptt_programs_last_step_readout():
    config = BenchConfig(B=2, T=5, D=3, H=4)
    every, last = bptt_programs("lstm", config, 2), bptt_programs("lstm", config, 2, readout="last")
    # Same parameters and inputs: inference reads the same last step either way.
    assert last["infer"]() == pytest.approx(every["infer"](), rel=1e-6)
    assert all(isinstance(program(), float) for program in (*every.values(), *last.values()))
    with pytest.raises(ValueError, match="Unknown readout 'none'"):
        bptt_programs("lstm", config, 2, readout="none")
