"""The timed programs: one training step and one inference pass, in bptt and in PyTorch.

    train   forward, a linear readout (H -> O), MSE, backward through time (no gradient of the
            inputs xs, on either side), and an in-place SGD update of every parameter
    infer   the forward pass alone (recurrent layer and readout), no tape and no gradient

Each program is a function of no arguments over fixed float32 data, returning a loss or a sum.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bptt.bench.sizes import LONG_READOUTS, BenchConfig, Budget
from bptt.engine.full import infer
from bptt.errors import BpttError
from bptt.losses import mse
from bptt.model import Model, ModelConfig

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LEARNING_RATE = 1e-3

Program = Callable[[], float]


def step_flops(cell: str, config: BenchConfig, mode: str, output_size: int) -> int:
    """Floating-point operations of the matrix products in one step (2 per multiply-add).

    train: input projection, recurrent products and readout forward; the recurrent gradient
    dh_prev = dz W_h^T at every step, dW_h, dW_x, and the readout's dW and dhs backward.
    The input gradient dxs is not counted: PyTorch does not compute it for inputs that do not
    require gradients. infer: the forward products only.
    """
    B, T, D, H = config
    GH = GATES[cell] * H
    rows = T * B
    forward = 2 * rows * (D * GH + H * GH + H * output_size)
    if mode == "infer":
        return forward
    backward = 2 * rows * (H * GH + H * GH + D * GH + 2 * H * output_size)
    return forward + backward


def bench_data(
    config: BenchConfig, output_size: int, seed: int, readout: str = "all"
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (T, B, D) and targets: (T, B, O) for readout "all", (B, O) for "last"."""
    B, T, D, _ = config
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((T, B, D), dtype=np.float32)  # (T, B, D)
    shape = (B, output_size) if readout == "last" else (T, B, output_size)
    ys = rng.standard_normal(shape, dtype=np.float32)  # (T, B, O) or (B, O)
    return xs, ys


def bench_model(cell: str, config: BenchConfig, output_size: int, readout: str = "all") -> Model:
    """One layer of ``cell`` with D inputs, H hidden units and a linear readout to O outputs."""
    if readout not in LONG_READOUTS:
        raise BpttError(f"Unknown readout {readout!r}; expected one of {LONG_READOUTS}.")
    return Model(
        ModelConfig(
            cell=cell,
            input_size=config.D,
            hidden_size=config.H,
            output_size=output_size,
            readout=readout,
        )
    )


def clear_workspace(model: Model) -> None:
    """Forget the idle arrays ``model`` keeps for reuse, so that its next step allocates its own."""
    # The one place the benchmark reaches into the model's memory reuse (``Model.workspace``).
    model.workspace.clear()


def bptt_programs(
    cell: str,
    config: BenchConfig,
    output_size: int,
    seed: int = 0,
    *,
    memory_policy: Budget | None = None,
    readout: str = "all",
) -> dict[str, Program]:
    """The bptt programs {"train", "infer"} for one size; each call returns a loss or a sum.

    ``memory_policy`` goes to ``Model.forward`` in "train": None for full BPTT, or a
    checkpointing budget ("sqrt" or a number of slots) for checkpointed BPTT. ``readout``:
    "all" reads out every step and takes the MSE against (T, B, O) targets; "last" reads out
    the last step alone (``ModelConfig(readout="last")``, outputs (B, O)) against (B, O)
    targets, in "train" and "infer".
    """
    model = bench_model(cell, config, output_size, readout)
    return model_programs(model, config, seed, memory_policy=memory_policy)


def model_programs(
    model: Model, config: BenchConfig, seed: int = 0, *, memory_policy: Budget | None = None
) -> dict[str, Program]:
    """``bptt_programs`` for a model made by ``bench_model``: its size and readout."""
    output_size, readout = model.config.output_size, model.config.readout
    params = model.init(np.random.default_rng(seed), dtype=np.float32)
    xs, ys = bench_data(config, output_size, seed + 1, readout)
    cell_params = model.cell_params(params, "layers.0")
    W, b = params["readout.W"], params["readout.b"]

    def train() -> float:
        outputs, _, cache = model.forward(params, xs, train=True, memory_policy=memory_policy)
        loss, doutputs = mse(outputs, ys)
        # No gradient of xs, as for torch's xs without requires_grad; the tape is not read
        # again, so the next forward may reuse its arrays.
        grads = model.backward(params, cache, doutputs, input_grad=False, release=True)[0]
        for name, p in params.items():
            p -= LEARNING_RATE * grads[name]  # in place, as torch.optim.SGD
        return loss

    def infer_every_step() -> float:
        hs, _ = infer(model.cell, cell_params, xs, workspace=model.workspace)
        outputs = hs @ W  # (T, B, O)
        outputs += b
        return float(outputs[-1, 0, 0])

    def infer_last_step() -> float:
        hs, _ = infer(model.cell, cell_params, xs, workspace=model.workspace)
        outputs = hs[-1] @ W  # (B, O)
        outputs += b
        return float(outputs[0, 0])

    return {"train": train, "infer": infer_last_step if readout == "last" else infer_every_step}


def torch_programs(
    cell: str, config: BenchConfig, output_size: int, seed: int = 0
) -> dict[str, Program]:
    """The same programs with torch.nn.RNN / LSTM / GRU, a Linear readout and torch.optim.SGD."""
    import torch

    _, _, D, H = config
    torch.manual_seed(seed)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    rnn = module(D, H)  # time-major, float32
    readout = torch.nn.Linear(H, output_size)
    optimizer = torch.optim.SGD([*rnn.parameters(), *readout.parameters()], lr=LEARNING_RATE)
    xs_np, ys_np = bench_data(config, output_size, seed + 1)
    xs, ys = torch.from_numpy(xs_np), torch.from_numpy(ys_np)

    def train() -> float:
        optimizer.zero_grad(set_to_none=True)
        hs, _ = rnn(xs)
        loss = torch.nn.functional.mse_loss(readout(hs), ys)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def infer_() -> float:
        with torch.inference_mode():
            outputs = readout(rnn(xs)[0])
        return float(outputs[-1, 0, 0])

    return {"train": train, "infer": infer_}
