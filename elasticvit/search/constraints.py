"""What a searched subnet must satisfy on a device: a latency budget, optionally MACs and params bounds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elasticvit.errors import ElasticViTError


class InfeasibleBudgetError(ElasticViTError):
    """No subnet of the space can meet the requested constraint on this device."""


@dataclass(frozen=True)
class Constraint:
    """``admits(arch)``: predicted latency within the budget and, when set, MACs/params within bounds.

    Latency is checked first and the complexity bounds only when set: a prediction is a cached
    lookup, counting MACs walks the arch.
    """

    budget_ms: float
    latency: Callable[[Any], float]
    max_macs: int | None = None
    max_params: int | None = None
    macs: Callable[[Any], int] | None = None
    params: Callable[[Any], int] | None = None

    def __post_init__(self) -> None:
        if self.max_macs is not None and self.macs is None:
            raise ValueError("max_macs is set but no MACs function was given")
        if self.max_params is not None and self.params is None:
            raise ValueError("max_params is set but no params function was given")

    def admits(self, arch: Any) -> bool:
        if self.latency(arch) > self.budget_ms:
            return False
        if self.max_macs is not None and self.macs(arch) > self.max_macs:  # type: ignore[misc]
            return False
        return self.max_params is None or self.params(arch) <= self.max_params  # type: ignore[misc]

    def check_feasible(self, smallest: Any, device: str) -> None:
        """Raise ``InfeasibleBudgetError`` if even the smallest subnet is rejected.

        The smallest subnet is the fastest one the space offers, so its predicted latency is the
        lowest budget that can be met on this device; the message says so.
        """
        fastest = self.latency(smallest)
        if fastest > self.budget_ms:
            raise InfeasibleBudgetError(
                f"latency budget {self.budget_ms:g} ms is impossible on device '{device}': the smallest "
                f"subnet ({smallest.id}) is predicted at {fastest:.4f} ms, the smallest achievable latency "
                f"there; use a budget of at least {fastest:.4f} ms"
            )
        if self.max_macs is not None and self.macs(smallest) > self.max_macs:  # type: ignore[misc]
            raise InfeasibleBudgetError(
                f"max_macs {self.max_macs} is below the smallest subnet's {self.macs(smallest)} MACs"  # type: ignore[misc]
            )
        if self.max_params is not None and self.params(smallest) > self.max_params:  # type: ignore[misc]
            raise InfeasibleBudgetError(
                f"max_params {self.max_params} is below the smallest subnet's {self.params(smallest)} params"  # type: ignore[misc]
            )
