"""Bad input to bptt.engine.forward / backward: rejected where it enters, before any work,
with a message that names the argument, the actual value and the expected one.
"""

import re
from dataclasses import dataclass

import numpy as np
import pytest

from bptt.cells import GRUCarry, GRUCell, LSTMCarry, LSTMCell, LSTMParams, RNNCarry
from bptt.engine import backward, forward

T, B, D, H = 5, 3, 4, 6
work_done = []


@dataclass(frozen=True)
class SpyLSTMCell(LSTMCell):
    """An LSTMCell that records each call doing work, to show checks come first."""

    def input_projection(self, params, xs):
        work_done.append("input_projection")
        return super().input_projection(params, xs)

    def step_forward(self, params, xp_t, carry):
        work_done.append("step_forward")
        return super().step_forward(params, xp_t, carry)

    def step_backward(self, params, cache_t, dcarry):
        work_done.append("step_backward")
        return super().step_backward(params, cache_t, dcarry)


CELL = SpyLSTMCell()
_rng = np.random.default_rng(0)
PARAMS = CELL.init_params(_rng, D, H, dtype=np.float64)
GRU_PARAMS = GRUCell().init_params(_rng, D, H, dtype=np.float64)
XS = _rng.standard_normal((T, B, D))
CARRY0 = LSTMCarry(_rng.standard_normal((B, H)), _rng.standard_normal((B, H)))


def with_value(a, index, value):
    a = np.array(a)
    a[index] = value
    return a


def esc(text):
    return re.escape(text)


FORWARD_CASES = {
    "xs rank 2": (
        {"xs": XS[0]},
        ValueError,
        esc("`xs` must be time-major with shape (T, B, D), got shape (3, 4)."),
    ),
    "xs rank 4": (
        {"xs": XS[None]},
        ValueError,
        esc("`xs` must be time-major with shape (T, B, D), got shape (1, 5, 3, 4)."),
    ),
    "xs features": (
        {"xs": XS[:, :, :3]},
        ValueError,
        esc("`xs` has 3 features but the parameters expect D=4 (xs.shape=(5, 3, 3))."),
    ),
    "xs integer": (
        {"xs": XS.astype(np.int64)},
        TypeError,
        esc("`xs` has dtype int64 but a float (T, B, D) sequence is expected."),
    ),
    "xs bool": (
        {"xs": XS > 0},
        TypeError,
        esc("`xs` has dtype bool but a float (T, B, D) sequence is expected."),
    ),
    "xs complex": (
        {"xs": XS.astype(complex)},
        TypeError,
        esc("`xs` has dtype complex128; expected float32 or float64."),
    ),
    "xs NaN": (
        {"xs": with_value(XS, (1, 2, 0), np.nan)},
        ValueError,
        esc("`xs` contains NaN or Inf (first at index (1, 2, 0): nan)."),
    ),
    "xs Inf": (
        {"xs": with_value(XS, (4, 0, 3), np.inf)},
        ValueError,
        esc("`xs` contains NaN or Inf (first at index (4, 0, 3): inf)."),
    ),
    "xs -Inf": (
        {"xs": with_value(XS, (0, 1, 2), -np.inf)},
        ValueError,
        esc("`xs` contains NaN or Inf (first at index (0, 1, 2): -inf)."),
    ),
    "T=0": (
        {"xs": XS[:0]},
        ValueError,
        esc("`xs` is empty (T=0, B=3, shape=(0, 3, 4)); need at least one step"),
    ),
    "B=0": (
        {"xs": XS[:, :0]},
        ValueError,
        esc("`xs` is empty (T=5, B=0, shape=(5, 0, 4)); need at least one step"),
    ),
    "mask transposed": (
        {"mask": np.ones((B, T), dtype=bool)},
        ValueError,
        esc("`mask` has shape (3, 5) but the sequence needs (T, B) = (5, 3)."),
    ),
    "mask 1-D": (
        {"mask": np.ones(T, dtype=bool)},
        ValueError,
        esc("`mask` has shape (5,) but the sequence needs (T, B) = (5, 3)."),
    ),
    "mask value 2": (
        {"mask": with_value(np.ones((T, B), dtype=np.int64), (2, 1), 2)},
        TypeError,
        r"`mask` must hold booleans .*, got dtype int64 with values such as \[2\]",
    ),
    "mask value 0.5": (
        {"mask": with_value(np.ones((T, B)), (0, 0), 0.5)},
        TypeError,
        r"`mask` must hold booleans .*, got dtype float64 with values such as \[0\.5\]",
    ),
    "resets value 3": (
        {"resets": with_value(np.zeros((T, B), dtype=np.int64), (1, 1), 3)},
        TypeError,
        r"`resets` must hold booleans .*, got dtype int64 with values such as \[3\]",
    ),
    "resets shape": (
        {"resets": np.zeros((T, B + 1), dtype=bool)},
        ValueError,
        esc("`resets` has shape (5, 4) but the sequence needs (T, B) = (5, 3)."),
    ),
    "params of another cell": (
        {"params": GRU_PARAMS},
        TypeError,
        esc("`params` are GRUParams but the lstm cell expects LSTMParams."),
    ),
    "params mixed dtypes": (
        {"params": PARAMS._replace(b=PARAMS.b.astype(np.float32))},
        TypeError,
        esc("`params` must all be float32 or all float64, got dtypes ['float32', 'float64']."),
    ),
    "params integer": (
        {"params": LSTMParams(*(p.astype(np.int64) for p in PARAMS))},
        TypeError,
        esc("`params` must all be float32 or all float64, got dtypes ['int64']."),
    ),
    "params W_h of a GRU": (
        {"params": PARAMS._replace(W_h=GRU_PARAMS.W_h)},
        ValueError,
        esc("`params.W_h` has shape (6, 18) but the lstm cell expects (H, 4*H)."),
    ),
    "params W_x width": (
        {"params": PARAMS._replace(W_x=GRU_PARAMS.W_x)},
        ValueError,
        esc("`params.W_x` has shape (4, 18) but the lstm cell expects (D, 24)."),
    ),
    "params b shape": (
        {"params": PARAMS._replace(b=PARAMS.b[:-1])},
        ValueError,
        esc("`params.b` has shape (23,), expected (24,)."),
    ),
    "carry0 plain tuple": (
        {"carry0": tuple(CARRY0)},
        TypeError,
        esc("`carry0` is tuple but the lstm cell expects LSTMCarry('h', 'c'): build it as"),
    ),
    "carry0 of another cell": (
        {"carry0": GRUCarry(CARRY0.h)},
        TypeError,
        esc("`carry0` is GRUCarry but the lstm cell expects LSTMCarry('h', 'c'): build it as"),
    ),
    "carry0 h transposed": (
        {"carry0": CARRY0._replace(h=CARRY0.h.T)},
        ValueError,
        esc("`carry0.h` has shape (6, 3), expected (B, H) = (3, 6)."),
    ),
    "carry0 c batch": (
        {"carry0": CARRY0._replace(c=CARRY0.c[:2])},
        ValueError,
        esc("`carry0.c` has shape (2, 6), expected (B, H) = (3, 6)."),
    ),
    "carry0 NaN": (
        {"carry0": CARRY0._replace(c=with_value(CARRY0.c, (2, 5), np.nan))},
        ValueError,
        esc("`carry0.c` contains NaN or Inf (first at index (2, 5): nan)."),
    ),
}


