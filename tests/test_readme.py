"""The README's Python example runs as written and lowers the loss."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert len(blocks[0].strip().splitlines()) <= 12
    model, params, ids = namespace["model"], namespace["params"], namespace["ids"]
    logits = model.forward(params, ids[:-1])[0]
    new_loss = namespace["softmax_cross_entropy"](logits, ids[1:])[0]
    assert new_loss < namespace["loss"]
