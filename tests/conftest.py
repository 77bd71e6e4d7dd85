"""Shared test configuration: floating-point errors raise instead of warning."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _raise_on_floating_point_errors():
    old = np.seterr(all="raise")
    yield
    np.seterr(**old)
