"""Online gradient estimators for one recurrent layer, measured against the exact gradient.

One interface (``base.Estimator``: consume one step, emit a gradient estimate) for

    bptt        full BPTT over the sequence, the exact gradient (``backprop``)
    tbptt:K     truncated BPTT(K, K) (``backprop``)
    artbp:K     random truncation with compensation factors, mean segment K (``artbp``)
    rtrl        Real-Time Recurrent Learning, exact, O(n^4) per step (``rtrl``)
    uoro        Unbiased Online Recurrent Optimization, rank one, O(n^2) (``uoro``)
    snap1       SnAp-1, the influence on each parameter's own unit (``snap``)
    snap2       SnAp-2, the units reached in two steps through W_h's non-zeros (``snap``)
    eprop       e-prop, eligibility traces with symmetric feedback (``eprop``)
    eprop-random  e-prop with random feedback weights

``compare.compare_estimators`` measures cosine, bias, variance and cost of each against full
BPTT on the same model, data and state; ``train.train_online`` updates a model with any of
them every step or every k steps. The immediate Jacobians they all share are in
``jacobians``, derived by hand per cell.
"""

from __future__ import annotations

from bptt.errors import BpttError
from bptt.online.artbp import ARTBP
from bptt.online.backprop import TruncatedBPTT, full_bptt
from bptt.online.base import Estimator, Sizes, StepInput
from bptt.online.eprop import EProp
from bptt.online.rtrl import RTRL
from bptt.online.snap import SnAp
from bptt.online.uoro import UORO

ESTIMATOR_NAMES = (
    "bptt",
    "tbptt:K",
    "artbp:K",
    "rtrl",
    "uoro",
    "snap1",
    "snap2",
    "eprop",
    "eprop-random",
)
"""How ``make_estimator`` spells each estimator (K a number of steps)."""


def make_estimator(spec: str, **options: object) -> Estimator:
    """The estimator a name spells (see ESTIMATOR_NAMES), e.g. "tbptt:10" or "snap2".

    Args:
        spec: the name, with ":K" for tbptt and artbp.
        options: keyword settings of the estimator's class (``max_bytes`` for rtrl and
            snapN, ``mask`` for snapN).

    Raises:
        BpttError: an unknown name or a bad K.
    """
    name, _, arg = str(spec).strip().partition(":")
    simple = {"bptt": full_bptt, "rtrl": RTRL, "uoro": UORO}
    if name in simple and not arg:
        return simple[name](**options)  # type: ignore[operator]
    if name in ("eprop", "eprop-random") and not arg:
        return EProp("random" if name == "eprop-random" else "symmetric")
    if name.startswith("snap") and name[4:].isdigit() and not arg:
        return SnAp(int(name[4:]), **options)  # type: ignore[arg-type]
    if name in ("tbptt", "artbp") and arg:
        try:
            k = int(arg)
        except ValueError:
            k = 0
        if k < 1 or (name == "artbp" and k < 2):
            raise BpttError(
                f"Estimator {spec!r}: K must be an integer >= {1 if name == 'tbptt' else 2}, "
                f"as in {name}:10."
            )
        return TruncatedBPTT(k) if name == "tbptt" else ARTBP(k)
    raise BpttError(
        f"Unknown estimator {spec!r}; expected one of {', '.join(ESTIMATOR_NAMES)} "
        "(K a number of steps, e.g. tbptt:10)."
    )


__all__ = [
    "ARTBP",
    "ESTIMATOR_NAMES",
    "RTRL",
    "UORO",
    "EProp",
    "Estimator",
    "Sizes",
    "SnAp",
    "StepInput",
    "TruncatedBPTT",
    "full_bptt",
    "make_estimator",
]
