"""``bptt export``: a checkpoint as an ONNX graph or as safetensors weights."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from bptt.errors import BpttError
from bptt.export import export_onnx, from_checkpoint, save_safetensors, verify_onnx
from bptt.export.onnx import OPSET

EXAMPLES = """examples:
  bptt export runs/latest model.onnx
  bptt export runs/latest model.onnx --verify          run it in ONNX Runtime against bptt
  bptt export runs/latest/checkpoints/ckpt-00001500.npz model.onnx --dtype float64
  bptt export runs/latest weights.safetensors           PyTorch names, for torch.nn.LSTM
  bptt export runs/latest lstm.safetensors --rnn-only   only the recurrent stack

The ONNX graph takes inputs (T, B, D) or token ids (T, B), and optionally sequence_lens (B,)
and the initial state h_0 (and c_0 for an LSTM), (layers*directions, B, H); it returns
outputs, h_n (and c_n). Feed h_n back as h_0 to stream a long input chunk by chunk.
See docs/export.md.
"""

FORMATS = {".onnx": "onnx", ".safetensors": "safetensors"}
DTYPES = {"float32": np.float32, "float64": np.float64}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint to ONNX or safetensors",
        description=(
            f"Write a trained model as an ONNX graph (opset {OPSET}: the standard RNN/LSTM/GRU "
            "operators, the state as optional inputs and outputs, sequence lengths, dynamic "
            "batch and time) or its weights as safetensors with PyTorch's names."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", help="checkpoint file or run directory (newest checkpoint)")
    p.add_argument("out", help="the file to write: NAME.onnx or NAME.safetensors")
    p.add_argument(
        "--format",
        choices=sorted(set(FORMATS.values())),
        help="the file format (default: from OUT's suffix)",
    )
    p.add_argument(
        "--dtype",
        choices=sorted(DTYPES),
        default=None,
        help="float type of the file (ONNX: float32 by default; safetensors: as trained)",
    )
    p.add_argument(
        "--rnn-only",
        action="store_true",
        help="safetensors: only the recurrent stack, a plain torch.nn.RNN/LSTM/GRU state dict",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="ONNX: run the file in ONNX Runtime on a padded batch with a carried state and "
        "print the largest difference from bptt",
    )
    p.set_defaults(func=run, command="export")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    fmt = args.format or FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise BpttError(
            f"Cannot tell the format of {out} from its suffix {out.suffix!r}; name it "
            "NAME.onnx or NAME.safetensors, or pass --format onnx|safetensors."
        )
    if fmt == "safetensors" and args.verify:
        raise BpttError("--verify checks an ONNX file; safetensors holds weights only.")
    if fmt == "onnx" and args.rnn_only:
        raise BpttError("--rnn-only applies to safetensors; an ONNX graph is the whole model.")
    model, params, vocab = from_checkpoint(args.checkpoint)
    cfg = model.config
    what = (
        f"{cfg.cell} {cfg.num_layers}x{cfg.hidden_size}"
        f"{' bidirectional' if cfg.bidirectional else ''}, readout {cfg.readout}"
    )
    dtype = DTYPES.get(args.dtype)
    if fmt == "onnx":
        export_onnx(model, params, out, dtype=dtype or np.float32, vocab=vocab)
        print(f"wrote {out} (ONNX opset {OPSET}, {args.dtype or 'float32'}, {what})")
        if args.verify:
            check = verify_onnx(out, model, params)
            print(
                f"ONNX Runtime vs bptt on a padded batch with a carried state: largest "
                f"difference {check.outputs:.2e} in the outputs, {check.state:.2e} in the state"
            )
    else:
        save_safetensors(model, params, out, rnn_only=args.rnn_only, vocab=vocab, dtype=dtype)
        part = "recurrent stack" if args.rnn_only else "all weights"
        print(f"wrote {out} (safetensors, {part}, PyTorch names, {what})")
    return 0
