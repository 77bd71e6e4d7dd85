"""RNNClassifier and RNNRegressor: a recurrent network behind scikit-learn's ``fit``/``predict``.

Inputs (``layout``; see :func:`bptt.data.preprocess.collate`):

    "NTD" (default)  (n_samples, n_timesteps) univariate, or (n_samples, n_timesteps,
                     n_features): scikit-learn's tables with one column per step, Keras's
                     and PyTorch's batch_first sequences
    "NCT"            (n_cases, n_channels, n_timepoints): aeon's and sktime's numpy3D

A 2-D array is N univariate series in both layouts. A list of N arrays holds series of
different lengths, each (T_n,) or (T_n, D) ("NTD") or (D, T_n) ("NCT"); in an array, NaN in
every channel from some step on marks the end of a shorter series. Labels may be of any
type (strings, integers, objects); ``classes_`` keeps them sorted, as scikit-learn does.

The recipe (every default chosen on validation splits, never on a test split; see
docs/results.md): each series z-normalised per channel (``normalize="series"``, the UCR
convention), series longer than ``max_steps`` cut into patches of k consecutive steps (one
step of k * D features, k = ceil(T / max_steps)), a bidirectional GRU whose outputs are
pooled over time (``readout="meanmax"``: mean and max of every valid step side by side),
AdamW with global-norm clipping, window-slicing and jitter augmentation, early stopping on a
stratified ``validation_fraction`` of the training data with the best parameters restored,
and ``n_models`` members trained from different seeds on different validation splits whose
probabilities are averaged.

Example::

    from bptt.sklearn import RNNClassifier
    clf = RNNClassifier(random_state=0).fit(X_train, y_train)  # X (n, T) or (n, T, D)
    clf.predict(X_test), clf.predict_proba(X_test), clf.score(X_test, y_test)
    clf.save("model.npz"); same = bptt.sklearn.load("model.npz")
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from bptt.data.preprocess import (
    channel_statistics,
    collate,
    patch_size,
    standardise,
    znormalise_series,
)
from bptt.errors import BpttError
from bptt.model import Model, ModelConfig
from bptt.model.pooling import POOLINGS
from bptt.sklearn._fit import Data, Settings, outputs_of, train_member
from bptt.train.classification import stratified_holdout
from bptt.types import Params

NORMALIZATIONS = ("series", "channel", "none")
READOUTS = ("last", *POOLINGS)


class _RNNEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, inputs, the members."""

    _loss = "xent"

    def __init__(
        self,
        *,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        readout: str = "meanmax",
        dropout: float = 0.0,
        readout_dropout: float = 0.0,
        normalize: str = "series",
        max_steps: int = 64,
        jitter: float = 0.0,
        crop: float = 1.0,
        batch_size: int = 16,
        learning_rate: float = 3e-3,
        weight_decay: float = 0.0,
        clip: float = 1.0,
        max_epochs: int = 200,
        patience: int = 30,
        validation_fraction: float = 0.2,
        n_models: int = 1,
        layout: str = "NTD",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.readout = readout
        self.dropout = dropout
        self.readout_dropout = readout_dropout
        self.normalize = normalize
        self.max_steps = max_steps
        self.jitter = jitter
        self.crop = crop
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clip = clip
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_models = n_models
        self.layout = layout
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # -- checks ---------------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("hidden_size", "num_layers", "max_steps", "batch_size", "max_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise BpttError(f"`{name}` must be an integer >= 1, got {value!r}.")
        for name in ("patience", "n_models"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise BpttError(f"`{name}` must be an integer >= 1, got {value!r}.")
        if self.normalize not in NORMALIZATIONS:
            raise BpttError(f"`normalize` must be one of {NORMALIZATIONS}, got {self.normalize!r}.")
        if self.readout not in READOUTS:
            raise BpttError(f"`readout` must be one of {READOUTS}, got {self.readout!r}.")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise BpttError(
                f"`validation_fraction` must be in [0, 1), got {self.validation_fraction!r}."
            )
        if not 0.0 < self.crop <= 1.0:
            raise BpttError(f"`crop` must be in (0, 1], got {self.crop!r}.")
        for name in ("jitter", "weight_decay", "clip"):
            if not getattr(self, name) >= 0:
                raise BpttError(f"`{name}` must be >= 0, got {getattr(self, name)!r}.")
        if not self.learning_rate > 0:
            raise BpttError(f"`learning_rate` must be > 0, got {self.learning_rate!r}.")

    def _settings(self) -> Settings:
        return Settings(
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            clip=float(self.clip),
            max_epochs=int(self.max_epochs),
            patience=int(self.patience),
            jitter=float(self.jitter),
            crop=float(self.crop),
            patch=int(self.patch_),
            loss=self._loss,
        )

    # -- inputs ---------------------------------------------------------------------------
    def _inputs(self, X: Any, *, fit: bool) -> tuple[np.ndarray, np.ndarray]:
        """X collated, normalised with what fit learnt: (xs (T, N, D), lengths (N,))."""
        xs, lengths, table = collate(X, self.layout)
        D = xs.shape[2]
        if fit:
            self.n_features_in_ = int(D if table is None else table)
            self.n_channels_ = int(D)
            self.table_width_ = table
            self.patch_ = patch_size(int(lengths.max()), int(self.max_steps))
        elif self.n_channels_ != D:
            raise BpttError(
                f"X has {D} features per step, but {type(self).__name__} is expecting "
                f"{self.n_channels_} features per step as input (layout {self.layout!r})."
            )
        elif table is not None and self.table_width_ is not None and table != self.table_width_:
            # scikit-learn's contract for tables; series of other lengths come as a list
            raise BpttError(
                f"X has {table} features, but {type(self).__name__} is expecting "
                f"{self.table_width_} features as input: a 2-D array is a table of "
                f"{self.table_width_} time steps, as in fit. Pass series of other lengths as "
                "a list of arrays (or NaN-padded to the fitted width)."
            )
        if self.normalize == "series":
            xs = znormalise_series(xs, lengths)
        elif self.normalize == "channel":
            if fit:
                self.channel_mean_, self.channel_std_ = channel_statistics(xs, lengths)
            xs = standardise(xs, lengths, self.channel_mean_, self.channel_std_)
        return xs, lengths

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _model(self, output_size: int) -> Model:
        return Model(
            ModelConfig(
                cell=self.cell,
                hidden_size=int(self.hidden_size),
                input_size=int(self.n_channels_ * self.patch_),
                num_layers=int(self.num_layers),
                bidirectional=bool(self.bidirectional),
                dropout=float(self.dropout),
                readout_dropout=float(self.readout_dropout),
                output_size=output_size,
                readout=self.readout,
            )
        )

    def _log(self, text: str) -> None:
        print(f"[{type(self).__name__}] {text}", file=sys.stderr, flush=True)

    # -- training -------------------------------------------------------------------------
    def _fit(self, X: Any, targets: np.ndarray, output_size: int, stratify: bool) -> Any:
        self._check_params()
        xs, lengths = self._inputs(X, fit=True)
        if targets.shape[0] != lengths.size:
            raise BpttError(f"X holds {lengths.size} series but y has {targets.shape[0]} targets.")
        data = Data(xs, lengths, targets)
        model = self._model(output_size)
        seed = self._seed()
        members, histories = [], []
        for m in range(int(self.n_models)):
            train, valid = self._holdout(data, stratify, seed + m)
            log = self._log if self.verbose >= 2 else None
            params, _, history = train_member(model, train, valid, self._settings(), seed + m,
                                              log=log)  # fmt: skip
            if self.verbose >= 1:
                self._log(
                    f"model {m + 1}/{self.n_models}: {history.epochs} epochs, best "
                    f"{history.best_epoch} (valid loss {history.best_loss:.4f}), "
                    f"{history.seconds:.1f} s"
                )
            members.append(params)
            histories.append(history)
        self.members_ = members
        self.opt_states_ = [None] * len(members)  # partial_fit goes on with a fresh optimizer
        self.partial_fit_calls_ = 0
        self.history_ = histories
        self.model_config_ = model.config
        self.n_outputs_ = output_size
        return self

    def _holdout(self, data: Data, stratify: bool, seed: int) -> tuple[Data, Data | None]:
        """(train, valid): a seeded ``validation_fraction`` held out, stratified by class."""
        n = data.lengths.size
        if self.validation_fraction == 0 or n < 4:
            return data, None
        if stratify:
            keep, held = stratified_holdout(data.y, self.validation_fraction, seed)
        else:
            order = np.random.default_rng(seed).permutation(n)
            k = max(1, round(self.validation_fraction * n))
            keep, held = np.sort(order[k:]), np.sort(order[:k])
        if held.size == 0 or keep.size == 0:
            return data, None
        return data.take(keep), data.take(held)

    def _partial_fit(self, X: Any, targets: np.ndarray, output_size: int) -> Any:
        """One more epoch on (X, targets) for every member, without early stopping."""
        first = not hasattr(self, "members_")
        if first:
            self._check_params()
        xs, lengths = self._inputs(X, fit=first)
        data = Data(xs, lengths, targets)
        if first:
            self.model_config_ = self._model(output_size).config
            self.n_outputs_ = output_size
            self.members_ = [None] * int(self.n_models)
            self.opt_states_ = [None] * int(self.n_models)
            self.history_ = []
            self.partial_fit_calls_ = 0
        model = Model(self.model_config_)
        settings = self._settings()._replace(max_epochs=1)
        seed = self._seed() + 1000 * self.partial_fit_calls_
        for m in range(len(self.members_)):
            params, state, _ = train_member(
                model,
                data,
                None,
                settings,
                seed + m,
                params=self.members_[m],
                opt_state=self.opt_states_[m],
            )
            self.members_[m], self.opt_states_[m] = params, state
        self.partial_fit_calls_ += 1
        return self

    # -- inference ------------------------------------------------------------------------
    def _outputs(self, X: Any) -> np.ndarray:
        """Every member's outputs (n_models, N, O), computed in float64."""
        check_is_fitted(self, "members_")
        xs, lengths = self._inputs(X, fit=False)
        data = Data(xs, lengths, np.zeros(lengths.size))
        model = Model(self.model_config_)
        return np.stack(
            [
                outputs_of(model, _float64(params), data, int(self.patch_))
                for params in self.members_
            ]
        )

    # -- files ----------------------------------------------------------------------------
    def save(self, path: Any) -> Any:
        """Write the fitted estimator to ``path`` (.npz arrays + a JSON header, no pickle);
        read it back with :func:`bptt.sklearn.load`. Returns the path."""
        from bptt.sklearn.persist import save_estimator

        return save_estimator(self, path)


def _float64(params: Params) -> Params:
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):
        e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


class RNNClassifier(ClassifierMixin, _RNNEstimator):
    """A recurrent sequence classifier trained with BPTT (see the module docstring).

    Parameters:
        cell: "gru", "lstm", "rnn", "relu" or "irnn".
        hidden_size: H, units per direction.
        num_layers: stacked recurrent layers.
        bidirectional: a reverse-time direction in every layer.
        readout: "meanmax" (mean and max of the top layer's outputs over time), "mean",
            "max", "attention" (Raffel & Ellis) or "last" (the final states).
        dropout: between layers; readout_dropout: on the pooled vector.
        normalize: "series" (each series and channel to mean 0, std 1), "channel" (each
            channel with the training data's mean and std) or "none".
        max_steps: series longer than this are cut into patches of k = ceil(T / max_steps)
            consecutive steps (one step of k * D features).
        jitter: standard deviation of Gaussian noise added to training inputs (0: off).
        crop: window slicing, each training series cut to a random window of this share of
            its length at every epoch (1: off).
        batch_size, learning_rate, weight_decay, clip: minibatches and AdamW with global-norm
            clipping (clip 0: off).
        max_epochs, patience: at most this many epochs; stop after ``patience`` epochs
            without a better validation loss and keep the best parameters.
        validation_fraction: the share of the training series held out (stratified) for
            early stopping; 0 trains ``max_epochs`` epochs on everything.
        n_models: an ensemble of this many models (seeds and held-out series differ); their
            probabilities are averaged.
        layout: "NTD" or "NCT" for 3-D arrays (see the module docstring).
        random_state: None, an int or a RandomState; an int makes ``fit`` deterministic.
        verbose: 0 silent, 1 a line per model, 2 a line per epoch (on stderr).

    Attributes:
        classes_: the sorted class labels; n_features_in_: columns of a 2-D X (else D);
        n_channels_: D; patch_: k; members_: the parameters of every model; history_: one
        ``History`` (epochs, best epoch, validation losses, seconds) per model.
    """

    def fit(self, X: Any, y: Any) -> RNNClassifier:
        """Fit the models to series X and labels y (n_samples,)."""
        encoded = self._encode(y, first=True)
        return self._fit(X, encoded, len(self.classes_), stratify=True)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> RNNClassifier:
        """One more epoch over (X, y); ``classes`` (every label) is needed on the first call
        unless y holds them all. Normalisation and patch length come from the first call."""
        first = not hasattr(self, "members_")
        if first and classes is not None:
            self.classes_ = np.unique(np.asarray(classes))
        encoded = self._encode(y, first=first and classes is None)
        return self._partial_fit(X, encoded, len(self.classes_))

    def _encode(self, y: Any, *, first: bool) -> np.ndarray:
        if y is None:
            raise BpttError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name="y")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y)
            if self.classes_.size < 2:
                raise BpttError(
                    f"{type(self).__name__} needs at least 2 classes in y, got one class: "
                    f"{self.classes_[0]!r}."
                )
        index = np.searchsorted(self.classes_, y)
        index = np.minimum(index, self.classes_.size - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise BpttError(
                f"y holds labels {np.unique(y[unknown])[:5].tolist()} that are not among "
                f"classes_ {self.classes_.tolist()[:10]}."
            )
        return index.astype(np.int64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n_samples, n_classes) class probabilities, averaged over the models."""
        return _softmax(self._outputs(X)).mean(axis=0)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each series."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class RNNRegressor(RegressorMixin, _RNNEstimator):
    """A recurrent sequence regressor trained with BPTT: targets y (n_samples,) or
    (n_samples, n_outputs), standardised for training (MSE loss) and mapped back in
    ``predict``. Parameters as :class:`RNNClassifier` (the held-out series are drawn
    without stratification); ``score`` is R^2."""

    _loss = "mse"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode(self, y: Any, *, first: bool) -> np.ndarray:
        if y is None:
            raise BpttError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if first:
            self.y_ndim_ = y.ndim
            values = y.reshape(len(y), -1)
            self.y_mean_ = values.mean(axis=0)
            std = values.std(axis=0)
            self.y_scale_ = np.where(std > 1e-12, std, 1.0)
        return (y.reshape(len(y), -1) - self.y_mean_) / self.y_scale_

    def fit(self, X: Any, y: Any) -> RNNRegressor:
        """Fit the models to series X and targets y."""
        targets = self._encode(y, first=True)
        return self._fit(X, targets, targets.shape[1], stratify=False)

    def partial_fit(self, X: Any, y: Any) -> RNNRegressor:
        """One more epoch over (X, y); the target scaling comes from the first call."""
        targets = self._encode(y, first=not hasattr(self, "members_"))
        return self._partial_fit(X, targets, targets.shape[1])

    def predict(self, X: Any) -> np.ndarray:
        """The mean prediction of the models, in the units of y."""
        values = self._outputs(X).mean(axis=0) * self.y_scale_ + self.y_mean_
        return values[:, 0] if self.y_ndim_ == 1 else values
