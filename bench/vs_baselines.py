"""Benchmark: the shipped supernet's searched subnets against stock timm models trained for the same wall time.

The supernet is ``elasticvit/configs/cifar10.yaml``'s as shipped, the one ``bench.supernet_quality``
trains on the shared CIFAR-10 subset (reused from its cache, keyed by the same run key; trained
through its code path when absent). Its training wall time T, read from that run's record
(``budget_s``), is the budget of every default baseline (resnet18, mobilenetv3_small_100,
mobilenetv3_large_100): each trains T seconds of wall clock with the supernet's recipe
(``elasticvit.training.recipe``) on the same split (``bench.supernet_eval.prepare_shared_cifar``).
A full run refuses a T under 30 minutes (``MIN_BUDGET_S``). This VM's speed changes from hour to
hour, so each baseline's record keeps resnet18's 1-thread latency timed just before and just after
its training (``supernet_quality.speed_probe_ms``), and the report sets them beside the one timed
right after the supernet's training: a budget spent on a faster hour bought more.

Parts, each a cached stage keyed by what it depends on (records under
``artifacts/bench/vs_baselines/<full|quick>/stages/``), so that they can run in separate sittings
and a change re-runs only what it touches:

- ``baselines``: one training per model, keyed by model, budget, recipe and data version;
- ``latency``: per device, its latency table and the baselines' latencies there (weights do not
  change a model's latency, so these are timed untrained: they set the search's budgets), keyed by
  the device, the latency settings, the space and the backend versions;
- ``search``: per device, one budget per baseline (its latency, clipped to what the space reaches),
  keyed by the supernet's and the table's sha256, the search settings and the data version;
- ``measure``: per device, the chosen subnets and the searched front (extracted from the supernet)
  and the trained baselines timed end to end in ONE interleaved measurement run, so noise hits
  both alike; the subnets scored on the test split (BN recalibrated, as the search does);
- ``report``: ``bench/results/vs_baselines.json`` (rows with ``"measured": true``, a ``train_once``
  block), the table and one plot per device in ``bench/results/vs_baselines/``.

Every accuracy compared is top-1 on the test split (the 2,000 official test images), which neither
training nor the search's selection sees; the search selects on the 5 % val split.

    python -m bench.vs_baselines --quick                               # smoke run of every part (minutes)
    python -m bench.vs_baselines --part baselines --model resnet18     # one baseline (T seconds)
    python -m bench.vs_baselines --part latency                        # every device's table
    python -m bench.vs_baselines --part search --device torch-cpu-1t   # one device's search
    python -m bench.vs_baselines --part measure
    python -m bench.vs_baselines --part report
    python -m bench.vs_baselines                                       # everything not cached yet

When the supernet's recorded time is not one alone measurement (resumed across sittings, or shared
with another job: its record says ``budget_extrapolated``), ``--budget-s S`` gives the recipe's time
measured alone instead; it then sets every baseline's budget and the train-once accounting, and
must be given to every part (the baselines' cache keys hold it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import torch
from pydantic import BaseModel

from bench import supernet_quality as sq
from bench.supernet_eval import CALIB_BATCH_SIZE, CALIB_BATCHES, LogProgress, SHARED_CIFAR, SubnetScorer, prepare_shared_cifar
from elasticvit.baselines import (
    BaselineResult,
    Budget,
    Comparison,
    ComparisonRow,
    DevicePareto,
    ParetoPoint,
    comparison_table,
    create_baseline,
    markdown_table,
    run_baseline,
    write_report,
)
from elasticvit.baselines.interleaved import time_models, timed_archs
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.config.io import load_config
from elasticvit.data import read_manifest
from elasticvit.latency import LatencyPredictor, collect_table, get_backend
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.registry import device_spec
from elasticvit.layout import manifest_path, search_result_path, supernet_path, table_path
from elasticvit.search import DeviceSearchResult
from elasticvit.search.pareto import pareto_front
from elasticvit.search.run import run_search
from elasticvit.space import Arch, load_space
from elasticvit.training import load_supernet
from elasticvit.utils.atomic import write_json, write_text
from elasticvit.utils.hashing import sha256_file, stable_hash

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "artifacts" / "bench" / "vs_baselines"
CONFIG = "cifar10"
PARTS = ("baselines", "latency", "search", "measure", "report", "all")
MIN_BUDGET_S = 1800.0
"""A full run's least supernet training time (the issue's 30 minutes per model); --quick skips the check."""
QUICK_BUDGET_S = 5.0
"""--quick caps the baselines' budget at this (the tiny supernet's own time would be minutes of smoke)."""
DEVICE_COUNTS = (3, 10)
MEASURE_FRONT_MAX = 30
"""Front subnets measured per device at most (evenly spaced along the front, its ends kept)."""
STAGES_VERSION = 1
"""Part of every stage key: bump when a stage's output changes meaning, so old records are not served."""
SPEEDUP_TARGET = ("resnet18", "torch-cpu-1t", 2.0)
"""The issue's speed-up target: the subnet at >= this baseline's accuracy, this many times faster here."""