@pytest.mark.parametrize("case", list(FORWARD_CASES))
def test_forward_rejects_bad_input_before_any_work(case):
    changes, error, message = FORWARD_CASES[case]
    kwargs = {"params": PARAMS, "xs": XS, "carry0": CARRY0, "mask": None, **changes}
    work_done.clear()
    with pytest.raises(error, match=message):
        forward(CELL, **kwargs)
    assert work_done == []


def test_good_input_is_accepted():
    work_done.clear()
    forward(CELL, PARAMS, XS, CARRY0, np.ones((T, B), dtype=bool))
    assert work_done == ["input_projection", *["step_forward"] * T]


def tape():
    return forward(CELL, PARAMS, XS, CARRY0)[2]


BACKWARD_CASES = {
    "dhs of H+1 units": (
        {"dhs": np.zeros((T, B, H + 1))},
        ValueError,
        esc("`dhs` has shape (5, 3, 7), expected (T, B, H) = (5, 3, 6)."),
    ),
    "dhs batch-first": (
        {"dhs": np.zeros((B, T, H))},
        ValueError,
        esc("`dhs` has shape (3, 5, 6), expected (T, B, H) = (5, 3, 6)."),
    ),
    "dhs of one step": (
        {"dhs": np.zeros((B, H))},
        ValueError,
        esc("`dhs` has shape (3, 6), expected (T, B, H) = (5, 3, 6)."),
    ),
    "dcarry_T of another cell": (
        {"dcarry_T": RNNCarry(CARRY0.h)},
        TypeError,
        esc("`dcarry_T` is RNNCarry but the lstm cell expects LSTMCarry('h', 'c'): build it"),
    ),
    "dcarry_T shape": (
        {"dcarry_T": CARRY0._replace(c=np.zeros((B, H + 1)))},
        ValueError,
        esc("`dcarry_T.c` has shape (3, 7), expected (B, H) = (3, 6)."),
    ),
    "dcarry_T Inf": (
        {"dcarry_T": CARRY0._replace(h=with_value(CARRY0.h, (0, 4), np.inf))},
        ValueError,
        esc("`dcarry_T.h` contains NaN or Inf (first at index (0, 4): inf)."),
    ),
}


@pytest.mark.parametrize("case", list(BACKWARD_CASES))
def test_backward_rejects_bad_input_before_any_work(case):
    changes, error, message = BACKWARD_CASES[case]
    kwargs = {"dhs": np.zeros((T, B, H)), "dcarry_T": None, **changes}
    the_tape = tape()
    work_done.clear()
    with pytest.raises(error, match=message):
        backward(CELL, PARAMS, the_tape, **kwargs)
    assert work_done == []


def test_backward_rejects_params_of_another_cell():
    """GRUParams must not reach LSTMCell.step_backward."""
    the_tape = tape()
    work_done.clear()
    with pytest.raises(TypeError, match=esc("`params` are GRUParams but the lstm cell expects")):
        backward(CELL, GRU_PARAMS, the_tape, np.zeros((T, B, H)))
    assert work_done == []


def test_backward_rejects_params_that_do_not_fit_the_tape():
    """Parameters for H=7 against a tape recorded with H=6."""
    other = CELL.init_params(np.random.default_rng(1), D, H + 1, dtype=np.float64)
    the_tape = tape()
    work_done.clear()
    with pytest.raises(
        ValueError,
        match=r"`params` \(D=4, H=7, float64\) do not fit the tape, recorded with D=4, H=6",
    ):
        backward(CELL, other, the_tape, np.zeros((T, B, H)))
    assert work_done == []


@pytest.mark.parametrize("shape", [(1,), (3 * H,)])
def test_gru_b_hn_of_the_wrong_shape_is_rejected(shape):
    """A (1,) b_hn would silently broadcast."""
    params = GRU_PARAMS._replace(b_hn=np.zeros(shape))
    with pytest.raises(ValueError, match=esc(f"`params.b_hn` has shape {shape}, expected (6,)")):
        forward(GRUCell(), params, XS)
