"""The accuracy-latency Pareto front of a cloud of evaluated subnets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_front(latency_ms: Sequence[float], accuracy: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points, fastest first.

    A point is dominated when another is at least as fast and at least as accurate, and strictly
    better in one of the two. Of exact duplicates the first is kept. Sorting by latency (then by
    accuracy, best first) makes one pass enough: a point is on the front iff it is more accurate
    than every faster point.
    """
    lat = np.asarray(latency_ms, dtype=np.float64)
    acc = np.asarray(accuracy, dtype=np.float64)
    if lat.shape != acc.shape:
        raise ValueError(f"{lat.size} latencies for {acc.size} accuracies")
    order = np.lexsort((np.arange(lat.size), -acc, lat))
    front: list[int] = []
    best = -np.inf
    for i in order:
        if acc[i] > best:
            front.append(int(i))
            best = acc[i]
    return front
