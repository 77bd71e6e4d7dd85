"""RNNClassifier and RNNRegressor pass scikit-learn's estimator checks and work in its tools.

The checks run on small instances (few units and epochs) so the suite stays fast; the
parameters that differ from the defaults, and why:

- ``normalize="none"``: the checks' data are tables of 2 to 10 unrelated columns (blobs,
  make_regression), not series; z-normalising each row (the default, the UCR convention)
  would remove the offsets that separate the blobs. Series data keeps the default.
- the regressor reads the final state (``readout="last"``, unidirectional): its target is a
  linear function of the columns *in order*, which pooling over time does not keep.

No check is expected to fail; scikit-learn itself skips ``check_array_api_input`` unless
SCIPY_ARRAY_API=1 is set (bptt computes in NumPy only).
"""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from bptt.sklearn import RNNClassifier, RNNRegressor, load

CHECKED = [
    RNNClassifier(hidden_size=8, max_epochs=40, patience=10, normalize="none"),
    RNNRegressor(
        hidden_size=16,
        max_epochs=60,
        patience=20,
        normalize="none",
        readout="last",
        bidirectional=False,
    ),
]


@parametrize_with_checks(CHECKED)
def test_scikit_learn_checks(estimator, check):
    with np.errstate(all="ignore"):  # the checks feed extreme values on purpose
        check(estimator)


def _tiny(**kw):
    return RNNClassifier(
        **{"hidden_size": 6, "max_epochs": 15, "patience": 5, "random_state": 0, **kw}
    )


def _series(n=40, T=12, D=1, seed=0):
    """Two classes of noisy series: a rising and a falling ramp."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    ramp = np.linspace(-1, 1, T)[None, :, None]
    X = np.where(y[:, None, None] == 1, ramp, -ramp) + 0.3 * rng.standard_normal((n, T, D))
    return X, np.array(["down", "up"])[y]


def test_learns_string_labels_and_layouts():
    X, y = _series(D=2)
    clf = _tiny().fit(X, y)
    assert clf.classes_.tolist() == ["down", "up"]
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    aeon = _tiny(layout="NCT").fit(X.transpose(0, 2, 1), y)  # (n_cases, n_channels, T)
    np.testing.assert_array_equal(aeon.predict_proba(X.transpose(0, 2, 1)), proba)
    assert clf.n_channels_ == 2 and clf.n_features_in_ == 2


def test_unequal_lengths_as_lists_and_nan_padding():
    X, y = _series()
    ragged = [x[: 6 + i % 7, 0] for i, x in enumerate(X)]  # lengths 6..12, each (T_n,)
    padded = np.full((len(ragged), 12), np.nan)
    for i, x in enumerate(ragged):
        padded[i, : len(x)] = x
    a = _tiny().fit(ragged, y)
    b = _tiny().fit(padded, y)
    np.testing.assert_allclose(a.predict_proba(ragged), b.predict_proba(padded), rtol=1e-12)
    np.testing.assert_allclose(a.predict_proba(padded), b.predict_proba(ragged), rtol=1e-12)
    with pytest.raises(ValueError, match="NaN at step 1, inside the series"):
        a.predict([np.array([1.0, np.nan, 2.0])])
    with pytest.raises(ValueError, match="features per step"):
        a.predict(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="as a list of arrays"):
        b.predict(np.zeros((2, 5)))  # a table of another width; a list is accepted
    assert a.predict([np.zeros(30)]).shape == (1,)


def test_pipeline_grid_search_and_cross_val_score():
    X, y = _series(n=32)
    flat = X[:, :, 0]
    pipe = make_pipeline(FunctionTransformer(lambda a: 2.0 * a), _tiny())
    assert pipe.fit(flat, y).score(flat, y) > 0.9
    grid = GridSearchCV(Pipeline([("rnn", _tiny())]), {"rnn__readout": ["mean", "last"]}, cv=2).fit(
        flat, y
    )
    assert grid.best_params_["rnn__readout"] in ("mean", "last")
    scores = cross_val_score(_tiny(), flat, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8


def test_save_and_load_without_pickle(tmp_path):
    X, y = _series(n=24)
    clf = _tiny(n_models=2, normalize="channel").fit(X, y)
    path = clf.save(tmp_path / "clf.npz")
    with np.load(path, allow_pickle=False) as data:
        assert "params/member1/readout.W" in data.files
    again = load(path)
    assert type(again) is RNNClassifier and again.get_params() == clf.get_params()
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(again.classes_, clf.classes_)
    reg = RNNRegressor(hidden_size=6, max_epochs=5, random_state=0).fit(X, np.arange(24.0))
    np.testing.assert_array_equal(load(reg.save(tmp_path / "reg.npz")).predict(X), reg.predict(X))
    for labels in (np.array([3, 7] * 12), np.array(["a", "b"] * 12, dtype=object)):
        saved = load(_tiny(max_epochs=2).fit(X, labels).save(tmp_path / "labels.npz"))
        assert saved.classes_.dtype == labels.dtype
        assert set(saved.predict(X)) <= set(labels)


def test_ensemble_validation_and_verbose(capsys):
    X, y = _series(n=30)
    clf = _tiny(n_models=3, verbose=1).fit(X, y)
    assert len(clf.members_) == 3 and len(clf.history_) == 3
    assert all(0 < h.best_epoch <= h.epochs <= 15 for h in clf.history_)
    assert "model 3/3" in capsys.readouterr().err
    single = [_tiny(random_state=s).fit(X, y).predict_proba(X) for s in range(3)]
    assert not np.allclose(single[0], single[1])  # members differ
    assert clf.predict_proba(X).shape == (30, 2)


def test_partial_fit_and_regression():
    X, y = _series(n=24)
    clf = _tiny()
    for _ in range(3):
        clf.partial_fit(X[:12], y[:12], classes=["down", "up"])
    assert clf.partial_fit_calls_ == 3
    assert clf.predict(X).shape == (24,)
    target = X[:, :, 0].sum(axis=1, keepdims=True) * [1.0, -2.0]  # (24, 2)
    reg = RNNRegressor(hidden_size=8, max_epochs=30, random_state=0, readout="last")
    assert reg.fit(X, target).predict(X).shape == (24, 2)
    assert reg.fit(X, target[:, 0]).predict(X).shape == (24,)


def test_bad_parameters_are_refused_at_fit():
    X, y = _series(n=8)
    for params, match in [
        ({"normalize": "z"}, "normalize"),
        ({"readout": "all"}, "readout"),
        ({"crop": 0.0}, "crop"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
    ]:
        with pytest.raises(ValueError, match=match):
            _tiny(**params).fit(X, y)
