"""The backend fixture of the kernel tests."""

import pytest

from bptt.kernels import compiled


@pytest.fixture(params=["numpy", "numba"])
def backend(request, monkeypatch):
    """The fused loops in NumPy, or compiled (LSTM in float32, where numba can run)."""
    if request.param == "numpy":
        monkeypatch.setenv(compiled.ENV_SWITCH, "0")
    elif compiled.lstm_loops() is None:
        pytest.skip("numba is not installed, BPTT_NUMBA=0, or NumPy's BLAS is not reachable")
    return request.param