# The search's settings for this benchmark (every evaluation runs the supernet on the 500 val images
# after BN recalibration, ~1 s on the 2-core machine; the shipped 50 x 40 would take hours): at most
# 32 + 10 x 32 = 352 evaluations per budget, fewer once the accuracy cache, shared by the budgets and
# the devices, holds an arch.
SEARCH = ["search.population=32", "search.generations=10", "search.parents=8", "search.mutations=16",
          "search.crossovers=16"]
# --quick times the two backends on one thread each (torch-cpu-2t differs from torch-cpu-1t only in
# its thread count, and two threads on a machine other jobs load spin for minutes)
QUICK = [
    *sq.SCALES["quick"].overrides, "sampling.pool_size=20", "latency.devices=[torch-cpu-1t,onnx-cpu-1t]",
    "latency.calibration_archs=3", "latency.speed_reference=false",
    "search.population=4", "search.generations=1", "search.parents=2", "search.mutations=2", "search.crossovers=2",
    "search.calib_batches=1", "search.calib_batch_size=32", "search.confirm_candidates=1",
]
# Training fields a baseline does not read (no distillation, teacher, EMA, probes or BN
# recalibration; unlike a standalone subnet, a timm baseline does take drop_path).
BASELINE_UNUSED = sq.NOT_STANDALONE - {"drop_path"}

log = logging.getLogger("bench.vs_baselines")


# --- the stage cache -------------------------------------------------------------------------------


class StageCache:
    """One JSON record per stage run, at ``<root>/<stage>/<key>/record.json``, the key a hash of
    the stage's inputs: a stage asked again with the same inputs is read back, not re-run; a
    changed input is a new key, so only the stages it feeds run again. A stage's files (a table, a
    trained model) live in the same folder, which the stage function receives."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def key(self, stage: str, inputs: dict) -> str:
        return stable_hash({"stage": stage, "version": STAGES_VERSION, "inputs": inputs})

    def folder(self, stage: str, inputs: dict) -> Path:
        return self.root / stage / self.key(stage, inputs)

    def get(self, stage: str, inputs: dict) -> dict | None:
        record = self.folder(stage, inputs) / "record.json"
        if not record.exists():
            return None
        return json.loads(record.read_text())["result"]

    def run(self, stage: str, inputs: dict, fn: Callable[[Path], dict]) -> dict:
        """The stage's result: the cached one, else ``fn(folder)``'s, recorded with its wall time."""
        found = self.get(stage, inputs)
        folder = self.folder(stage, inputs)
        if found is not None:
            log.info("%s: cached (%s)", stage, folder.relative_to(self.root))
            return found
        log.info("%s: running (%s)", stage, folder.relative_to(self.root))
        started, load = time.perf_counter(), os.getloadavg()[0]
        result = {**fn(folder), "stage_s": 0.0}
        result["stage_s"] = round(time.perf_counter() - started, 1)
        # the load average at start and end: wall-clock figures on a shared machine need it
        write_json(folder / "record.json", {"stage": stage, "key": folder.name, "inputs": inputs, "result": result,
                                            "load_avg_1m": [load, os.getloadavg()[0]]})
        return result

    def need(self, stage: str, inputs: dict, remedy: str) -> dict:
        """A stage another part depends on: its cached result, or exit naming the command that makes it."""
        found = self.get(stage, inputs)
        if found is None:
            raise SystemExit(f"{stage} not done yet for these inputs: run `python -m bench.vs_baselines {remedy}` first")
        return found


# --- comparison and accounting (pure: tested on hand-made numbers) ----------------------------------


def device_pareto(device: str, subnets: Sequence[ParetoPoint], baselines: Sequence[ParetoPoint]) -> DevicePareto:
    """A device's measured subnets with their front, and the baselines, for ``comparison_table``."""
    front = pareto_front([p.latency_ms for p in subnets], [p.accuracy for p in subnets])
    return DevicePareto(device=device, points=[*subnets, *baselines], front=[subnets[i].name for i in front])


