"""Benchmark: how well block-table predictions match measured latency on each shipped device.

For every device in ``LatencyConfig().devices`` it collects the block table of the ``cifar`` space
(or reuses a complete one for the same space and device), validates the predictor on 100 random
subnets measured end to end, and writes ``bench/results/latency_predictor.json``:
``{"devices": {NAME: {"within_10pct", "within_10pct_raw", "within_10pct_uncorrected",
"self_agreement", "rmse_ms", "n", "correction", "calibration_archs", "collect_s",
"entries", "seed"}}}`` (``within_10pct`` against measurements scaled to the table's speed reference,
``_raw`` unscaled, ``_uncorrected`` the predictions without any fitted term;
``self_agreement``: the share of 20 of the subnets whose second measurement lies within
10 % of the first, the ceiling any predictor can reach there; ``correction``: the terms the fit
chose). A reused table's correction is fitted again by this version (``refit_correction``);
``--repredict`` measures nothing, and judges each device's stored validation measurements against
its refitted table's predictions.
Tables, reports and plots stay under ``artifacts/bench/latency/<device>/`` (``--tables DIR``: under
``DIR/<device>/``, e.g. a folder under ``bench/results/`` to commit, so a later checkout can
``--repredict`` a new correction on the same measurements).

The development machine is shared, and other jobs' load leaks into wall-clock timings (see
docs/latency.md, "Clocks"), so before each device the benchmark waits (up to ``--max-wait`` s)
until the CPUs are mostly idle.

    python -m bench.latency_predictor [--n 100] [--device NAME ...] [--recollect | --repredict] [--seed N --output F]
                                      [--tables DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

from elasticvit.config import LatencyConfig
from elasticvit.latency import (
    DeviceSpec,
    LatencyPredictor,
    LatencyTable,
    LatencyTableError,
    ValidationReport,
    collect_table,
    load_device,
    scatter_plot,
    table_path,
    validate_predictor,
)
from elasticvit.latency.collect import partial_path_for, refit_correction
from elasticvit.layout import validation_path
from elasticvit.space import SearchSpace, load_space
from elasticvit.utils.atomic import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latency_predictor.json"
TABLES = ROOT / "artifacts" / "bench" / "latency"
NUM_CLASSES = 10


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="cifar")
    parser.add_argument("--n", type=int, default=100, help="validation subnets per device")
    parser.add_argument("--device", action="append", dest="devices", help="default: LatencyConfig().devices")
    parser.add_argument("--recollect", action="store_true", help="measure tables even if present")
    parser.add_argument("--max-wait", type=float, default=900.0, help="seconds to wait for idle CPUs")
    parser.add_argument("--seed", type=int, default=0, help="latency.seed: another seed draws other calibration, "
                        "validation and reference subnets (tables then stay under seed<N>/)")
    parser.add_argument("--calibration-archs", type=int, default=None,
                        help="latency.calibration_archs: subnets timed end to end to fit every device's "
                        "correction (default: each device's own count)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--tables", type=Path, default=TABLES, help="where tables and validations are kept")
    parser.add_argument("--repredict", action="store_true", help="measure nothing: refit each device's stored "
                        "table and judge its stored validation measurements against the new predictions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    cfg = LatencyConfig(output_dir=args.tables / f"seed{args.seed}" if args.seed else args.tables, seed=args.seed,
                        calibration_archs=args.calibration_archs)
    space = load_space(args.space)
    results = {}
    for name in args.devices or cfg.devices:
        if args.repredict:
            results[name] = repredict_device(space, name, cfg)
            continue
        wait_for_idle_cpus(args.max_wait)
        results[name] = bench_device(space, name, cfg, args.n, args.recollect)
        logging.info("%s: %s", name, results[name])
    # a run on some devices keeps the figures of the others
    earlier = json.loads(args.output.read_text())["devices"] if args.output.exists() else {}
    write_json(args.output, {"devices": {**earlier, **results}})
    logging.info("wrote %s", args.output)


def bench_device(space: SearchSpace, name: str, cfg: LatencyConfig, n: int, recollect: bool) -> dict[str, object]:
    device = load_device(name)
    path = table_path(cfg.output_dir, device.name)
    if recollect:  # from scratch: neither the table nor a partial collection is reused
        path.unlink(missing_ok=True)
        partial_path_for(path).unlink(missing_ok=True)
    table = None if recollect else _reusable(path, space, device)
    if table is None:
        table = collect_table(space, device, NUM_CLASSES, cfg, path)
    predictor = LatencyPredictor.from_table(table, space)
    report = validate_predictor(space, predictor, device, cfg, n=n)
    return _record(name, table, report, path, cfg.seed)


def repredict_device(space: SearchSpace, name: str, cfg: LatencyConfig) -> dict[str, object]:
    """The device's stored table refitted by this version, judged on its stored validation."""
    device = load_device(name)
    path = table_path(cfg.output_dir, device.name)
    table = _reusable(path, space, device)
    if table is None:
        raise SystemExit(f"{path}: no complete table of {name} to refit (run without --repredict)")
    report = ValidationReport.load(validation_path(path)).repredicted(LatencyPredictor.from_table(table, space))
    return _record(name, table, report, path, cfg.seed)


def _record(name: str, table: LatencyTable, report: ValidationReport, path: Path, seed: int) -> dict[str, object]:
    report.save(validation_path(path))
    scatter_plot(report, validation_path(path).with_suffix(".png"))
    logging.info(
        "%s: %s; mean |relative error| %.1f %%, worst %.1f %%, validation took %.0f s",
        name, report.summary(), 100 * report.mean_abs_rel_error, 100 * report.max_abs_rel_error, report.measure_s,
    )
    return {
        "seed": seed,
        "within_10pct": report.within_10pct,
        "within_10pct_raw": report.within_10pct_raw,
        "within_10pct_uncorrected": report.within_10pct_uncorrected,
        "self_agreement": report.remeasure_within_10pct,
        "rmse_ms": report.rmse_ms,
        "n": report.n,
        "correction": table.correction.model,
        "calibration_archs": table.correction.points,
        "collect_s": table.collect_s,
        "entries": len(table.entries),
    }


def wait_for_idle_cpus(max_wait_s: float, min_idle: float = 0.8, window_s: float = 2.0) -> None:
    """Return once the CPUs were idle ``min_idle`` of a ``window_s`` window, or after ``max_wait_s``."""
    deadline = time.monotonic() + max_wait_s
    while True:
        idle = _idle_fraction(window_s)
        if idle >= min_idle or time.monotonic() >= deadline:
            logging.info("CPUs %.0f %% idle, load average %.2f: measuring", 100 * idle, os.getloadavg()[0])
            return
        time.sleep(10.0)


def _idle_fraction(window_s: float) -> float:
    def times() -> tuple[int, int]:
        # First line of /proc/stat: aggregate jiffies; the 4th and 5th values are idle and iowait.
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return values[3] + values[4], sum(values)

    idle0, total0 = times()
    time.sleep(window_s)
    idle1, total1 = times()
    return (idle1 - idle0) / max(total1 - total0, 1)


def _reusable(path: Path, space: SearchSpace, device: DeviceSpec) -> LatencyTable | None:
    try:
        table = LatencyTable.load(path)
        table.check(space.hash, device, NUM_CLASSES)
    except LatencyTableError as exc:
        logging.info("collecting %s: %s", device.name, exc)
        return None
    logging.info("reusing %s", path)
    table = refit_correction(table, space)
    table.save(path)
    return table


if __name__ == "__main__":
    main()
