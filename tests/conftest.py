"""Shared test configuration: floating-point errors raise instead of warning.

Overflow, invalid operations (NaN) and division by zero raise. Underflow does not: a value
too small for float32 becoming 0 is the intended IEEE result in long products of gradients,
in Adam's squared moments and in exp of very negative scores, and it is not an error.
"""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _raise_on_floating_point_errors():
    old = np.seterr(all="raise", under="ignore")
    yield
    np.seterr(**old)