def row_measured(row: ComparisonRow, pareto: DevicePareto) -> bool:
    """Whether every latency the row compares (the baseline's, its two subnets') was measured."""
    by_name = {p.name: p for p in pareto.points}
    names = [row.baseline, row.subnet_at_latency, row.subnet_at_accuracy]
    return all(by_name[n].measured for n in names if n is not None)


def device_rows(comparison: Comparison) -> dict[str, list[dict]]:
    """Today's per-device rows of ``vs_baselines.json``, each with whether it was measured."""
    paretos = {p.device: p for p in comparison.paretos}
    return {
        device: [
            {"baseline": r.baseline, "baseline_acc": r.baseline_acc, "baseline_ms": r.baseline_ms,
             "subnet_acc_at_latency": r.subnet_acc_at_latency, "speedup_at_accuracy": r.speedup_at_accuracy,
             "measured": row_measured(r, pareto)}
            for r in comparison.rows if r.device == device
        ]
        for device, pareto in paretos.items()
    }


TRAIN_ONCE_FORMULA = (
    "train_once_s(D) = supernet_train_s + D * per_device_s; stock_s(D) = D * targets_per_device * stock_model_train_s; "
    "ratio = stock_s / train_once_s. per_device_s is the mean over the measured devices of the latency table's "
    "collection plus the search (what each further device costs the platform); a stock model per device and latency "
    "target is trained for stock_model_train_s (the baselines' budget, equal to the supernet's training time); "
    "training_only_ratio = stock_s / supernet_train_s leaves the per-device stages out."
)


def train_once(
    supernet_train_s: float, stock_model_train_s: float, targets_per_device: int, per_device_s: Sequence[float],
    device_counts: Sequence[int] = DEVICE_COUNTS,
) -> dict:
    """The supernet's one training against one stock model per device and latency target."""
    per_device = statistics.fmean(per_device_s) if per_device_s else 0.0
    devices = {}
    for d in device_counts:
        once = supernet_train_s + d * per_device
        stock = d * targets_per_device * stock_model_train_s
        devices[str(d)] = {"train_once_s": round(once, 1), "stock_s": round(stock, 1),
                           "ratio": round(stock / once, 3), "training_only_ratio": round(stock / supernet_train_s, 3)}
    return {"formula": TRAIN_ONCE_FORMULA, "supernet_train_s": supernet_train_s,
            "stock_model_train_s": stock_model_train_s, "targets_per_device": targets_per_device,
            "per_device_s": round(per_device, 1), "per_device_measured_on": len(per_device_s), "devices": devices}


def check_targets(rows: Sequence[ComparisonRow], speedup: tuple[str, str, float] = SPEEDUP_TARGET) -> dict:
    """The issue's bar: at every baseline's latency a subnet at least as accurate; the subnet as
    accurate as ``speedup``'s baseline that many times faster on its device. Misses say by how much."""
    at_latency = []
    for r in rows:
        gain = None if r.accuracy_gain is None else round(100 * r.accuracy_gain, 2)
        at_latency.append({"device": r.device, "baseline": r.baseline, "gain_pts": gain,
                           "met": gain is not None and gain >= 0.0})
    model, device, factor = speedup
    row = next((r for r in rows if r.baseline == model and r.device == device), None)
    found = None if row is None else row.speedup_at_accuracy
    speed = {"baseline": model, "device": device, "target": factor, "speedup": found,
             "met": found is not None and found >= factor}
    return {"at_latency": at_latency, "speedup": speed,
            "all_met": all(x["met"] for x in at_latency) and speed["met"]}


