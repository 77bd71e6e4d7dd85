"""A recurrent model: optional embedding, stacked (bidirectional) cells, a Dense readout.

Parameters are one ordered mapping of dotted names, walked by optimizers and checkpoints:

    embedding.W            (V, E)        when vocab_size is set
    layers.{l}.W_x         (D_l, G*H)    forward direction of layer l
    layers.{l}.W_h         (H, G*H)
    layers.{l}.b           (G*H,)
    layers.{l}.b_hn        (H,)          GRU only
    layers.{l}.reverse.*                 the backward direction of a bidirectional layer
    attention.W, .b, .v    (H_out, H), (H,), (H,)   readout "attention" (``pooling``)
    readout.W              (F, O)        when output_size is set; F = H_out = H * directions,
                                         2 * H_out for readout "meanmax"
    readout.b              (O,)

Carries are a tuple with one carry per layer and direction, ordered like PyTorch's h_n:
index ``l * directions + d``.

Example::

    model = Model(ModelConfig(cell="lstm", vocab_size=65, hidden_size=128, output_size=65))
    params = model.init(np.random.default_rng(0))
    logits, carries, cache = model.forward(params, ids)           # ids (T, B) ints
    loss, dlogits = softmax_cross_entropy(logits, targets)
    grads, _, dcarries0 = model.backward(params, cache, dlogits)

A Model holds its configuration, its cell and a Workspace: memory the fused loops reuse from
one call to the next (never values: every call is a pure function of its arguments).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.cells import make_cell
from bptt.engine import CheckpointTape, MemoryPolicy, Tape, backward, forward
from bptt.engine.validate import check_carry, check_finite, check_mask, check_sequence
from bptt.errors import BpttError, BpttTypeError
from bptt.kernels import Workspace
from bptt.model.config import ModelConfig
from bptt.model.pooling import (
    ATTENTION_PARAMS,
    PoolCache,
    feature_size,
    init_attention,
    pool_backward,
    pool_forward,
)
from bptt.model.reverse import gather_time, reverse_index
from bptt.types import Array, Params


class ModelCache(NamedTuple):
    """What ``Model.forward`` keeps for ``Model.backward``."""

    inputs: Array  # (T, B) ids or (T, B, D) floats
    mask: np.ndarray | None  # (T, B)
    reverse_index: np.ndarray | None  # (T, B) time permutation of the reverse direction
    tapes: list[Tape | CheckpointTape]  # one per layer and direction
    dropout_masks: list[Array | None]  # one per layer: the scaled keep mask or None
    top: Array  # (T, B, H_out) outputs of the last layer, or (B, F) features for "last"/pooled
    pool: PoolCache | None = None  # a pooled readout's cache
    readout_keep: Array | None = None  # readout dropout: the scaled keep mask of ``top``


class Model:
    """Pure functions over explicit parameters for the architecture in a ModelConfig."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.cell = make_cell(config.cell, forget_bias=config.forget_bias)
        self.workspace = Workspace()

    def layer_prefixes(self) -> list[str]:
        """Parameter prefixes per layer and direction, in carry order."""
        suffixes = ("", ".reverse")[: self.config.directions]
        return [f"layers.{n}{s}" for n in range(self.config.num_layers) for s in suffixes]

    def init(self, rng: np.random.Generator, *, dtype: Any = np.float32) -> Params:
        """Fresh parameters: the cell's initialisation (IRNN for "irnn"), N(0, 1) embedding,
        U(-1/sqrt(H_out), 1/sqrt(H_out)) readout like torch.nn.Linear."""
        if not isinstance(rng, np.random.Generator):
            raise BpttTypeError(
                f"`rng` must be a NumPy Generator, got {type(rng).__name__}; pass "
                "np.random.default_rng(seed)."
            )
        cfg = self.config
        params: Params = {}
        if cfg.vocab_size is not None:
            params["embedding.W"] = rng.standard_normal((cfg.vocab_size, cfg.embed_size)).astype(
                dtype
            )
        H = cfg.hidden_size
        for k, prefix in enumerate(self.layer_prefixes()):
            layer = k // cfg.directions
            D = cfg.layer_input_size if layer == 0 else H * cfg.directions
            if cfg.cell == "irnn":
                cell_params = self.cell.init_irnn(rng, D, H, dtype=dtype)
            else:
                cell_params = self.cell.init_params(rng, D, H, dtype=dtype)
            for field, value in zip(cell_params._fields, cell_params, strict=True):
                params[f"{prefix}.{field}"] = value
        if cfg.readout == "attention":
            params.update(init_attention(rng, H * cfg.directions, H, dtype))
        if cfg.output_size is not None:
            H_out = feature_size(cfg.readout, H * cfg.directions)
            bound = 1.0 / np.sqrt(H_out)
            params["readout.W"] = rng.uniform(-bound, bound, (H_out, cfg.output_size)).astype(dtype)
            params["readout.b"] = rng.uniform(-bound, bound, cfg.output_size).astype(dtype)
        return params

    def parameter_names(self) -> list[str]:
        """The keys ``init`` makes, in order."""
        cfg = self.config
        names = ["embedding.W"] if cfg.vocab_size is not None else []
        fields = self.cell.params_type._fields
        names += [f"{prefix}.{f}" for prefix in self.layer_prefixes() for f in fields]
        if cfg.readout == "attention":
            names += list(ATTENTION_PARAMS)
        if cfg.output_size is not None:
            names += ["readout.W", "readout.b"]
        return names

    def check_params(self, params: Any, *, finite: bool = True) -> None:
        """Raise a clear error for parameters this model cannot use: not a mapping, a
        missing or unknown name, arrays of mixed or non-float dtypes, or (with ``finite``)
        NaN or Inf entries."""
        if not isinstance(params, dict):
            raise BpttTypeError(
                f"`params` must be the dict Model.init returns, got {type(params).__name__}."
            )
        expected = self.parameter_names()
        missing = [name for name in expected if name not in params]
        unknown = sorted(set(params) - set(expected))
        if missing or unknown:
            raise BpttError(
                f"`params` lack {missing} and hold unknown {unknown} for this "
                f"{self.config.cell} model; were they made by Model.init with the same "
                "ModelConfig?".replace(" and hold unknown []", "").replace("lack [] and ", "")
            )
        dtypes = {np.asarray(params[name]).dtype for name in expected}
        if len(dtypes) != 1 or next(iter(dtypes)) not in (np.float32, np.float64):
            raise BpttTypeError(
                f"`params` must all be float32 or all float64, got dtypes "
                f"{sorted(str(d) for d in dtypes)}. Cast them with .astype(np.float32)."
            )
        if finite:
            for name in expected:
                check_finite(params[name], f"params['{name}']")

    def cell_params(self, params: Params, prefix: str) -> Any:
        """The cell's NamedTuple of parameters stored under ``prefix``."""
        fields = self.cell.params_type._fields
        missing = [f"{prefix}.{f}" for f in fields if f"{prefix}.{f}" not in params]
        if missing:
            raise BpttError(
                f"`params` lack {missing} needed by a {self.config.cell} layer; were they made "
                "by Model.init with the same ModelConfig?"
            )
        return self.cell.params_type(*(params[f"{prefix}.{f}"] for f in fields))

    def embed(self, params: Params, inputs: Any) -> tuple[Array, Array]:
        """Check the inputs and return (layer-0 inputs (T, B, D), the inputs as stored).

        Token ids (T, B) are looked up in ``embedding.W`` (V, E); float inputs (T, B, D) are
        checked (shape, dtype, NaN/Inf) and cast to the parameters' dtype.
        """
        cfg = self.config
        dtype = self.cell_params(params, self.layer_prefixes()[0])[0].dtype
        if cfg.vocab_size is None:
            xs = check_sequence(inputs, cfg.layer_input_size, dtype, name="inputs")
            return xs, xs
        ids = np.asarray(inputs)
        if ids.dtype.kind not in "iu":
            raise BpttTypeError(
                f"`inputs` must be integer token ids of shape (T, B) for a model with "
                f"vocab_size={cfg.vocab_size}, got dtype {ids.dtype}. Encode text with the "
                "model's vocabulary."
            )
        if ids.ndim != 2 or 0 in ids.shape:
            raise BpttError(
                f"`inputs` must be token ids of shape (T, B) with T, B >= 1, got {ids.shape}."
            )
        if ids.min() < 0 or ids.max() >= cfg.vocab_size:
            raise BpttError(
                f"`inputs` holds token ids in [{ids.min()}, {ids.max()}] but the vocabulary "
                f"has V={cfg.vocab_size} entries (valid ids 0..{cfg.vocab_size - 1}). "
                "Encode the text with the vocabulary stored with the model."
            )
        return params["embedding.W"][ids], ids  # (T, B, E)

    def forward(
        self,
        params: Params,
        inputs: Any,
        *,
        mask: Any = None,
        resets: Any = None,
        carries0: Any = None,
        train: bool = False,
        rng: np.random.Generator | None = None,
        memory_policy: MemoryPolicy = None,
        check_finite: bool = True,
    ) -> tuple[Array, tuple[Any, ...], ModelCache]:
        """Run the model.

        Args:
            params: as made by ``init``.
            inputs: (T, B) token ids when ``vocab_size`` is set, else (T, B, D) floats.
            mask: optional (T, B) booleans for variable lengths (True = real step).
            resets: optional (T, B) booleans: zero every layer's carry of that sequence before
                step t (a document boundary in a stream). Unidirectional models only.
            carries0: optional initial carries, one per layer and direction; zeros when None.
            train: apply dropout between layers (needs ``rng``).
            rng: the generator that draws the dropout masks.
            memory_policy: None for full BPTT (every step's cache kept), or a checkpointing
                policy of ``engine.checkpointed`` ("sqrt", a number of stored states, or
                positions): each layer then keeps only some carries and ``backward``
                recomputes the rest, with the same gradients.
            check_finite: refuse parameters with NaN or Inf (the diagnostics, which report a
                non-finite model as a finding, turn it off). Inputs are always checked.

        Returns:
            (outputs, final carries, cache). outputs are logits (T, B, O) for readout "all",
            (B, O) for "last" and the pooled readouts ("mean", "max", "meanmax",
            "attention"), the top layer's hs (T, B, H_out) without a readout (the pooled
            vector (B, F) for a pooled readout without ``output_size``).
        """
        cfg = self.config
        self.check_params(params, finite=check_finite)
        xs, stored_inputs = self.embed(params, inputs)
        T, B = xs.shape[:2]
        mask = check_mask(mask, T, B)
        carries0 = self._check_carries(carries0, resets, B, xs.dtype)
        if train and (cfg.dropout > 0.0 or cfg.readout_dropout > 0.0) and rng is None:
            raise BpttError("`rng` is required for dropout in training mode (train=True).")
        if cfg.pooled and mask is not None and not mask.any(axis=0).all():
            raise BpttError(
                f"readout {cfg.readout!r} pools each sequence's valid steps, but sequences "
                f"{np.flatnonzero(~mask.any(axis=0)).tolist()} have none in `mask`."
            )
        rev = reverse_index(mask, T, B) if cfg.bidirectional else None
        tapes, carries, dropout_masks = [], [], []
        for layer in range(cfg.num_layers):
            top = layer == cfg.num_layers - 1
            # Checkpointed, a last-step readout reads only the top layer's final carries.
            outputs = not (top and cfg.readout == "last")
            xs, layer_tapes, layer_carries = self._layer_forward(
                params, layer, xs, mask, resets, carries0, rev, memory_policy, outputs
            )
            tapes += layer_tapes
            carries += layer_carries
            keep = None
            if train and cfg.dropout > 0.0 and not top:
                keep = (rng.random(xs.shape) >= cfg.dropout) / (1.0 - cfg.dropout)
                keep = keep.astype(xs.dtype)
                xs = xs * keep
            dropout_masks.append(keep)
        pool = None
        if cfg.readout == "last":
            top = np.concatenate([c.h for c in carries[-cfg.directions :]], axis=-1)  # (B, H_out)
        elif cfg.pooled:
            top, pool = pool_forward(cfg.readout, xs, mask, params)  # (B, F)
        else:
            top = xs  # (T, B, H_out)
        reads = cfg.output_size is not None and cfg.readout != "none"
        keep = None
        if train and reads and cfg.readout_dropout > 0.0:
            # Drawn time-major, (1, B, F) for a vector per sequence, as every mask is: a
            # data-parallel generator (train.shard.ColumnDraws) keeps columns of axis 1.
            shape = (1, *top.shape) if top.ndim == 2 else top.shape
            draw = rng.random(shape).reshape(top.shape)
            keep = (draw >= cfg.readout_dropout) / (1.0 - cfg.readout_dropout)
            keep = keep.astype(top.dtype)
            top = top * keep
        outputs = top
        if reads:
            outputs = top @ params["readout.W"] + params["readout.b"]  # (..., O)
        cache = ModelCache(stored_inputs, mask, rev, tapes, dropout_masks, top, pool, keep)
        return outputs, tuple(carries), cache

    def _check_carries(
        self, carries0: Any, resets: Any, B: int, dtype: np.dtype
    ) -> tuple[Any, ...] | None:
        """carries0 checked once (type, shape, NaN/Inf) where it enters the model."""
        cfg = self.config
        if resets is not None and cfg.bidirectional:
            raise BpttError(
                "`resets` (state carried across stream windows) needs a unidirectional model; "
                "a bidirectional layer reads each sequence whole. Set bidirectional=False."
            )
        if carries0 is None:
            return None
        n = len(self.layer_prefixes())
        if not isinstance(carries0, tuple | list) or len(carries0) != n:
            got = len(carries0) if isinstance(carries0, tuple | list) else type(carries0).__name__
            raise BpttError(
                f"`carries0` must be a tuple of {n} carries (num_layers={cfg.num_layers} x "
                f"directions={cfg.directions}), as Model.forward returns them; got {got}."
            )
        H = cfg.hidden_size
        return tuple(
            check_carry(self.cell, c, B, H, dtype, name=f"carries0[{k}]")
            for k, c in enumerate(carries0)
        )

    def _layer_forward(
        self,
        params: Params,
        layer: int,
        xs: Array,
        mask: np.ndarray | None,
        resets: Any,
        carries0: tuple[Any, ...] | None,
        rev: np.ndarray | None,
        memory_policy: MemoryPolicy,
        outputs: bool,
    ) -> tuple[Array | None, list[Any], list[Any]]:
        """Both directions of one layer: (outputs (T, B, H_out) or None, tapes, carries)."""
        directions = self.config.directions
        outs, tapes, carries = [], [], []
        for d in range(directions):
            k = layer * directions + d
            x_in = xs if d == 0 else gather_time(xs, rev)
            hs, carry, tape = forward(
                self.cell,
                self.cell_params(params, self.layer_prefixes()[k]),
                x_in,
                None if carries0 is None else carries0[k],
                mask,
                resets,
                memory_policy=memory_policy,
                outputs=outputs,
                finite_check=False,  # the model checked its inputs and carries0
                workspace=self.workspace,
            )
            outs.append(hs if d == 0 or hs is None else gather_time(hs, rev))
            tapes.append(tape)
            carries.append(carry)
        if outs[0] is None:  # not kept (checkpointed, last-step readout)
            return None, tapes, carries
        return (outs[0] if directions == 1 else np.concatenate(outs, axis=-1)), tapes, carries

    def backward(
        self,
        params: Params,
        cache: ModelCache,
        doutputs: Array,
        dcarries_T: Any = None,
        *,
        observer: Any = None,
        input_grad: bool = True,
        release: bool = False,
    ) -> tuple[Params, Array | None, tuple[Any, ...]]:
        """Backpropagate through the readout, every layer and direction, and the embedding.

        Args:
            params, cache: as given to and returned by ``forward``.
            doutputs: gradient of the loss with respect to ``forward``'s outputs.
            dcarries_T: optional gradients on the final carries (one per layer and direction).
            observer: optional ``observer(k, t, dcarry_t)`` with k the layer-direction index.
            input_grad: False when the gradient of float inputs is not wanted (as for a torch
                input without requires_grad): the first layer then skips it and dxs is None.
                Token ids always get it, for the embedding's gradient.
            release: give the tapes' memory back to the model's workspace afterwards (see
                ``engine.backward``); the cache cannot be used again.

        Returns:
            (grads with the keys of ``params``, dxs (T, B, D) for float inputs and
            ``input_grad``, else None, dcarries0), the order of ``engine.backward``.
        """
        cfg = self.config
        grads: Params = {}
        doutputs = np.asarray(doutputs)
        expected = cache.top.shape
        if cfg.output_size is not None and cfg.readout != "none":
            expected = (*expected[:-1], cfg.output_size)
        if doutputs.shape != expected:
            raise BpttError(
                f"`doutputs` has shape {doutputs.shape} but forward's outputs have {expected}; "
                "pass the loss's gradient with respect to those outputs."
            )
        doutputs = doutputs.astype(cache.top.dtype, copy=False)
        dtop = self._readout_backward(params, cache, doutputs, grads)
        if cache.readout_keep is not None:
            dtop = dtop * cache.readout_keep
        if cache.pool is not None:
            dtop, pool_grads = pool_backward(cache.pool, params, dtop)  # (T, B, H_out)
            grads.update(pool_grads)
        dcarries = self._final_carry_grads(dcarries_T, dtop)
        dx = None if cfg.readout == "last" else dtop  # (T, B, H_out)
        dcarries0: list[Any] = [None] * len(dcarries)
        for layer in range(cfg.num_layers - 1, -1, -1):
            keep = cache.dropout_masks[layer]
            if dx is not None and keep is not None:
                dx = dx * keep
            needed = layer > 0 or input_grad or cfg.vocab_size is not None
            dx = self._layer_backward(
                params, cache, layer, dx, dcarries, dcarries0, grads, observer, needed, release
            )
        dxs: Array | None = dx
        if cfg.vocab_size is not None:
            dW = np.zeros_like(params["embedding.W"])
            np.add.at(dW, cache.inputs, dx)
            grads["embedding.W"] = dW
            dxs = None
        return {name: grads[name] for name in params}, dxs, tuple(dcarries0)

    def _readout_backward(
        self, params: Params, cache: ModelCache, doutputs: Array, grads: Params
    ) -> Array:
        """The readout's gradients into ``grads``; returns dL/dtop, shaped like cache.top."""
        cfg = self.config
        if cfg.output_size is None or cfg.readout == "none":
            return doutputs
        H_out, n_out = params["readout.W"].shape
        top2 = cache.top.reshape(-1, H_out)
        dout2 = doutputs.reshape(-1, n_out)
        grads["readout.W"] = top2.T @ dout2  # (H_out, O)
        grads["readout.b"] = dout2.sum(axis=0)  # (O,)
        return doutputs @ params["readout.W"].T  # (..., H_out)

    def _final_carry_grads(self, dcarries_T: Any, dtop: Array) -> list[Any]:
        """dL/dcarry_T per layer and direction: ``dcarries_T``, plus for a last-step readout
        the readout's gradient on the top layer's final h."""
        cfg = self.config
        n = len(self.layer_prefixes())
        if dcarries_T is None:
            dcarries = [None] * n
        elif len(dcarries_T) != n:
            raise BpttError(f"`dcarries_T` has {len(dcarries_T)} entries; expected {n}.")
        else:
            dcarries = list(dcarries_T)
        if cfg.readout != "last":
            return dcarries
        H, carry_type = cfg.hidden_size, self.cell.carry_type
        for d in range(cfg.directions):
            k = n - cfg.directions + d
            dh = dtop[:, d * H : (d + 1) * H]
            base = dcarries[k]
            if base is None:
                base = carry_type(*(np.zeros_like(dh) for _ in carry_type._fields))
            dcarries[k] = base._replace(h=base.h + dh)
        return dcarries

    def _layer_backward(
        self,
        params: Params,
        cache: ModelCache,
        layer: int,
        dx: Array | None,
        dcarries: list[Any],
        dcarries0: list[Any],
        grads: Params,
        observer: Any,
        input_grad: bool,
        release: bool,
    ) -> Array | None:
        """Both directions of one layer; returns dL/d(the layer's inputs) or None."""
        H, directions = self.config.hidden_size, self.config.directions
        prefixes = self.layer_prefixes()
        rev = cache.reverse_index
        dx_below = None
        for d in range(directions):
            k = layer * directions + d
            dhs = None if dx is None else dx[..., d * H : (d + 1) * H]
            if dhs is not None and d == 1:
                dhs = gather_time(dhs, rev)
            g, dxs, dcarries0[k] = backward(
                self.cell,
                self.cell_params(params, prefixes[k]),
                cache.tapes[k],
                dhs,
                dcarries[k],
                observer=None if observer is None else _bind_observer(observer, k),
                input_grad=input_grad,
                release=release,
                workspace=self.workspace,
            )
            if dxs is not None:
                if d == 1:
                    dxs = gather_time(dxs, rev)
                dx_below = dxs if dx_below is None else dx_below + dxs
            for field, value in zip(g._fields, g, strict=True):
                grads[f"{prefixes[k]}.{field}"] = value
        return dx_below


def _bind_observer(observer: Any, k: int) -> Any:
    return lambda t, dcarry: observer(k, t, dcarry)
