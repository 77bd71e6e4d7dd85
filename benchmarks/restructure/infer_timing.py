"""LSTM inference at B=64, T=200, D=128, H=1024, timed alone: median and minimum of 12 calls.

Run with PYTHONPATH pointing at the tree to time; the argument "ws" passes the model's
workspace (memory reused from call to call), any other argument is only a label.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python infer_timing.py new
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from bptt.engine.full import infer
from bptt.model import Model, ModelConfig

model = Model(ModelConfig(cell="lstm", input_size=128, hidden_size=1024, output_size=10))
params = model.cell_params(model.init(np.random.default_rng(0)), "layers.0")
xs = np.random.default_rng(1).standard_normal((200, 64, 128)).astype(np.float32)
options = {"workspace": model.workspace} if sys.argv[1:] == ["ws"] else {}
with threadpool_limits(2):
    infer(model.cell, params, xs, **options)
    times = []
    for _ in range(12):
        start = time.perf_counter()
        infer(model.cell, params, xs, **options)
        times.append(time.perf_counter() - start)
print(sys.argv[1:], f"median {np.median(times) * 1e3:.1f} ms, min {min(times) * 1e3:.1f} ms")
