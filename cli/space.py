"""``elasticvit space``: size, complexity range and random archs of a search space."""

from __future__ import annotations

import json
from typing import Annotated

import numpy as np
import typer

from elasticvit.space import arch_macs, arch_params, load_space, space_size

app = typer.Typer(help="Search spaces: size, MACs/params range, random archs.", no_args_is_help=True)

SpaceOpt = Annotated[str, typer.Option("--space", help="space name in elasticvit/configs/spaces or a YAML path")]
ClassesOpt = Annotated[int, typer.Option("--num-classes", min=1, help="classes of the head")]
SeedOpt = Annotated[int, typer.Option(help="seed of the sampling generator")]
BAR_WIDTH = 40


@app.command()
def stats(
    space: SpaceOpt = "cifar",
    num_classes: ClassesOpt = 10,
    samples: Annotated[int, typer.Option(min=1, help="random archs in the histogram")] = 1000,
    bins: Annotated[int, typer.Option(min=1)] = 12,
    seed: SeedOpt = 0,
) -> None:
    """Print the number of archs, the smallest/largest MACs and params, a MACs histogram."""
    sp = load_space(space)
    size = space_size(sp)
    typer.echo(f"space {sp.name} (hash {sp.hash}): {size:.3e} archs ({size:,}), resolutions {list(sp.resolutions)}")
    for label, arch in (("smallest", sp.smallest()), ("largest", sp.largest())):
        macs, params = arch_macs(sp, arch, num_classes), arch_params(sp, arch, num_classes)
        typer.echo(f"{label:>8}: {macs / 1e6:9.2f} M MACs {params / 1e6:7.2f} M params  {arch.id}")
    rng = np.random.default_rng(seed)
    macs = np.array([arch_macs(sp, sp.sample(rng), num_classes) for _ in range(samples)]) / 1e6
    counts, edges = np.histogram(macs, bins=bins)
    typer.echo(f"MACs of {samples} random archs (M; median {np.median(macs):.1f}):")
    for count, lo, hi in zip(counts, edges[:-1], edges[1:], strict=True):
        bar = "#" * round(BAR_WIDTH * count / counts.max())
        typer.echo(f"  {lo:9.2f} - {hi:9.2f} | {bar:<{BAR_WIDTH}} {count}")


@app.command()
def sample(
    space: SpaceOpt = "cifar",
    n: Annotated[int, typer.Option("-n", min=1, help="number of archs")] = 1,
    num_classes: ClassesOpt = 10,
    seed: SeedOpt = 0,
) -> None:
    """Print random archs as JSON lines: id, MACs, params and the arch itself."""
    sp = load_space(space)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        arch = sp.sample(rng)
        record = {"id": arch.id, "macs": arch_macs(sp, arch, num_classes), "params": arch_params(sp, arch, num_classes),
                  "arch": arch.model_dump(mode="json")}
        typer.echo(json.dumps(record))
