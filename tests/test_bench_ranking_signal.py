"""bench.ranking_signal's statistics, on hand-made numbers."""

from __future__ import annotations

import pytest

import numpy as np

from bench.ranking_signal import agreement, gap_with_interval


def test_a_lower_loss_counts_as_a_better_rank() -> None:
    test = [0.60, 0.65, 0.70, 0.75]
    rows = [{"test_top1": t, "val_top1": 1.0 - t, "val_loss": 2.0 - t, "train_top1": t if i else 0.9}
            for i, t in enumerate(test)]
    found = agreement(rows)
    assert found["val_cross_entropy"] == {"spearman": 1.0, "kendall_tau": 1.0}
    assert found["val_top1"] == {"spearman": -1.0, "kendall_tau": -1.0}
    # train puts the worst subnet first, the others in order: rank differences 3, -1, -1, -1
    assert found["train_top1"]["spearman"] == pytest.approx(1 - 6 * 12 / (4 * 15))


def test_a_constant_statistic_ranks_nothing() -> None:
    rows = [{"test_top1": t, "val_top1": 0.5, "val_loss": 1.0, "train_top1": 0.5} for t in (0.6, 0.7, 0.8)]
    assert agreement(rows)["val_top1"] == {"spearman": None, "kendall_tau": None}


def test_a_gap_every_image_shows_has_no_spread_and_one_half_the_images_show_has_an_interval() -> None:
    assert gap_with_interval(np.ones(50), np.zeros(50)) == {"gap": 1.0, "low": 1.0, "high": 1.0}
    half = gap_with_interval(np.r_[np.ones(250), np.zeros(250)], np.zeros(500))
    assert half["gap"] == 0.5 and 0.40 < half["low"] < 0.5 < half["high"] < 0.60
