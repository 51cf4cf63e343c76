"""When a run is too short to trust: plain sentences computed from its records, for the page and
the closing table. Each rule names what it saw, so a reader can judge the figures themselves."""

from __future__ import annotations

from collections.abc import Sequence

from elasticvit.export.run import ExportReport
from elasticvit.report.history import TrainingCurve

STILL_RISING_PTS = 2.0
"""A probe that gained more than this over the last quarter of the epochs was still learning."""
UNTRAINED_ACC = 0.5
"""Below this val top-1 the supernet's best probe is far from trained on any task worth searching."""
TEST_GAP_PTS = 5.0
"""A chosen subnet this much worse on test than on val was picked on noise in the val images."""


def trust_warnings(
    curve: TrainingCurve | None, exports: Sequence[ExportReport], noisy_devices: Sequence[str] = ()
) -> list[str]:
    """Sentences that say why the run's figures should not be trusted yet; empty when none applies.

    ``noisy_devices`` were searched on a latency table their validation called noise
    (``search.allow_noisy_latency``).
    """
    warnings: list[str] = [
        f"{device}'s latency table is untrusted: timed twice, the device disagreed with itself too often "
        "(its validation.json), so its budgets and chosen subnets rest on noise; measure it on a quiet machine"
        for device in noisy_devices
    ]
    if curve is not None and curve.epochs:
        warnings += _still_rising(curve)
        best = max(values[-1] for values in curve.accuracy.values()) if curve.accuracy else None
        if best is not None and best < UNTRAINED_ACC:
            warnings.append(f"the supernet's best probe subnet reaches only {100 * best:.1f} % val after "
                            f"{len(curve.epochs)} epochs: far from trained, so searched accuracies mean little")
    for export in exports:
        for m in export.models:
            if m.measured_ms is not None and m.measured_ms > m.budget_ms:
                warnings.append(f"{m.name} measured {m.measured_ms:.3f} ms on {export.device}, over its "
                                f"{m.budget_ms:.4g} ms budget: no candidate the search timed held it")
            gap = 100 * (m.val_accuracy - m.test_accuracy)
            if gap > TEST_GAP_PTS:
                warnings.append(f"{m.name} scores {gap:.1f} pts lower on test than on the val images it was "
                                "chosen on: the val split is too small or too easy to rank subnets")
    return warnings


def _still_rising(curve: TrainingCurve) -> list[str]:
    tail = max(2, len(curve.epochs) // 4)
    if len(curve.epochs) <= tail:
        return [f"only {len(curve.epochs)} epoch(s) of supernet training: too few to tell whether it has "
                "learned the task"]
    rising = []
    for level, values in curve.accuracy.items():
        gain = 100 * (values[-1] - values[-1 - tail])
        if gain > STILL_RISING_PTS:
            rising.append(f"{level} +{gain:.1f} pts")
    if not rising:
        return []
    return [f"the supernet was still learning when training stopped ({', '.join(rising)} over the last "
            f"{tail} epochs): train longer (training.epochs) before trusting the ranking"]
