"""Benchmark: wall time of the quickstart pipeline through the Prefect flow over the same library
calls made directly.

Each round runs the pipeline twice from scratch in fresh folders: once as the ``pipeline`` flow
(against a local ``prefect server``, tracked in a SQLite MLflow store: tasks, caching checks,
MLflow runs, artifacts, model registration) and once as the plain library calls the tasks wrap
(prepare, train, latency table and validation per device, search and export per device,
baselines and their comparison, the run report). The order alternates between rounds so machine
load drifts hit both alike. Writes ``bench/results/orchestration_overhead.json``:
``{"prefect_s": T, "direct_s": T, "ratio": R, "runs": N, ...}`` with the medians over rounds.

    python -m bench.orchestration_overhead                 # the quickstart config as shipped
    python -m bench.orchestration_overhead --runs 1 -s training.epochs=1   # shorter
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from elasticvit.baselines import compare_all, resolve_budget, run_baseline, write_report
from elasticvit.baselines.report import comparison_dir
from elasticvit.config import load_config
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.data import prepare_dataset, read_manifest
from elasticvit.export.run import run_export
from elasticvit.latency import LatencyPredictor, collect_table, load_device, table_path, validate_predictor
from elasticvit.report.run import run_report
from elasticvit.search.run import run_search
from elasticvit.space import load_space
from elasticvit.training import train_supernet
from elasticvit.utils.atomic import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "orchestration_overhead.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="quickstart")
    parser.add_argument("--set", "-s", dest="overrides", action="append", default=[], help="section.key=value")
    parser.add_argument("--runs", type=int, default=2, help="rounds; each runs both paths once")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from infra.stack import free_port, prefect_service, start, stop

    work = Path(tempfile.mkdtemp(prefix="elasticvit-overhead-"))
    service = prefect_service(work / "prefect", port=free_port())
    start(service, work)
    os.environ["PREFECT_API_URL"] = service.health_url.removesuffix("/health")
    os.environ["ELASTICVIT_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    from flows.pipeline import pipeline  # after the API address is set

    times: dict[str, list[float]] = {"prefect": [], "direct": []}
    try:
        for i in range(args.runs):
            order = ("prefect", "direct") if i % 2 == 0 else ("direct", "prefect")
            for path in order:
                overrides = [*args.overrides, *_folders(work / f"{path}-{i}")]
                started = time.perf_counter()
                if path == "prefect":
                    pipeline(args.config, overrides)
                else:
                    direct(load_config(args.config, overrides))
                times[path].append(time.perf_counter() - started)
                print(f"round {i} {path}: {times[path][-1]:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        stop(service.name, work)
        shutil.rmtree(work, ignore_errors=True)

    prefect_s, direct_s = statistics.median(times["prefect"]), statistics.median(times["direct"])
    write_json(args.output, {
        "prefect_s": prefect_s, "direct_s": direct_s, "ratio": prefect_s / direct_s, "runs": args.runs,
        "rounds": times, "config": args.config, "overrides": args.overrides, "cpus": os.cpu_count(),
    })
    print(f"prefect {prefect_s:.1f} s / direct {direct_s:.1f} s = {prefect_s / direct_s:.3f} (target <= 1.10)")


def _folders(root: Path) -> list[str]:
    """Every output of one pipeline run under ``root``, so nothing is reused between runs."""
    return [
        f"data.output_dir={root / 'data'}", f"training.output_dir={root / 'supernet'}",
        f"latency.output_dir={root / 'latency'}", f"search.output_dir={root / 'search'}",
        f"search.export_dir={root / 'export'}", f"baselines.output_dir={root / 'baselines'}",
        f"storage.artifacts_dir={root}",
    ]


def direct(cfg: ExperimentConfig) -> None:
    """The pipeline's library calls, in the flow's order, with nothing around them."""
    prepare_dataset(cfg.data, progress=False)
    num_classes = read_manifest(cfg.data.output_dir).num_classes
    trained = train_supernet(cfg, Path(cfg.data.output_dir), Path(cfg.training.output_dir))
    space = load_space(cfg.space.name)
    for device in cfg.latency.devices:
        spec = load_device(device)
        table = collect_table(space, spec, num_classes, cfg.latency, table_path(cfg.latency.output_dir, device),
                              progress=False)
        validate_predictor(space, LatencyPredictor.from_table(table, space), spec, cfg.latency, progress=False)
    searches, exports = [], []
    for device in cfg.latency.devices:
        searches.append(run_search(cfg, device))
        exports.append(run_export(cfg, device))
    budget = resolve_budget(cfg.baselines, cfg.training, trained.wall_time_s)
    baselines = [run_baseline(cfg, model, cfg.data.output_dir, budget) for model in cfg.baselines.models]
    comparison = compare_all(searches, baselines) if baselines else None
    if comparison is not None:
        write_report(comparison, comparison_dir(cfg.baselines.output_dir))
    run_report(cfg, searches, exports, comparison)


if __name__ == "__main__":
    main()
