"""Options every command that reads the experiment config shares: one spelling, one help text."""

from __future__ import annotations

from typing import Annotated

import typer

ConfigOpt = Annotated[str, typer.Option("--config", "-c", help="config name in elasticvit/configs/ or a YAML path (params.yaml works)")]
OverrideOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="override a field: section.key=value (repeatable)")
]
