"""A fitted estimator as one checkpoint file: arrays in ``.npz`` plus a JSON header, no pickle.

The file is written by ``bptt.train.checkpoint.save_checkpoint`` (atomically: a temporary
file, then ``os.replace``) and read with ``allow_pickle=False``. It holds:

    params/member{m}/<name>    every model's parameters (the names of ``Model.init``)
    params/channel_mean, ...   the fitted normalisation (``normalize="channel"``) and, for a
                               regressor, y_mean / y_scale
    meta                       {"estimator": class name, "estimator_params": get_params(),
                                "model_config", "classes", "classes_dtype", "fitted": the
                                other fitted attributes, "step": 0, "format_version"}

Class labels are stored as JSON, so they must be strings, numbers or booleans.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from bptt.errors import BpttError
from bptt.model import ModelConfig
from bptt.train.checkpoint import load_checkpoint, save_checkpoint

_ARRAYS = ("channel_mean_", "channel_std_", "y_mean_", "y_scale_")
_SCALARS = ("n_features_in_", "n_channels_", "patch_", "n_outputs_", "y_ndim_")


def _json_params(estimator: Any) -> dict[str, Any]:
    params = estimator.get_params()
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object: its use is over once fitted
    try:
        json.dumps(params)
    except TypeError as error:
        raise BpttError(f"The estimator's parameters cannot be saved as JSON: {error}.") from None
    return params


def save_estimator(estimator: Any, path: str | Path) -> Path:
    """Write a fitted RNNClassifier / RNNRegressor to ``path`` (see the module docstring)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "members_")
    if any(p is None for p in estimator.members_):
        raise BpttError("The estimator has no trained parameters yet; fit it before saving.")
    path = Path(path)
    params: dict[str, np.ndarray] = {}
    for m, member in enumerate(estimator.members_):
        params.update({f"member{m}/{k}": v for k, v in member.items()})
    for name in _ARRAYS:
        if hasattr(estimator, name):
            params[name.rstrip("_")] = np.asarray(getattr(estimator, name))
    meta: dict[str, Any] = {
        "step": 0,
        "estimator": type(estimator).__name__,
        "estimator_params": _json_params(estimator),
        "model_config": dataclasses.asdict(estimator.model_config_),
        "members": len(estimator.members_),
        "fitted": {n: int(getattr(estimator, n)) for n in _SCALARS if hasattr(estimator, n)},
    }
    if hasattr(estimator, "classes_"):
        classes = estimator.classes_
        values = [c.item() if isinstance(c, np.generic) else c for c in classes.tolist()]
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise BpttError(
                "Class labels must be strings, numbers or booleans to be saved without "
                f"pickle; got types {sorted({type(v).__name__ for v in values})}."
            )
        meta["classes"] = values
        meta["classes_dtype"] = str(classes.dtype)
    return save_checkpoint(
        path.parent, params=params, opt_state=(), carries=None, meta=meta, name=path.name
    )


def load(path: str | Path) -> Any:
    """The fitted estimator saved in ``path`` by ``save``.

    Raises:
        BpttFileNotFoundError: no such file; BpttError: a file that is not a saved estimator.
    """
    from bptt.sklearn.estimators import RNNClassifier, RNNRegressor

    ckpt = load_checkpoint(path)
    meta = ckpt.meta
    kinds = {"RNNClassifier": RNNClassifier, "RNNRegressor": RNNRegressor}
    if meta.get("estimator") not in kinds:
        raise BpttError(
            f"{ckpt.path} is not a saved bptt estimator (its header names no RNNClassifier "
            "or RNNRegressor); `bptt train` checkpoints are read by bptt.train."
        )
    estimator = kinds[meta["estimator"]](**meta["estimator_params"])
    estimator.model_config_ = ModelConfig(**meta["model_config"])
    estimator.members_ = [
        {k.split("/", 1)[1]: v for k, v in ckpt.params.items() if k.startswith(f"member{m}/")}
        for m in range(int(meta["members"]))
    ]
    for name, value in meta["fitted"].items():
        setattr(estimator, name, value)
    for name in _ARRAYS:
        if name.rstrip("_") in ckpt.params:
            setattr(estimator, name, ckpt.params[name.rstrip("_")])
    if "classes" in meta:
        dtype = meta["classes_dtype"]
        estimator.classes_ = np.array(meta["classes"], dtype=None if dtype == "object" else dtype)
        if dtype == "object":
            estimator.classes_ = estimator.classes_.astype(object)
    estimator.history_ = []
    return estimator
