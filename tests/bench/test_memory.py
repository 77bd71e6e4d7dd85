"""bptt.bench.memory: resident-set growth measured in a fresh process."""

import sys

import pytest

from bptt.bench import BenchConfig, memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS is measured on Linux")
def test_rss_growth_of_a_last_step_readout():
    # The fresh process gets the policy and the readout on its command line.
    assert memory.rss_growth("bptt", "lstm", BenchConfig(2, 50, 3, 8), 3, 1, "sqrt", "last") > 0
