"""The ``flow`` decorator of every flow here: Prefect's, except that a run's parameters are stored
with credentials masked (URL user-info, the value of an override whose key names a secret).

Prefect records a flow run's parameters when it creates the run, before the flow's body (and its
config check, which refuses a credential) runs. The CLI checks the config before it calls a flow;
a flow called from Python gets no such check, so what Prefect stores is masked here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Flow
from prefect.utilities.collections import visit_collection

from elasticvit.utils.redact import redact_setting

P = ParamSpec("P")
R = TypeVar("R")


class RedactedFlow(Flow[P, R]):
    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """What Prefect stores of the parameters (the run itself gets them as given)."""
        return visit_collection(
            super().serialize_parameters(parameters),
            lambda value: redact_setting(value) if isinstance(value, str) else value,
            return_data=True,
        )


def flow(**options: Any) -> Callable[[Callable[P, R]], RedactedFlow[P, R]]:
    """``prefect.flow(**options)`` building a ``RedactedFlow``."""
    return lambda fn: RedactedFlow(fn, **options)
