"""The supernet-quality benchmark's statistics, on numbers worked out by hand."""

from __future__ import annotations

import pytest

from bench.supernet_quality import best_under, kendall_tau, shared_archs, spearman, spread_pts
from elasticvit.space import load_space


def test_kendall_tau_counts_concordant_minus_discordant_pairs():
    # 5 items, one adjacent swap: 9 concordant and 1 discordant pair of 10 -> (9 - 1) / 10
    assert kendall_tau([1, 2, 3, 4, 5], [1, 2, 3, 5, 4]) == pytest.approx(0.8)
    assert kendall_tau([0.1, 0.2, 0.3], [0.9, 0.5, 0.1]) == pytest.approx(-1.0)
    # the first and last swapped in 4 items: 5 of 6 pairs discordant -> (1 - 5) / 6
    assert kendall_tau([1, 2, 3, 4], [4, 2, 3, 1]) == pytest.approx(-4 / 6)


def test_spearman_is_the_correlation_of_ranks():
    # ranks (1,2,3,4) vs (2,1,4,3): d^2 = 4 -> 1 - 6 * 4 / (4 * 15) = 0.6
    assert spearman([10, 20, 30, 40], [0.2, 0.1, 0.9, 0.8]) == pytest.approx(0.6)
    assert spearman([1, 2, 3], [1, 4, 9]) == pytest.approx(1.0)


def test_a_constant_list_has_no_ranking():
    assert kendall_tau([1, 2, 3], [0.5, 0.5, 0.5]) is None
    assert spearman([0.1, 0.1, 0.1], [1, 2, 3]) is None


def test_spread_is_best_minus_worst_in_points():
    assert spread_pts([0.61, 0.655, 0.7]) == pytest.approx(9.0)


def test_best_under_a_latency_budget():
    accs, lats = [0.70, 0.75, 0.64], [1.7, 2.5, 1.1]
    assert best_under(accs, lats, 1.8) == 0.70
    assert best_under(accs, lats, 1.7) == 0.70  # at the budget counts
    assert best_under(accs, lats, 1.0) is None


def test_an_earlier_reports_archs_are_compared_only_where_the_space_holds_them():
    space = load_space("cifar")
    inside = space.largest().id
    outside = inside.replace("t128", "t144")  # wider than the space's last stage allows
    earlier = {"archs": [{"name": "largest", "arch_id": inside, "inherited_val": 0.7, "standalone_val": 0.71},
                         {"name": "wider", "arch_id": outside, "inherited_val": 0.6, "standalone_val": None}]}
    assert shared_archs(earlier, space) == [{"name": "largest", "arch_id": inside, "earlier_inherited_val": 0.7,
                                            "earlier_standalone_val": 0.71}]
