"""Deploy a trained model: ONNX with carried state, safetensors weights, a torch module.

    onnx.py          ``to_onnx`` / ``export_onnx``: the model as an ONNX graph of the standard
                     RNN/LSTM/GRU operators, with state inputs and outputs and sequence lengths
    gates.py         our weights in the ONNX operators' gate orders and bias layout
    safetensors.py   ``save_safetensors`` / ``load_safetensors`` with PyTorch's names
    torch_module.py  ``torch_module``: a torch.nn.Module computing the model
    verify.py        ``verify_onnx``: an exported file run by ONNX Runtime against bptt
    exportable.py    what can be exported (``check_exportable``), and ``from_checkpoint``

Each needs its optional package only when called: ``pip install 'bptt[export]'`` (onnx,
onnxruntime, safetensors); torch for the torch module.
"""

from bptt.export.exportable import Exportable, check_exportable, from_checkpoint
from bptt.export.onnx import OPSET, export_onnx, to_onnx
from bptt.export.safetensors import load_safetensors, save_safetensors
from bptt.export.torch_module import (
    torch_module,
    torch_module_from_checkpoint,
    torch_module_from_safetensors,
)
from bptt.export.verify import verify_onnx

__all__ = [
    "OPSET",
    "Exportable",
    "check_exportable",
    "export_onnx",
    "from_checkpoint",
    "load_safetensors",
    "save_safetensors",
    "to_onnx",
    "torch_module",
    "torch_module_from_checkpoint",
    "torch_module_from_safetensors",
    "verify_onnx",
]
