"""An accuracy predictor fitted on the evaluation cache, used only to pre-screen candidates.

Measuring a subnet's accuracy costs a BN recalibration and a val pass; predicting it costs
microseconds. When screening is on, the search draws several candidate children per slot, ranks
them with this predictor and measures only the most promising: the predictor decides which archs
are worth measuring, never which arch wins (the winner is always chosen on measured accuracy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor


class AccuracyPredictor:
    """A random forest on the numbers of an arch's JSON encoding.

    The arch is flattened to ``path -> number`` (``stages.1.depth``, ``stages.1.expand.0``): a
    generic encoding that needs nothing from the space. Positions an arch lacks (a shallower stage
    has fewer per-layer entries) read as 0. A forest copes with that mix of ordinal values and
    absent positions without feature scaling.
    """

    def __init__(self, model: RandomForestRegressor, columns: list[str], out_of_bag: dict[str, float]) -> None:
        self.model = model
        self.columns = columns
        self.out_of_bag = out_of_bag

    @classmethod
    def fit(
        cls, ids: Sequence[str], archs: Sequence[Mapping[str, Any]], accuracies: Sequence[float], seed: int
    ) -> AccuracyPredictor:
        if not len(ids) == len(archs) == len(accuracies) or len(archs) < 2:
            raise ValueError(f"need at least 2 archs with one id and accuracy each, got {len(ids)}/{len(archs)}/{len(accuracies)}")
        flat = [flatten_numbers(a) for a in archs]
        columns = sorted(set().union(*flat))
        model = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, oob_score=True, random_state=seed, n_jobs=1)
        model.fit(_matrix(flat, columns), np.asarray(accuracies, dtype=np.float64))
        oob = {i: float(p) for i, p in zip(ids, model.oob_prediction_, strict=True) if np.isfinite(p)}
        return cls(model, columns, oob)

    def predict(self, archs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.model.predict(_matrix([flatten_numbers(a) for a in archs], self.columns))

    def estimate(self, ids: Sequence[str], archs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Like ``predict``, but an arch the forest was fitted on gets its out-of-bag prediction.

        A forest predicts its own training points too well; comparing those with fresh archs'
        predictions would favour the known ones. Out-of-bag predictions (from the trees that did not
        see the point) are on the same footing as predictions for unseen archs.
        """
        fresh = self.predict(archs)
        return np.array([self.out_of_bag.get(i, float(p)) for i, p in zip(ids, fresh, strict=True)])


def flatten_numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a JSON value keyed by its dotted path (strings are skipped)."""
    out: dict[str, float] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            out.update(flatten_numbers(item, f"{prefix}{key}."))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            out.update(flatten_numbers(item, f"{prefix}{index}."))
    elif isinstance(value, bool | int | float):
        out[prefix.rstrip(".")] = float(value)
    return out


def _matrix(rows: list[dict[str, float]], columns: list[str]) -> np.ndarray:
    return np.array([[row.get(c, 0.0) for c in columns] for row in rows], dtype=np.float64)