# --- the benchmark ---------------------------------------------------------------------------------


class Scale(BaseModel):
    name: str
    per_class: int | None
    overrides: list[str]


SCALES = {"full": Scale(name="full", per_class=None, overrides=SEARCH),
          "quick": Scale(name="quick", per_class=20, overrides=QUICK)}


class SupernetRun(BaseModel):
    run_key: str
    path: Path
    record: Path
    train_s: float
    extrapolated: bool


class Bench:
    """The benchmark's stages over one config, data split and stage cache."""

    def __init__(self, scale: Scale, work: Path, budget_s: float | None = None) -> None:
        self.scale, self.work = scale, work
        self.given_budget_s = budget_s
        self.quick = scale.name == "quick"
        self.cache = StageCache(work / "stages")
        self.data_dir = prepare_shared_cifar(work / "data", SHARED_CIFAR, per_class=scale.per_class)
        self.cfg: ExperimentConfig = load_config(CONFIG, scale.overrides)
        self.manifest = read_manifest(self.data_dir)
        self.space = load_space(self.cfg.space.name)

    # -- the supernet (bench.supernet_quality's run) --

    @cached_property
    def supernet(self) -> SupernetRun:
        key = sq.run_key(self.cfg)
        if self.quick:  # a quick run of bench.supernet_quality with these settings, else our own tiny one
            places = [(sq.WORK / "quick" / key, sq.WORK / "quick" / key), (self.work / "supernet" / key,) * 2]
        else:
            places = [(sq.WORK / "full" / key, sq.RECORDS / key)]
        for run_dir, records in places:
            if (records / "train.json").exists() and supernet_path(run_dir / "supernet").exists():
                self._check_data(run_dir.parent / "data")
                return self._supernet_run(key, run_dir, records)
        run_dir, records = places[-1]
        if (records / "train.json").exists():
            raise SystemExit(f"{records / 'train.json'} records a supernet whose checkpoint {run_dir / 'supernet'} is not "
                             "here: copy it from the machine that trained it, or delete the record to retrain")
        log.warning("supernet %s not trained yet: training it now through bench.supernet_quality (%s)", key,
                    "seconds" if self.quick else "about 45 minutes on 2 cores")
        data = self.data_dir if self.quick else prepare_shared_cifar(sq.WORK / "full" / "data", SHARED_CIFAR)
        sq.train(self.cfg, data, run_dir, records)
        return self._supernet_run(key, run_dir, records)

    def _check_data(self, trained_on: Path) -> None:
        """Warn when the supernet's training data is not the split the baselines train on."""
        manifest = manifest_path(trained_on)
        if manifest.exists() and (version := json.loads(manifest.read_text())["version"]) != self.manifest.version:
            log.warning("the supernet trained on %s (data version %s), not on this benchmark's split (%s): "
                        "the comparison is unfair", trained_on, version, self.manifest.version)

    def _supernet_run(self, key: str, run_dir: Path, records: Path) -> SupernetRun:
        info = json.loads((records / "train.json").read_text())
        return SupernetRun(run_key=key, path=supernet_path(run_dir / "supernet"), record=records / "train.json",
                           train_s=float(info["budget_s"]), extrapolated=bool(info.get("budget_extrapolated")))

    @cached_property
    def supernet_sha(self) -> str:
        return sha256_file(self.supernet.path)

    @property
    def supernet_train_s(self) -> float:
        """The supernet's training time: as given (``--budget-s``), else as its record holds."""
        return self.given_budget_s or self.supernet.train_s

    @cached_property
    def budget_s(self) -> float:
        """Each baseline's wall-clock budget: the supernet's training time."""
        t = self.supernet_train_s
        if self.quick:
            return min(t, QUICK_BUDGET_S)
        if t < MIN_BUDGET_S:
            raise SystemExit(f"the supernet trained {t:.0f} s ({self.supernet.record}), under the {MIN_BUDGET_S:.0f} s "
                             "this benchmark needs to say anything (a baseline's budget is that time); refusing. "
                             "--quick runs a smoke test at any budget")
        return t

    # -- baselines --

    def baseline_inputs(self, model: str) -> dict:
        # the threads decide how many steps the budget buys: an input like the budget itself
        return {"model": model, "budget_s": self.budget_s, "data": self.manifest.version,
                "threads": torch.get_num_threads(),
                "recipe": self.cfg.training.model_dump(mode="json", exclude=set(BASELINE_UNUSED))}

    def baseline(self, model: str) -> BaselineResult:
        def run(out: Path) -> dict:
            cfg = self.cfg.model_copy(update={"baselines": self.cfg.baselines.model_copy(update={"output_dir": out})})
            log.info("baseline %s: training %.0f s (the supernet's time%s)", model, self.budget_s,
                     ", given with --budget-s" if self.given_budget_s else "")
            before = sq.speed_probe_ms(self.cfg, self.manifest.num_classes)
            result = run_baseline(cfg, model, self.data_dir, Budget(seconds=self.budget_s), devices=[],
                                  callbacks=[LogProgress(model, every=500)])
            after = sq.speed_probe_ms(self.cfg, self.manifest.num_classes)
            log.info("%s: test %.1f %%, %d steps in %.0f s; resnet18 probe %.2f -> %.2f ms", model,
                     100 * (result.test_accuracy or 0.0), result.train.steps, result.train.train_s, before, after)
            return {"baseline": result.model_dump(mode="json"), "speed_probe_ms": [before, after]}

        return BaselineResult.model_validate(self.cache.run("baseline", self.baseline_inputs(model), run)["baseline"])

    def trained_baseline(self, model: str) -> tuple[BaselineResult, list[float] | None]:
        """The trained baseline and the speed probe around its training (None: trained before probes)."""
        found = self.cache.need("baseline", self.baseline_inputs(model), self._cmd(f"--part baselines --model {model}"))
        return BaselineResult.model_validate(found["baseline"]), found.get("speed_probe_ms")

    # -- latency --

    def spec(self, device: str) -> DeviceSpec:
        return device_spec(self.cfg, device)

    def latency_inputs(self, device: str) -> dict:
        spec = self.spec(device)
        return {"device": spec.model_dump(mode="json"), "versions": get_backend(spec).versions(),
                "latency": self.cfg.latency.model_dump(mode="json", exclude={"output_dir", "devices"}),
                "space": self.space.hash, "num_classes": self.manifest.num_classes,
                "baselines": list(self.cfg.baselines.models), "resolution": self.cfg.data.resolution}

    def latency(self, device: str) -> dict:
        spec, n, res = self.spec(device), self.manifest.num_classes, self.cfg.data.resolution

        def run(out: Path) -> dict:
            table = collect_table(self.space, spec, n, self.cfg.latency, table_path(out, device), progress=False)
            # the search's budgets: each baseline's latency here (weights do not change it, so untrained)
            nets = [create_baseline(m, n) for m in self.cfg.baselines.models]
            ms = time_models(spec, self.cfg, [], nets, res)
            return {"table": str(table_path(out, device)), "table_sha256": sha256_file(table_path(out, device)),
                    "collect_s": round(table.collect_s, 1),
                    "baseline_ms": dict(zip(self.cfg.baselines.models, ms, strict=True))}

        return self.cache.run("latency", self.latency_inputs(device), run)

    # -- search --

    def search_inputs(self, device: str, table: dict) -> dict:
        return {"supernet": self.supernet_sha, "table": table["table_sha256"], "data": self.manifest.version,
                "budgets_ms": self.budgets(device, table),
                # timed_front: the pipeline's interleaved timing; this benchmark's measure stage times its own
                "search": self.cfg.search.model_dump(mode="json", exclude={"output_dir", "export_dir", "cache_path",
                                                                           "budgets_ms", "timed_front"}),
                "latency": self.cfg.latency.model_dump(mode="json", exclude={"output_dir", "devices"})}

    def budgets(self, device: str, table: dict) -> list[float]:
        """One per baseline: its latency, clipped to the space's predicted range (below the smallest
        subnet is infeasible, above the largest the same as the largest)."""
        predictor = LatencyPredictor.load(table["table"], self.space, self.spec(device))
        low, high = predictor.predict(self.space.smallest()), predictor.predict(self.space.largest())
        return sorted({round(min(max(ms, low), high), 3) for ms in table["baseline_ms"].values()})

    def search(self, device: str) -> dict:
        table = self.cache.need("latency", self.latency_inputs(device), self._cmd(f"--part latency --device {device}"))
        inputs = self.search_inputs(device, table)

        def run(out: Path) -> dict:
            search = self.cfg.search.model_copy(update={
                "budgets_ms": {device: inputs["budgets_ms"]}, "output_dir": out,
                "cache_path": self.work / "stages" / "search" / "evaluations.sqlite"})
            latency = self.cfg.latency.model_copy(update={"output_dir": Path(table["table"]).parents[1]})
            cfg = self.cfg.model_copy(update={"search": search, "latency": latency})
            result = run_search(cfg, device, supernet_path=self.supernet.path, data_dir=self.data_dir)
            for b in result.budgets:
                log.info("%s %s", device, b.describe())
            return {"result": str(search_result_path(search, device)), "search_s": round(result.search_s, 1),
                    "budgets_ms": inputs["budgets_ms"], "evaluated": len(result.cloud), "front": len(result.front)}

        return self.cache.run("search", inputs, run)

    # -- the interleaved measurement --

    def measure_inputs(self, device: str) -> tuple[dict, dict]:
        table = self.cache.need("latency", self.latency_inputs(device), self._cmd(f"--part latency --device {device}"))
        search_inputs = self.search_inputs(device, table)
        search = self.cache.need("search", search_inputs, self._cmd(f"--part search --device {device}"))
        inputs = {"search": self.cache.key("search", search_inputs),
                  "baselines": {m: self.cache.key("baseline", self.baseline_inputs(m)) for m in self.cfg.baselines.models},
                  "latency": self.latency_inputs(device), "front_max": MEASURE_FRONT_MAX,
                  "scoring": {"split": "test", "calib_batches": CALIB_BATCHES, "calib_batch_size": CALIB_BATCH_SIZE}}
        return inputs, search

    def measure(self, device: str) -> dict:
        inputs, search = self.measure_inputs(device)
        baselines = [self.trained_baseline(m)[0] for m in self.cfg.baselines.models]

        def run(out: Path) -> dict:
            result = DeviceSearchResult.load(search["result"])
            picked = timed_archs(result, MEASURE_FRONT_MAX)
            supernet, _ = load_supernet(self.supernet.path)
            archs = [Arch.parse(a) for a in picked]
            log.info("%s: scoring %d subnets on the test split", device, len(archs))
            accs = SubnetScorer(self.data_dir, split="test").accuracies(supernet, archs)
            nets = [create_baseline(b.model, b.num_classes, b.weights) for b in baselines]
            log.info("%s: timing %d subnets and %d baselines interleaved", device, len(archs), len(nets))
            started = time.perf_counter()
            ms = time_models(self.spec(device), self.cfg, [(supernet, a) for a in archs], nets,
                                  baselines[0].resolution)
            cloud = {p.arch_id: p for p in result.cloud}
            subnets = [{"arch_id": a, "kind": kind, "test_accuracy": acc, "search_val_accuracy": cloud[a].val_accuracy
                        if a in cloud else None, "predicted_ms": cloud[a].predicted_ms if a in cloud else None,
                        "measured_ms": t}
                       for (a, kind), acc, t in zip(picked.items(), accs, ms[:len(archs)], strict=True)]
            timed = [{"model": b.model, "test_accuracy": b.test_accuracy, "val_accuracy": b.val_accuracy, "measured_ms": t}
                     for b, t in zip(baselines, ms[len(archs):], strict=True)]
            return {"statistic": self.cfg.latency.statistic, "timing_s": round(time.perf_counter() - started, 1),
                    "subnets": subnets, "baselines": timed}

        return self.cache.run("measure", inputs, run)

    # -- the report --

    def report(self, output: Path, devices: Sequence[str]) -> dict:
        paretos, searches, per_device = [], {}, []
        for device in devices:
            inputs, search = self.measure_inputs(device)
            measured = self.cache.need("measure", inputs, self._cmd(f"--part measure --device {device}"))
            table = self.cache.need("latency", self.latency_inputs(device), "--part latency")
            subnets = [ParetoPoint(name=s["arch_id"], kind="chosen" if s["kind"] == "chosen" else "subnet",
                                   accuracy=s["test_accuracy"], latency_ms=s["measured_ms"], measured=True)
                       for s in measured["subnets"]]
            marked = [ParetoPoint(name=b["model"], kind="baseline", accuracy=b["test_accuracy"],
                                  latency_ms=b["measured_ms"], measured=True) for b in measured["baselines"]]
            paretos.append(device_pareto(device, subnets, marked))
            searches[device] = {"budgets_ms": search["budgets_ms"], "evaluated": search["evaluated"],
                                "search_s": search["search_s"], "measured_subnets": len(subnets),
                                "table_collect_s": table["collect_s"], "measure_s": measured["stage_s"]}
            per_device.append(table["collect_s"] + search["stage_s"])
        comparison = Comparison(paretos=paretos, rows=comparison_table(paretos))
        write_report(comparison, output.with_suffix(""), accuracy="test top-1")
        baselines = [self.trained_baseline(m) for m in self.cfg.baselines.models]
        report = {
            "budget_s": self.budget_s,
            "devices": device_rows(comparison),
            "rows": [{**r.model_dump(mode="json"), "measured": row_measured(r, p)}
                     for p in paretos for r in comparison.rows if r.device == p.device],
            "baselines": {
                b.model: {"val_accuracy": b.val_accuracy, "test_accuracy": b.test_accuracy, "train_s": b.train.train_s,
                          "steps": b.train.steps, "epochs": b.train.epochs, "images_per_s": b.train.images_per_s,
                          "params": b.params, "macs": b.macs, "speed_probe_ms": probe}
                for b, probe in baselines
            },
            "searches": searches,
            "train_once": train_once(self.supernet_train_s, self.budget_s, len(self.cfg.baselines.models), per_device),
            "targets": check_targets(comparison.rows),
            "setup": {"config": CONFIG, "quick": self.quick, "supernet_run_key": self.supernet.run_key,
                      "supernet_record": _rel(self.supernet.record), "supernet_train_s": self.supernet.train_s,
                      "supernet_train_extrapolated": self.supernet.extrapolated,
                      "supernet_speed_probe_ms": sq.recorded_speed_probe_ms(self.supernet.record.parent),
                      "speed_probe": f"resnet18 batch-1 ms on {sq.LATENCY_DEVICE} "
                                     f"({sq.RESNET18_MS_REFERENCE} on the reference machine)",
                      "budget_given": self.given_budget_s is not None, "accuracy": "test top-1",
                      "test_images": sum(self.manifest.counts["test"].values()), "data_version": self.manifest.version,
                      "search_overrides": [o for o in self.scale.overrides if o.startswith("search.")],
                      "latency_statistic": self.cfg.latency.statistic, "torch": torch.__version__,
                      "threads": torch.get_num_threads(),
                      "cpus": os.cpu_count()},
        }
        write_json(output, report)
        write_text(output.with_suffix("") / "summary.md", summary(report, comparison.rows))
        return report

    def _cmd(self, part: str) -> str:
        given = f"--budget-s {self.given_budget_s:g} " if self.given_budget_s else ""
        return f"{'--quick ' if self.quick else ''}{given}{part}"


