"""Deployments, work pools, the research schedule and the new-table automation.

    python -m flows.deploy --config quickstart        # against $PREFECT_API_URL

Work pools: ``default`` (search, export, onboarding, re-search), ``training`` (the pipeline,
whose heavy step is supernet training) and one ``latency-<device>`` pool per device, whose
worker runs on that device's host: ``prefect worker start --pool latency-<device>``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.exceptions import ObjectAlreadyExists
from pydantic import BaseModel, ConfigDict

from elasticvit.config import load_config
from elasticvit.latency.registry import experiment_devices
from tasks.latency import TABLE_EVENT

REPO = Path(__file__).resolve().parents[1]
DEFAULT_POOL = "default"
TRAINING_POOL = "training"


class DeploymentSpec(BaseModel):
    """One deployment: which flow (by entrypoint), where it runs, with what parameters."""

    model_config = ConfigDict(frozen=True)

    name: str
    entrypoint: str
    pool: str
    parameters: dict[str, object] = {}
    cron: str | None = None
    on_new_table: bool = False


def latency_pool(device: str) -> str:
    return f"latency-{device}"


def deployment_specs(config: str, research_cron: str = "0 3 * * *") -> list[DeploymentSpec]:
    cfg = load_config(config)
    specs = [
        DeploymentSpec(name="prepare", entrypoint="flows/stages.py:prepare_flow", pool=DEFAULT_POOL, parameters={"config": config}),
        DeploymentSpec(name="pipeline", entrypoint="flows/pipeline.py:pipeline", pool=TRAINING_POOL, parameters={"config": config}),
        DeploymentSpec(
            name="search-on-new-table",
            entrypoint="flows/search.py:search_device_flow",
            pool=DEFAULT_POOL,
            parameters={"config": config},
            on_new_table=True,
        ),
        DeploymentSpec(name="onboard", entrypoint="flows/onboard.py:onboard_device", pool=DEFAULT_POOL, parameters={"config": config}),
        DeploymentSpec(
            name="research", entrypoint="flows/research.py:research", pool=DEFAULT_POOL, parameters={"config": config}, cron=research_cron
        ),
    ]
    return specs + [latency_deployment(config, device) for device in experiment_devices(cfg)]


def latency_deployment(config: str, device: str) -> DeploymentSpec:
    """The device's latency flow, on its own pool: only a worker on the device host picks it up."""
    return DeploymentSpec(
        name=f"latency-{device}",
        entrypoint="flows/latency.py:latency_device",
        pool=latency_pool(device),
        parameters={"config": config, "device": device},
    )


def ensure_work_pools(names: set[str]) -> None:
    async def create() -> None:
        async with get_client() as client:
            for name in sorted(names):
                try:
                    await client.create_work_pool(WorkPoolCreate(name=name, type="process"))
                except ObjectAlreadyExists:
                    pass

    asyncio.run(create())


def deploy(specs: list[DeploymentSpec], source: Path = REPO) -> dict[str, UUID]:
    """Create the work pools and (re)apply every deployment; return deployment ids by name."""
    ensure_work_pools({spec.pool for spec in specs})
    ids: dict[str, UUID] = {}
    for spec in specs:
        flow = Flow.from_source(source=str(source), entrypoint=spec.entrypoint)
        triggers = [new_table_trigger(spec.parameters)] if spec.on_new_table else None
        ids[spec.name] = flow.deploy(
            name=spec.name,
            work_pool_name=spec.pool,
            parameters=spec.parameters,
            cron=spec.cron,
            triggers=triggers,
            # the server checks a run's parameters against the flow's schema before storing the
            # run: a credential in one is refused (flows/parameters.py)
            enforce_parameter_schema=True,
            print_next_steps=False,
        )
    return ids


def new_table_trigger(parameters: dict[str, object]) -> DeploymentEventTrigger:
    """Run the deployment for the device named in each new-latency-table event."""
    return DeploymentEventTrigger(
        expect={TABLE_EVENT},
        match={"prefect.resource.id": "elasticvit.device.*"},
        parameters={**parameters, "device": "{{ event.payload.device }}"},
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="quickstart")
    parser.add_argument("--research-cron", default="0 3 * * *")
    args = parser.parse_args(argv)
    for name, deployment_id in deploy(deployment_specs(args.config, args.research_cron)).items():
        print(f"{name:24s} {deployment_id}")


if __name__ == "__main__":
    main()
