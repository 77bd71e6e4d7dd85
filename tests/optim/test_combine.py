"""chain and with_clipping: composition equals applying each transform by hand."""

import numpy as np
import pytest

from bptt.optim import (
    adam,
    add_decayed_weights,
    apply_updates,
    chain,
    clip_by_global_norm,
    scale,
    scale_by_adam,
    trace,
    with_clipping,
)


def make_params():
    rng = np.random.default_rng(3)
    return {"layers.0.W_h": rng.normal(size=(5, 5)), "readout.b": rng.normal(size=(2,))}


def test_chain_equals_applying_each_transform_by_hand():
    # optax's test_chain: the chained update equals the links applied one after another.
    links = [clip_by_global_norm(0.5), scale_by_adam(), add_decayed_weights(0.1), trace(0.9)]
    links.append(scale(-0.01))
    chained = chain(*links)
    params = make_params()
    chained_params, manual_params = params, params
    chained_state = chained.init(params)
    manual_states = [t.init(params) for t in links]
    rng = np.random.default_rng(4)
    for _ in range(4):
        g = {k: rng.normal(size=v.shape) for k, v in params.items()}
        updates, chained_state = chained.update(g, chained_state, chained_params)
        chained_params = apply_updates(chained_params, updates)
        for i, t in enumerate(links):
            g, manual_states[i] = t.update(g, manual_states[i], manual_params)
        manual_params = apply_updates(manual_params, g)
        for k in params:
            np.testing.assert_array_equal(chained_params[k], manual_params[k])
    assert isinstance(chained_state, tuple) and len(chained_state) == len(links)
    assert chained_state[1].count == 4


def test_chain_of_nothing_is_the_identity():
    g = make_params()
    updates, state = chain().update(g, chain().init(g))
    assert state == ()
    assert all(updates[k] is g[k] for k in g)


def test_chain_rejects_a_state_from_another_chain():
    params = make_params()
    with pytest.raises(ValueError, match=r"`state` has 1 entries but the chain has 2"):
        chain(scale(1.0), scale(2.0)).update(params, (scale(1.0).init(params),))


def test_with_clipping_is_clip_then_optimizer():
    params = make_params()
    g = {k: 10 * v for k, v in params.items()}
    clipped = with_clipping(adam(1e-2), max_norm=1.0)
    by_hand = chain(clip_by_global_norm(1.0), adam(1e-2))
    u1, _ = clipped.update(g, clipped.init(params), params)
    u2, _ = by_hand.update(g, by_hand.init(params), params)
    for k in params:
        np.testing.assert_array_equal(u1[k], u2[k])


def test_apply_updates_returns_new_arrays_with_the_params_dtype():
    params = {"w": np.ones(3, np.float32)}
    new = apply_updates(params, {"w": np.full(3, 0.5)})
    assert new["w"].dtype == np.float32
    np.testing.assert_array_equal(new["w"], 1.5)
    np.testing.assert_array_equal(params["w"], 1.0)


def test_apply_updates_rejects_mismatched_keys():
    with pytest.raises(ValueError, match=r"`updates` has keys \['v'\] but `params` has keys"):
        apply_updates({"w": np.ones(2)}, {"v": np.ones(2)})