def summary(report: dict, rows: Sequence[ComparisonRow]) -> str:
    once = report["train_once"]
    lines = [markdown_table(rows, "test top-1"), ""]
    source = ("capped for --quick" if report["setup"]["quick"] else
              "the supernet recipe's training time, given with --budget-s" if report["setup"].get("budget_given") else
              "the supernet's training time")
    lines.append(f"Budget {report['budget_s']:.0f} s per model ({source}). Train once: "
                 f"{once['per_device_s']:.0f} s per device (table + search); " + "; ".join(
                     f"{d} devices x {once['targets_per_device']} targets: {v['stock_s']:.0f} s of stock training "
                     f"against {v['train_once_s']:.0f} s ({v['ratio']:.2f}x)" for d, v in once["devices"].items()) + ".")
    probes = [f"{m} {p[0]:.2f}-{p[1]:.2f}" for m, b in report["baselines"].items() if (p := b.get("speed_probe_ms"))]
    supernet = report["setup"].get("supernet_speed_probe_ms")
    if supernet is not None or probes:
        lines.append(f"Machine speed ({report['setup']['speed_probe']}; budgets spent on a slower hour buy less): "
                     f"supernet {'not probed' if supernet is None else f'{supernet:.2f}'}"
                     + "".join(f"; {p}" for p in probes) + ".")
    t = report["targets"]
    missed = [f"{x['device']}/{x['baseline']} ({_gap(x['gain_pts'])})" for x in t["at_latency"] if not x["met"]]
    s = t["speedup"]
    found = "none" if s["speedup"] is None else f"{s['speedup']:.2f}x"
    lines.append(f"Targets: at-latency accuracy {'met everywhere' if not missed else 'missed at ' + ', '.join(missed)}; "
                 f"{s['baseline']} on {s['device']}: speed-up at equal accuracy {found} (target {s['target']}x).")
    return "\n".join(lines) + "\n"


