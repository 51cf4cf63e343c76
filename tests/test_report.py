"""The run report from hand-made records: two devices, two baselines, synthetic tables of the cifar space."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from elasticvit.baselines import BaselineResult, compare, compare_all
from elasticvit.baselines.compare import ComparisonRow, ParetoPoint
from elasticvit.export.run import ExportedModel, ExportReport
from elasticvit.latency import LatencyPredictor, LatencyTable, Measurement, load_device
from elasticvit.latency.correction import Correction
from elasticvit.latency.lut import BlockEntry, MeasureSettings, make_header
from elasticvit.report import (
    FIXED,
    RunReport,
    TrainingCurve,
    block_stages,
    build_run_report,
    latency_breakdown,
    trust_warnings,
    verdict,
    write_run_report,
)
from elasticvit.report.screenshot import find_browser, screenshot
from elasticvit.search import BudgetResult, CloudPoint, DeviceSearchResult
from elasticvit.space import Arch, SearchSpace, load_space
from elasticvit.space.specs import arch_blocks, space_blocks
from tests.test_baselines import make_baseline_result

NUM_CLASSES = 10
DEVICES = ("torch-cpu-1t", "onnx-cpu-1t")
# ms per million MACs by block kind: attention is relatively dear on the first device, cheap on the second
COST = {"torch-cpu-1t": {"transformer": 0.05, "default": 0.02}, "onnx-cpu-1t": {"transformer": 0.01, "default": 0.03}}
# a correction with every term set (and a negative offset), so the split is tested against all of them
CORRECTION = {
    "torch-cpu-1t": Correction(scale=1.3, per_block_ms=0.002, offset_ms=-0.01, points=5),
    "onnx-cpu-1t": Correction(scale=0.9, per_block_ms=-0.001, offset_ms=0.05, points=5,
                              kind_scale={"transformer": 1.2}, kind_per_block_ms={"transformer": 0.004},
                              activation_ms=0.5, kind_activation_ms={"transformer": 3.0}),
}
BASELINES = ("resnet18", "mobilenetv3_small_100")
HISTORY = [
    {"epoch": 1, "smallest": 0.30, "largest": 0.35, "level0": 0.32, "loss": 2.1, "lr": 0.002},
    {"epoch": 2, "smallest": 0.41, "largest": 0.52, "level0": 0.45, "loss": 1.7, "lr": 0.001},
]


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return load_space("cifar")


@pytest.fixture(scope="module")
def predictors(space: SearchSpace) -> dict[str, LatencyPredictor]:
    return {d: LatencyPredictor.from_table(_table(space, d), space) for d in DEVICES}


@pytest.fixture(scope="module")
def archs(space: SearchSpace) -> dict[str, Arch]:
    """The subnet chosen per device: the largest where attention is cheap, the smallest elsewhere."""
    return {"torch-cpu-1t": space.smallest(), "onnx-cpu-1t": space.largest()}


def test_split_per_kind_and_stage_sums_to_the_prediction(
    space: SearchSpace, predictors: dict[str, LatencyPredictor], archs: dict[str, Arch]
) -> None:
    for arch in archs.values():
        assert len(block_stages(space, arch)) == len(arch_blocks(space, arch, NUM_CLASSES))
        for device, predictor in predictors.items():
            b = latency_breakdown(predictor, arch)
            assert b.predicted_ms == pytest.approx(predictor.predict(arch), rel=1e-12)
            assert sum(b.by_kind.values()) == pytest.approx(b.predicted_ms, rel=1e-9)
            assert sum(b.by_stage.values()) == pytest.approx(b.predicted_ms, rel=1e-9)
            assert b.by_kind[FIXED] == b.by_stage[FIXED] == CORRECTION[device].offset_ms
            assert {"first_conv", "mbconv", "downsample", "transformer", "head"} <= set(b.by_kind)
            assert list(b.by_stage) == ["first conv", "stem", "S1 mbconv", "S2 mbconv", "S3 transformer",
                                        "S4 transformer", "head", FIXED]
    # attention is what the first device makes expensive: a larger share of the same subnet there
    big = {d: latency_breakdown(p, archs["onnx-cpu-1t"]) for d, p in predictors.items()}
    share = {d: b.by_kind["transformer"] / b.predicted_ms for d, b in big.items()}
    assert share["torch-cpu-1t"] > share["onnx-cpu-1t"]


def test_page_shows_every_device_baseline_and_chosen_arch(
    tmp_path: Path, predictors: dict[str, LatencyPredictor], archs: dict[str, Arch]
) -> None:
    baselines = [make_baseline_result(name, acc, {"torch-cpu-1t": ms, "onnx-cpu-1t": 2 * ms})
                 for name, acc, ms in [(BASELINES[0], 0.80, 0.5), (BASELINES[1], 0.55, 2.0)]]
    report = _report(predictors, archs, baselines, curve=TrainingCurve.from_rows(HISTORY))
    paths = write_run_report(report, tmp_path / "report")
    page = paths[-1]
    assert page.name == "index.html" and page.parent == tmp_path / "report"
    text = page.read_text()
    for name in (*DEVICES, *BASELINES, *(a.id for a in archs.values())):
        assert name in text
    assert "resnet18 still wins" in text and "beats mobilenetv3_small_100" in text
    assert "No baselines" not in text and "No training history" not in text

    files = re.findall(r'href="([^"]+\.png)"', text)
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert sorted(files) == sorted(["pareto-torch-cpu-1t.png", "pareto-onnx-cpu-1t.png", "latency-by-kind.png",
                                    "latency-by-stage.png", "training-curve.png"])
    assert len(embedded) == len(files)
    for name, data in zip(files, embedded, strict=True):
        path = page.parent / name
        assert path in paths
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(path).ndim == 3
        assert base64.b64decode(data) == path.read_bytes()  # the page carries the same picture
    assert RunReport.model_validate_json((page.parent / "report.json").read_text()) == report


def test_report_without_baselines_or_history(
    tmp_path: Path, predictors: dict[str, LatencyPredictor], archs: dict[str, Arch]
) -> None:
    report = _report(predictors, archs, [])
    assert report.comparison.rows == [] and all(not p.baselines for p in report.comparison.paretos)
    text = write_run_report(report, tmp_path)[-1].read_text()
    assert text.count("No baselines in this run") == len(DEVICES)
    assert "No training history" in text
    assert "against the baselines" not in text
    assert "training-curve.png" not in text and "pareto-onnx-cpu-1t.png" in text


def test_text_is_escaped(tmp_path: Path, predictors: dict[str, LatencyPredictor], archs: dict[str, Arch]) -> None:
    baselines = [make_baseline_result("net<script>", 0.7, {d: 1.0 for d in DEVICES})]
    report = _report(predictors, archs, baselines, facts={"note": "<b>x</b> & y"}, title="a < b")
    text = write_run_report(report, tmp_path)[-1].read_text()
    assert "<script>" not in text and "<b>x</b>" not in text and "a < b" not in text
    assert "net&lt;script&gt;" in text and "&lt;b&gt;x&lt;/b&gt; &amp; y" in text and "a &lt; b" in text


def test_verdict_says_who_wins_and_by_how_much() -> None:
    subnets = [ParetoPoint(name=n, kind="chosen", accuracy=a, latency_ms=ms, measured=True)
               for n, ms, a in [("a", 1.0, 0.60), ("b", 2.0, 0.70)]]
    names = {"a": "dev-1ms", "b": "dev-2ms"}

    def row(ms: float, acc: float) -> ComparisonRow:
        return compare(ParetoPoint(name="base", kind="baseline", accuracy=acc, latency_ms=ms, measured=True),
                       subnets, "dev")

    assert verdict(row(2.5, 0.65), names) == (
        "base is beaten: dev-2ms is 5.0 pts more accurate at no more latency; dev-2ms is 1.25x faster at no "
        "less accuracy."
    )
    assert verdict(row(1.5, 0.75), names) == (
        "base still wins: it is 15.0 pts more accurate than the best subnet no slower (dev-1ms); no searched "
        "subnet reaches its accuracy (75.0 %)."
    )
    assert verdict(row(0.5, 0.65), names) == (
        "base still wins: no searched subnet is as fast (0.5 ms); it is 4.00x faster than the fastest subnet "
        "as accurate (dev-2ms)."
    )
    assert verdict(row(2.0, 0.70), names) == "base ties with dev-2ms: same accuracy, same latency."


def test_page_shows_baselines_test_accuracy_stage_times_and_warnings(
    tmp_path: Path, predictors: dict[str, LatencyPredictor], archs: dict[str, Arch]
) -> None:
    baseline = make_baseline_result(BASELINES[0], 0.80, {d: 0.5 for d in DEVICES}).model_copy(
        update={"test_accuracy": 0.7777})
    short = TrainingCurve.from_rows(HISTORY)  # 2 epochs: too few to judge
    report = _report(predictors, archs, [baseline], curve=short, stage_s={"train": 90.0, "latency": 30.0})
    text = write_run_report(report, tmp_path / "report")[-1].read_text()
    assert "77.8 %" in text  # the baseline's test top-1 beside its val
    assert "Wall time 2.0 min: train 90 s, latency 30 s." in text
    assert report.warnings and "Too short to trust yet" in text and "only 2 epoch(s)" in text
    # report.json carries the same warnings for the closing table
    again = RunReport.model_validate_json((tmp_path / "report" / "report.json").read_text())
    assert again.warnings == report.warnings and again.baselines[0].test_accuracy == 0.7777


def test_trust_warnings_on_hand_made_runs(archs: dict[str, Arch]) -> None:
    def curve(largest: list[float]) -> TrainingCurve:
        return TrainingCurve(epochs=list(range(1, len(largest) + 1)), accuracy={"largest": largest})

    exports = [_export(d, archs[d]) for d in DEVICES]  # val 62 %, test 60 %: a 2-point gap is fine
    flat = curve([0.5, 0.8, 0.9, 0.95, 0.96, 0.96, 0.96, 0.965])
    assert trust_warnings(flat, exports) == []
    assert trust_warnings(None, exports) == []
    noisy = trust_warnings(flat, exports, [DEVICES[1]])
    assert len(noisy) == 1 and noisy[0].startswith(f"{DEVICES[1]}'s latency table is untrusted")
    rising = trust_warnings(curve([0.2, 0.4, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9]), exports)
    assert len(rising) == 1 and "still learning" in rising[0] and "largest +10.0 pts over the last 2 epochs" in rising[0]
    untrained = trust_warnings(curve([0.3, 0.31, 0.31, 0.31, 0.31, 0.31, 0.31, 0.31]), exports)
    assert len(untrained) == 1 and "only 31.0 % val" in untrained[0]
    gap = [e.model_copy(update={"models": [e.models[0].model_copy(update={"test_accuracy": 0.5})]}) for e in exports]
    picked_on_noise = trust_warnings(flat, gap)
    assert len(picked_on_noise) == 2 and all("12.0 pts lower on test" in w for w in picked_on_noise)
    over = [exports[0].model_copy(update={"models": [exports[0].models[0].model_copy(update={"measured_ms": 0.95})]})]
    assert trust_warnings(flat, over) == [f"{DEVICES[0]}-0.9ms measured 0.950 ms on {DEVICES[0]}, over its 0.9 ms "
                                          "budget: no candidate the search timed held it"]


def test_training_curve_reads_the_loops_history(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(HISTORY))
    curve = TrainingCurve.load(path)
    assert curve.epochs == [1, 2] and curve.loss == [2.1, 1.7]
    assert curve.accuracy == {"smallest": [0.30, 0.41], "largest": [0.35, 0.52], "level0": [0.32, 0.45]}
    with pytest.raises(ValueError, match="one value per epoch"):
        TrainingCurve(epochs=[1, 2], accuracy={"largest": [0.5]})


def test_task_logs_the_report_on_the_parent_run(
    tmp_path: Path, sqlite_tracking: str, space: SearchSpace, archs: dict[str, Arch]
) -> None:
    from mlflow.tracking import MlflowClient

    from elasticvit.config import load_config
    from elasticvit.latency import table_path
    from elasticvit.report.run import report_dir
    from tasks.records import ReportRecord
    from tasks.report import pipeline_report

    cfg = load_config("quickstart", [
        f"latency.output_dir={tmp_path / 'latency'}", f"training.output_dir={tmp_path / 'supernet'}",
        f"storage.artifacts_dir={tmp_path}", f"latency.devices=[{','.join(DEVICES)}]", f"space.name={space.name}",
    ])
    for device in DEVICES:
        _table(space, device).save(table_path(cfg.latency.output_dir, device))
    searches = [str(_search(d, archs[d]).save(tmp_path / "search" / d / "result.json")) for d in DEVICES]
    exports = [str(_export(d, archs[d]).save(tmp_path / "export" / d / "exports.json")) for d in DEVICES]
    client = MlflowClient(sqlite_tracking)
    experiment = client.create_experiment(cfg.tracking.experiment)
    parent = client.create_run(experiment, run_name="pipeline").info.run_id

    out = pipeline_report.fn(cfg, searches, exports, None, parent_run_id=parent)
    assert out == ReportRecord(report=str((report_dir(cfg) / "index.html").resolve()), warnings=[],
                               mlflow_run_id=parent)
    logged = {a.path for a in client.list_artifacts(parent, "report")}
    assert {"report/index.html", "report/report.json", "report/latency-by-kind.png",
            "report/pareto-torch-cpu-1t.png"} <= logged
    assert "report/training-curve.png" not in logged  # no history.json in this run
    assert archs["onnx-cpu-1t"].id in Path(out.report).read_text()


# --- hand-made records ----------------------------------------------------------------------------


def _report(
    predictors: dict[str, LatencyPredictor], archs: dict[str, Arch], baselines: list[BaselineResult],
    title: str = "test run", **kwargs: Any,
) -> RunReport:
    searches = [_search(d, archs[d]) for d in DEVICES]
    exports = [_export(d, archs[d]) for d in DEVICES]
    return build_run_report(title, exports, compare_all(searches, baselines), predictors, baselines=baselines, **kwargs)


def _search(device: str, arch: Arch) -> DeviceSearchResult:
    cloud = [CloudPoint(arch_id=f"other-{i}", predicted_ms=0.2 * (i + 1), val_accuracy=0.4 + 0.05 * i)
             for i in range(6)]
    chosen = BudgetResult(
        budget_ms=0.9, arch_id=arch.id, arch=arch.model_dump(mode="json"), predicted_ms=0.8, measured_ms=0.85,
        val_accuracy=0.62, macs=1_000_000, params=50_000, evaluations=6, measured=6, history=[0.6, 0.62],
        search_s=1.0,
    )
    cloud.append(CloudPoint(arch_id=arch.id, predicted_ms=0.8, val_accuracy=0.62))
    return DeviceSearchResult(device=device, supernet="s", data="d", budgets=[chosen], cloud=cloud, front=cloud,
                              measured=6, cache_hits=0, search_s=1.0)


def _export(device: str, arch: Arch) -> ExportReport:
    model = ExportedModel(
        name=f"{device}-0.9ms", device=device, budget_ms=0.9, arch_id=arch.id, predicted_ms=0.8, measured_ms=0.85,
        val_accuracy=0.62, standalone_val_accuracy=0.62, test_accuracy=0.6, onnx_max_abs_diff=1e-6,
        onnx_tolerance=1e-4, macs=1_000_000, params=50_000, onnx=Path("model.onnx"), checkpoint=Path("model.pt"),
        card=Path("MODEL_CARD.md"),
    )
    return ExportReport(device=device, supernet_sha256="s", data_version="d", models=[model])


def _table(space: SearchSpace, device: str) -> LatencyTable:
    cost = COST[device]
    entries = {
        s.key: BlockEntry(kind=s.kind, input_shape=list(s.input_shape(1)), config=s.model_dump(mode="json"),
                          latency=_ms(0.005 + cost.get(s.kind, cost["default"]) * s.macs / 1e6))
        for s in space_blocks(space, NUM_CLASSES)
    }
    settings = MeasureSettings(warmup=1, repeats=3, min_time_s=0.0, max_cv=0.1, statistic="median")
    header = make_header(space.name, space.hash, NUM_CLASSES, load_device(device), settings, {"torch": "x"})
    return LatencyTable(
        **header.model_dump(), entries=entries, call_overhead=_ms(0.004), overhead_per_block_ms=0.001,
        calibration=[], correction=CORRECTION[device], collect_s=0.0,
    )


def _ms(value: float) -> Measurement:
    return Measurement(count=3, trimmed=0, attempts=1, median_ms=value, mean_ms=value, std_ms=0.0, min_ms=value, cv=0.0)


@pytest.mark.skipif(find_browser() is None, reason="needs Chromium (apt install chromium, or $CHROMIUM)")
def test_page_renders_in_a_headless_browser(
    tmp_path: Path, predictors: dict[str, LatencyPredictor], archs: dict[str, Arch]
) -> None:
    baselines = [make_baseline_result(BASELINES[0], 0.8, {d: 0.5 for d in DEVICES})]
    page = write_run_report(_report(predictors, archs, baselines, curve=TrainingCurve.from_rows(HISTORY)),
                            tmp_path / "report")[-1]
    shot = screenshot(page, tmp_path / "shot.png", width=900, height=1200)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1200, 900)
    # drawn, not blank: the page's text and the embedded Pareto plot put many distinct colours on it
    assert pixels.std() > 0.05 and len({tuple(p) for p in pixels[::7, ::7, :3].reshape(-1, 3).round(2)}) > 20
