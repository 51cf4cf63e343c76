"""Options that several commands take: declared once, with one spelling and one help text.

Every command that reads the experiment config takes ``--config`` and ``--set``; the per-device
commands (``search``, ``evaluate``, ``export``, ``latency validate``) take ``--device``; the commands
that load the supernet (``search``, ``export``) take ``--supernet`` and ``--data``. (``--space`` and
``--num-classes`` of ``elasticvit space``, which reads no config, are other options than those of
``elasticvit latency``, which default to the config's: each is declared in its own module.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[str, typer.Option("--config", "-c", help="config name in elasticvit/configs/ or a YAML path (params.yaml works)")]
OverrideOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="override a field: section.key=value (repeatable)")
]
DevicesOpt = Annotated[
    list[str] | None, typer.Option("--device", "-d", help="device name (repeatable; default: latency.devices)")
]
SupernetOpt = Annotated[
    Path | None, typer.Option("--supernet", help="supernet checkpoint (default: <training.output_dir>/supernet.pt)")
]
DataOpt = Annotated[Path | None, typer.Option("--data", help="prepared data folder (default: data.output_dir)")]