def _gap(pts: float | None) -> str:
    return "no subnet that fast" if pts is None else f"{pts:+.1f} pts"


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, default="all",
                        help="one stage (over every device or model unless --device/--model); all: every stage not cached")
    parser.add_argument("--model", help="with --part baselines: train only this baseline")
    parser.add_argument("--device", help="with --part latency/search/measure/report: only this device (a report on some devices: give it its own --output)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run of every part: tiny per-class data, a tiny supernet, seconds-long budgets")
    parser.add_argument("--threads", type=int, help="torch threads for training and scoring (default: torch's own, "
                        "as bench.supernet_quality trains the supernet; --quick: 1)")
    parser.add_argument("--budget-s", type=float, help="each baseline's wall-clock budget, and the supernet's cost in the "
                        "train-once accounting, instead of the time the supernet's record holds: for when that time was "
                        "not measured in one piece alone (its record says budget_extrapolated); give it to every part")
    parser.add_argument("--output", type=Path, help="results JSON (default bench/results/vs_baselines.json; "
                        "--quick: artifacts/bench/vs_baselines/quick/vs_baselines.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.model and args.part != "baselines":
        parser.error("--model goes with --part baselines")
    if args.device and args.part not in ("latency", "search", "measure", "report"):
        parser.error("--device goes with --part latency, search, measure or report")
    scale = SCALES["quick" if args.quick else "full"]
    threads = args.threads or (1 if args.quick else None)
    if threads:
        torch.set_num_threads(threads)
    bench = Bench(scale, WORK / scale.name, args.budget_s)
    devices = [args.device] if args.device else list(bench.cfg.latency.devices)
    output = args.output or (WORK / "quick" / "vs_baselines.json" if args.quick else RESULTS / "vs_baselines.json")
    part = args.part
    if part in ("baselines", "all"):
        for model in [args.model] if args.model else bench.cfg.baselines.models:
            bench.baseline(model)
    if part in ("latency", "all"):
        for device in devices:
            bench.latency(device)
    if part in ("search", "all"):
        for device in devices:
            bench.search(device)
    if part in ("measure", "all"):
        for device in devices:
            bench.measure(device)
    if part in ("report", "all"):
        report = bench.report(output, devices)
        print((output.with_suffix("") / "summary.md").read_text())
        print(f"wrote {_rel(output)} (targets {'met' if report['targets']['all_met'] else 'not all met'})")


if __name__ == "__main__":
    main()
