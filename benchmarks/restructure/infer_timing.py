"""LSTM inference at B=64, T=200, D=128, H=1024, timed alone: medians of 12 calls.

Run with PYTHONPATH pointing at the tree to time; "ws" passes the model's workspace.
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from bptt.engine.full import infer
from bptt.model import Model, ModelConfig

m = Model(ModelConfig(cell="lstm", input_size=128, hidden_size=1024, output_size=10))
p = m.init(np.random.default_rng(0))
cp = m.cell_params(p, "layers.0")
xs = np.random.default_rng(1).standard_normal((200, 64, 128)).astype(np.float32)
kw = {"workspace": m.workspace} if (len(sys.argv) > 1 and sys.argv[1] == "ws") else {}
with threadpool_limits(2):
    infer(m.cell, cp, xs, **kw)
    ts = []
    for _ in range(12):
        a = time.perf_counter()
        infer(m.cell, cp, xs, **kw)
        ts.append(time.perf_counter() - a)
print(sys.argv[1:], "median ms", round(np.median(ts) * 1e3, 1), "min", round(min(ts) * 1e3, 1))
