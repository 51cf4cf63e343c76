"""The ``search`` stage for one device: load supernet, data and latency table, search, write results.

Writes ``<search.output_dir>/<device>/result.json`` and ``front.png``. The accuracy cache
(``search.cache_path``) and the search's FLOPs pools live beside the device folders and are shared
by every device.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from elasticvit import layout
from elasticvit.config.experiment import ExperimentConfig, LatencyConfig, SearchConfig
from elasticvit.latency import LatencyPredictor, get_backend, measure_arch
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.registry import device_spec
from elasticvit.latency.validate import check_trusted
from elasticvit.model import Supernet
from elasticvit.search.cache import CacheContext, EvaluationCache
from elasticvit.search.driver import (
    DeviceSearchResult,
    SearchCallback,
    budget_range,
    resolve_budgets,
    search_device,
)
from elasticvit.search.evaluator import AccuracyEvaluator
from elasticvit.search.plots import plot_front
from elasticvit.search.scoring import SupernetScorer, scoring_data, torch_threads
from elasticvit.space import Arch, SearchSpace, arch_macs, arch_params
from elasticvit.space.pools import FlopsPools
from elasticvit.training.checkpoint import load_supernet
from elasticvit.utils.hashing import sha256_file
from elasticvit.utils.locking import exclusive_dir

log = logging.getLogger(__name__)

SEARCH_POOL_SIZE = 500
"""Archs per FLOPs level the initial populations are drawn from: a search draws a few hundred at
most, so the training pools' thousands would only cost build time."""


def run_search(
    cfg: ExperimentConfig,
    device: str,
    *,
    supernet_path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    callback: SearchCallback | None = None,
) -> DeviceSearchResult:
    """Search ``device`` with the paths of ``cfg`` unless given; write and return the result."""
    spec = device_spec(cfg, device)  # an unknown device is named before the supernet is read
    table = layout.table_path(cfg.latency.output_dir, spec.name)
    # a noisy table is refused before anything is loaded (a missing one is named by the predictor)
    noise = check_trusted(table, cfg.search.allow_noisy_latency) if table.exists() else None
    if noise:
        log.warning("searching %s on an untrusted table (search.allow_noisy_latency): %s", spec.name, noise)
    # one search per device at a time; searches of different devices share only the accuracy
    # cache (SQLite) and the pools (written atomically, the same content from every writer)
    with exclusive_dir(layout.device_dir(cfg.search, spec.name), f"search {spec.name}"):
        return _search(cfg, spec, table, supernet_path, data_dir, callback, noise)


def _search(
    cfg: ExperimentConfig,
    spec: DeviceSpec,
    table: Path,
    supernet_path: str | os.PathLike[str] | None,
    data_dir: str | os.PathLike[str] | None,
    callback: SearchCallback | None,
    noise: str | None,
) -> DeviceSearchResult:
    supernet_path = Path(supernet_path or layout.supernet_path(cfg.training.output_dir))
    supernet, meta = load_supernet(supernet_path)
    space, num_classes = meta.space, meta.num_classes
    predictor = LatencyPredictor.load(table, space, spec)
    data = scoring_data(data_dir or cfg.data.output_dir, cfg.search)
    evaluator = AccuracyEvaluator(
        SupernetScorer(supernet, data),
        EvaluationCache(cache_path(cfg.search)),
        CacheContext(supernet=sha256_file(supernet_path), data=data.hash),
        rank_by=cfg.search.rank_by,
    )
    pools = FlopsPools.cached(
        space, cfg.sampling.num_levels, num_classes, SEARCH_POOL_SIZE, cfg.search.seed, Path(cfg.search.output_dir) / "pools"
    )
    measure = device_measure(spec, supernet, space, num_classes, cfg.latency) if cfg.search.measure_chosen else None
    ends = [space.smallest(), space.largest()]
    span = budget_range(
        (predictor.predict(ends[0]), predictor.predict(ends[1])),
        None if measure is None else (measure(ends[0]), measure(ends[1])),
    )
    budgets = resolve_budgets(cfg.search, spec.name, *span)
    with torch_threads(cfg.search.threads):
        result = search_device(
            space,
            predictor,
            evaluator,
            budgets,
            cfg.search,
            np.random.default_rng(cfg.search.seed),
            device=spec.name,
            decode=Arch.model_validate,
            # a level first, then an arch of it: every size is equally represented (the paper's pools)
            sample=lambda rng: pools.sample(int(rng.integers(pools.num_levels)), rng),
            macs=lambda a: arch_macs(space, a, num_classes),
            params=lambda a: arch_params(space, a, num_classes),
            measure=measure,
            callback=callback,
        )
    result = result.model_copy(
        update={
            "provenance": {
                "space": space.name,
                "space_hash": space.hash,
                "supernet_path": str(supernet_path),
                "data_version": data.data_version,
                "table_sha256": sha256_file(table),
                # searched on a table its validation called noise (allowed by search.allow_noisy_latency)
                "latency_trusted": "false" if noise else "true",
            }
        }
    )
    result.save(layout.search_result_path(cfg.search, spec.name))
    plot_front(result, layout.search_front_path(cfg.search, spec.name))
    return result


def cache_path(cfg: SearchConfig) -> Path:
    return Path(cfg.cache_path or Path(cfg.output_dir) / "evaluations.sqlite")


def device_measure(
    spec: DeviceSpec, supernet: Supernet, space: SearchSpace, num_classes: int, cfg: LatencyConfig
) -> Callable[[Arch], float]:
    """End-to-end latency of an arch on the device's backend, in the statistic the table uses.

    Runs on this host: meaningful for devices whose backend runs here (the shipped CPU devices).
    """
    backend = get_backend(spec)

    def measure(arch: Arch) -> float:
        with backend.session():
            return measure_arch(backend, supernet, space, arch, num_classes, cfg).value(cfg.statistic)

    return measure
