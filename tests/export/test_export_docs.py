"""docs/export.md's ONNX Runtime example runs as written on an exported model."""

import re
from pathlib import Path

import numpy as np
import pytest
from export_cases import build

from bptt.export import export_onnx

pytest.importorskip("onnxruntime", reason="pip install 'bptt[export]'")

DOC = Path(__file__).resolve().parents[2] / "docs" / "export.md"


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_onnx_runtime_example_runs(tmp_path, monkeypatch, cell):
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)[0]
    assert len([line for line in block.splitlines() if line.strip()]) <= 15
    model, params = build(cell, 2, False)
    monkeypatch.chdir(tmp_path)
    export_onnx(model, params, "model.onnx")
    namespace: dict = {}
    exec(compile(block, str(DOC), "exec"), namespace)  # its assert: streamed == one call
    mask = np.arange(100)[:, None] < namespace["lengths"][None, :]
    want, _, _ = model.forward(params, namespace["xs"], mask=mask)
    np.testing.assert_allclose(namespace["padded"], want, rtol=1e-5, atol=1e-5)
