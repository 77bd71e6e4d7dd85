"""Scikit-learn estimators over bptt's recurrent networks: ``RNNClassifier`` and
``RNNRegressor`` (``fit``, ``predict``, ``predict_proba``, ``score``, ``partial_fit``), and
``load`` for a saved estimator. Needs scikit-learn: ``pip install 'bptt[sklearn]'``.
"""

from bptt.errors import MissingExtraError

try:
    import sklearn  # noqa: F401
except ImportError:  # pragma: no cover - the extra is part of the test install
    raise MissingExtraError(
        "bptt.sklearn needs the package `scikit-learn`. Install the optional extra with "
        "`pip install 'bptt[sklearn]'`."
    ) from None

from bptt.sklearn.estimators import RNNClassifier, RNNRegressor
from bptt.sklearn.persist import load

__all__ = ["RNNClassifier", "RNNRegressor", "load"]
