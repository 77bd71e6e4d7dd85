"""Composing transformations: ``chain`` applies several in sequence, as optax.chain does."""

from __future__ import annotations

from bptt.errors import BpttError
from bptt.optim.base import GradientTransformation
from bptt.optim.transforms import clip_by_global_norm
from bptt.types import Params


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` one after the other; the state is the tuple of their states.

    ``update`` feeds each link's output updates to the next, passing ``params`` to all of them.

    Example::

        opt = chain(clip_by_global_norm(1.0), scale_by_adam(), scale_by_learning_rate(1e-3))

    Args:
        *transforms: the links, first applied first.

    Returns:
        A GradientTransformation whose state is ``tuple(t.init(params) for t in transforms)``.
    """

    def init(params: Params) -> tuple:
        return tuple(t.init(params) for t in transforms)

    def update(updates: Params, state: tuple, params: Params | None = None):
        if len(state) != len(transforms):
            raise BpttError(
                f"`state` has {len(state)} entries but the chain has {len(transforms)} "
                "transformations. Build the state with this chain's own `init(params)`."
            )
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init, update)


def with_clipping(optimizer: GradientTransformation, max_norm: float) -> GradientTransformation:
    """``chain(clip_by_global_norm(max_norm), optimizer)``: clip gradients, then optimize.

    This is torch.nn.utils.clip_grad_norm_ before optimizer.step() (Pascanu et al. 2013).

    Args:
        optimizer: e.g. ``adam(1e-3)``.
        max_norm: the largest allowed global gradient norm, >= 0.
    """
    return chain(clip_by_global_norm(max_norm), optimizer)
