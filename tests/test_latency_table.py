"""Block enumeration and keys, the table format, the predictor, mismatch errors, resumable collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from elasticvit.config import LatencyConfig
from elasticvit.latency import (
    LatencyPredictor,
    LatencyTable,
    MissingBlockError,
    TableMismatchError,
    ValidationReport,
    collect_table,
    load_device,
    scatter_plot,
    validate_predictor,
)
from elasticvit.latency import collect as collect_mod
from elasticvit.latency import timing as timing_mod
from elasticvit.latency.collect import refit_correction
from elasticvit.latency.correction import CalibrationPoint, Correction, fit_correction
from elasticvit.latency.lut import BlockEntry, LatencyTableError, MeasureSettings, make_header
from elasticvit.latency.measure import Measurement
from elasticvit.latency.timing import REFERENCE_ARCHS, SpeedReference, sample_archs
from elasticvit.latency.validate import NoisyLatencyError, ValidationPoint, check_trusted
from elasticvit.space import Arch, load_space
from elasticvit.space.specs import arch_blocks, space_blocks

KINDS = {"first_conv", "stem", "mbconv", "transformer", "downsample", "head"}
NUM_CLASSES = 10
FAST = LatencyConfig(warmup=0, repeats=3, min_time_s=0.0, calibration_archs=0, validate_archs=3)


@pytest.fixture(scope="module")
def space():  # type: ignore[no-untyped-def]
    return load_space("cifar")


def test_enumeration_covers_every_block_of_sampled_archs(space) -> None:  # type: ignore[no-untyped-def]
    keys = {s.key for s in space_blocks(space, NUM_CLASSES)}
    rng = np.random.default_rng(0)
    used_kinds = set()
    for arch in [space.smallest(), space.largest(), *(space.sample(rng) for _ in range(300))]:
        for block in arch_blocks(space, arch, NUM_CLASSES):
            assert block.key in keys, f"{block.key} (arch {arch.id}) is not enumerated"
            used_kinds.add(block.kind)
    assert used_kinds <= KINDS
    assert {"first_conv", "mbconv", "transformer", "downsample", "head"} <= used_kinds


def test_keys_are_distinct_and_stable_across_processes(space) -> None:  # type: ignore[no-untyped-def]
    specs = space_blocks(space, NUM_CLASSES)
    keys = sorted(s.key for s in specs)
    assert len(set(keys)) == len(specs), "two different blocks share a key"
    assert all(k.split("-")[0].replace("_", "") in {kind.replace("_", "") for kind in KINDS} for k in keys)
    script = (
        "from elasticvit.space import load_space; from elasticvit.space.specs import space_blocks; "
        "print('\\n'.join(sorted(s.key for s in space_blocks(load_space('cifar'), 10))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == keys


def test_table_round_trip_is_sorted_json(space, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = synthetic_table(space)
    path = table.save(tmp_path / "table.json")
    assert LatencyTable.load(path) == table
    text = path.read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_prediction_is_the_corrected_block_sum(space) -> None:  # type: ignore[no-untyped-def]
    correction = Correction(scale=1.2, per_block_ms=0.002, offset_ms=0.03, points=0)
    table = synthetic_table(space, overhead=0.005, correction=correction)
    predictor = LatencyPredictor.from_table(table, space)
    rng = np.random.default_rng(1)
    archs = [space.sample(rng) for _ in range(20)]
    for arch in archs:
        blocks = arch_blocks(space, arch, NUM_CLASSES)
        block_sum = sum(table.entries[b.key].latency.median_ms for b in blocks)
        assert predictor.block_sum_ms(arch) == pytest.approx(block_sum)
        expected = 1.2 * (block_sum - 0.005 * len(blocks)) + 0.002 * len(blocks) + 0.03
        assert predictor.predict(arch) == pytest.approx(expected)
    np.testing.assert_allclose(predictor.predict_many(archs), [predictor.predict(a) for a in archs])


def test_kind_group_terms_apply_to_their_kinds_blocks(space) -> None:  # type: ignore[no-untyped-def]
    correction = Correction(scale=0.8, per_block_ms=0.001, offset_ms=0.03, points=0,
                            kind_scale={"transformer": 1.4}, kind_per_block_ms={"transformer": -0.002})
    predictor = LatencyPredictor.from_table(synthetic_table(space, overhead=0.005, correction=correction), space)
    arch = space.largest()
    expected = 0.03 + sum(
        (1.4 if b.kind == "transformer" else 0.8) * (predictor.table.latency_ms(b.key) - 0.005)
        + (-0.002 if b.kind == "transformer" else 0.001)
        for b in arch_blocks(space, arch, NUM_CLASSES)
    )
    assert predictor.predict(arch) == pytest.approx(expected)
    assert predictor.uncorrected_ms(arch) == pytest.approx(
        predictor.block_sum_ms(arch) - 0.005 * len(predictor.block_keys(arch)) + 0.005)


def test_refit_fills_in_per_kind_sums_of_an_older_table(space) -> None:  # type: ignore[no-untyped-def]
    # Calibration archs of a runtime that runs transformer blocks 1.5x their sum and the rest 0.7x,
    # stored as a table collected before per-kind sums (``by_kind`` empty) with a whole-sum fit.
    table = synthetic_table(space)
    archs = sample_archs(space, 30, np.random.default_rng(2))
    points = []
    for arch in archs:
        blocks = arch_blocks(space, arch, NUM_CLASSES)
        sums = [table.latency_ms(b.key) for b in blocks]
        measured = sum((1.5 if b.kind == "transformer" else 0.7) * t for b, t in zip(blocks, sums, strict=True))
        points.append(CalibrationPoint(arch_id=arch.id, blocks=len(blocks), block_sum_ms=sum(sums),
                                       measured=_measurement(measured)))
    old = table.model_copy(update={"calibration": points, "correction": fit_correction(points, 0.0, 0.005)})
    assert not old.correction.kind_scale
    refitted = refit_correction(old, space)
    assert all(p.by_kind for p in refitted.calibration)
    assert refitted.correction.kind_scale == {"transformer": pytest.approx(1.5)}
    assert refitted.correction.scale == pytest.approx(0.7)


def test_refit_learns_what_activations_cost_beyond_the_blocks(space) -> None:  # type: ignore[no-untyped-def]
    # A fusing runtime whose models pay for moving each block's input and output through memory,
    # more for attention's tokens than for feature maps, on top of 0.8x the block sums.
    table = synthetic_table(space)

    def runtime(arch: Arch) -> float:
        blocks = arch_blocks(space, arch, NUM_CLASSES)
        return 0.02 + sum(0.8 * table.latency_ms(b.key) + (2.0 if b.kind == "transformer" else 0.3) * b.activations_m
                          for b in blocks)

    archs = sample_archs(space, 30, np.random.default_rng(2))
    points = [CalibrationPoint(arch_id=a.id, blocks=1, block_sum_ms=1.0, measured=_measurement(runtime(a)))
              for a in archs]
    refitted = refit_correction(table.model_copy(update={"calibration": points}), space)
    c = refitted.correction
    assert c.model == "scale + activation per kind group + offset"
    assert c.kind_activation_ms == {"transformer": pytest.approx(2.0, rel=1e-3)}
    assert (c.scale, c.activation_ms, c.offset_ms) == pytest.approx((0.8, 0.3, 0.02), rel=1e-3)
    predictor = LatencyPredictor.from_table(refitted, space)
    for arch in sample_archs(space, 20, np.random.default_rng(3)):
        assert predictor.predict(arch) == pytest.approx(runtime(arch), rel=1e-6)


def test_table_of_another_space_is_refused(space) -> None:  # type: ignore[no-untyped-def]
    table = synthetic_table(space).model_copy(update={"space_hash": "0123456789abcdef"})
    with pytest.raises(TableMismatchError, match="hash 0123456789abcdef"):
        LatencyPredictor.from_table(table, space)


def test_missing_block_is_an_error_not_a_zero(space) -> None:  # type: ignore[no-untyped-def]
    table = synthetic_table(space)
    dropped = next(iter(table.entries))
    entries = {k: v for k, v in table.entries.items() if k != dropped}
    with pytest.raises(MissingBlockError, match="lacks 1 block"):
        LatencyPredictor.from_table(table.model_copy(update={"entries": entries}), space)
    with pytest.raises(MissingBlockError, match="not-a-block"):
        table.latency_ms("not-a-block")


def test_validation_refuses_a_table_of_another_device(space) -> None:  # type: ignore[no-untyped-def]
    predictor = LatencyPredictor.from_table(synthetic_table(space), space)
    with pytest.raises(TableMismatchError, match="threads"):
        validate_predictor(space, predictor, load_device("torch-cpu-2t"), FAST, progress=False)


def test_search_refuses_a_table_copied_from_another_device(space, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = synthetic_table(space).save(tmp_path / "torch-cpu-2t" / "table.json")
    assert LatencyPredictor.load(path, space, load_device("torch-cpu-1t")).device.name == "torch-cpu-1t"
    with pytest.raises(TableMismatchError, match=r"torch-cpu-2t/table.json: .*threads"):
        LatencyPredictor.load(path, space, load_device("torch-cpu-2t"))


def test_unreadable_table_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LatencyTableError, match="no latency table"):
        LatencyTable.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format_version": 1}')
    with pytest.raises(LatencyTableError, match="not a valid latency table"):
        LatencyTable.load(tmp_path / "bad.json")


def test_interrupted_collection_resumes(space, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    specs = space_blocks(space, NUM_CLASSES)[:7]
    monkeypatch.setattr(collect_mod, "space_blocks", lambda space, num_classes: specs)
    monkeypatch.setattr(collect_mod, "GROUP_SIZE", 2)
    monkeypatch.setattr(collect_mod, "measure_runner", lambda r, c, d: _measurement(0.1))  # the call overhead
    measured: list[int] = []

    def fake_measure(runners, fail_at=None):  # type: ignore[no-untyped-def]
        if fail_at is not None and len(measured) + len(runners) >= fail_at:
            raise KeyboardInterrupt
        measured.extend(1 for _ in runners)
        return [_measurement(0.1) for _ in runners]

    path = tmp_path / "table.json"
    device = load_device("torch-cpu-1t")
    cfg = FAST.model_copy(update={"speed_reference": False})
    # The first run measures two groups of two blocks, then is interrupted in the third group.
    monkeypatch.setattr(timing_mod, "measure_runners", lambda r, c, d: fake_measure(r, fail_at=6))
    with pytest.raises(KeyboardInterrupt):
        collect_table(space, device, NUM_CLASSES, cfg, path, progress=False)
    assert not path.exists()
    partial = collect_mod.load_partial(collect_mod.partial_path_for(path))
    assert len(partial.entries) == 4  # saved after every group

    measured.clear()
    monkeypatch.setattr(timing_mod, "measure_runners", lambda r, c, d: fake_measure(r))
    table = collect_table(space, device, NUM_CLASSES, cfg, path, progress=False)
    assert len(measured) == 3  # only the blocks missing from the partial file
    assert set(table.entries) == {s.key for s in specs}
    assert not collect_mod.partial_path_for(path).exists()
    assert LatencyTable.load(path) == table


def test_partial_file_of_other_settings_is_not_reused(space, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    specs = space_blocks(space, NUM_CLASSES)[:3]
    monkeypatch.setattr(collect_mod, "space_blocks", lambda space, num_classes: specs)
    calls: list[int] = []
    monkeypatch.setattr(collect_mod, "measure_runner", lambda r, c, d: calls.append(1) or _measurement(0.1))
    monkeypatch.setattr(timing_mod, "measure_runners",
                        lambda rs, c, d: [calls.append(1) or _measurement(0.1) for _ in rs])
    path = tmp_path / "table.json"
    stale = synthetic_table(space).model_dump(exclude={"correction", "overhead_per_block_ms"})
    stale["settings"]["repeats"] = 99
    collect_mod.write_json(collect_mod.partial_path_for(path), stale)
    cfg = FAST.model_copy(update={"speed_reference": False})
    collect_table(space, load_device("torch-cpu-1t"), NUM_CLASSES, cfg, path, progress=False)
    assert len(calls) == 1 + len(specs)  # call overhead and every block measured afresh


def test_speed_reference_scales_groups_measured_at_other_speeds(
    space, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """Blocks measured partly while the machine ran 30 % slow, calibration and validation at other
    speeds: scaled by the reference subnet timed alongside, every runner reads its own latency."""
    blocks = len(collect_mod.space_blocks(space, NUM_CLASSES))
    monkeypatch.setattr(collect_mod, "GROUP_SIZE", blocks // 2 + 1)  # two groups of blocks
    monkeypatch.setattr(collect_mod, "measure_runner", lambda r, c, d: _measurement(0.001))
    speeds = iter([1.0, 1.3, 0.8, 1.1, 0.9])  # the machine's slowdown in each successive group

    def fake_measure(runners, cfg, device):  # type: ignore[no-untyped-def]
        slow = next(speeds)
        return [_measurement(2.0 * slow) for _ in runners]  # every runner takes 2 ms undisturbed

    monkeypatch.setattr(timing_mod, "measure_runners", fake_measure)
    cfg = FAST.model_copy(update={"calibration_archs": 2, "validate_archs": 2})
    device = load_device("torch-cpu-1t")
    table = collect_table(space, device, NUM_CLASSES, cfg, tmp_path / "table.json", progress=False)
    assert table.settings.speed_reference and table.reference is not None
    assert [e.latency.median_ms for e in table.entries.values()] == pytest.approx([2.0] * len(table.entries))
    assert [p.measured.median_ms for p in table.calibration] == pytest.approx([2.0, 2.0])
    report = validate_predictor(space, LatencyPredictor.from_table(table, space), device, cfg, progress=False)
    assert [p.measured_ms for p in report.points] == pytest.approx([2.0, 2.0])
    assert [p.speed_factor for p in report.points] == pytest.approx([1 / 1.1, 1 / 1.1])
    assert [p.remeasured_ms for p in report.points] == pytest.approx([2.0, 2.0])  # a fifth group at 0.9
    assert report.remeasure_within_10pct == 1.0
    without = FAST.model_copy(update={"speed_reference": False})
    assert SpeedReference.create(None, None, space, NUM_CLASSES, without, None) is None  # type: ignore[arg-type]


def test_speed_reference_baseline_is_read_among_whole_subnets(
    space, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """Timed among small blocks the reference subnets read 10 % faster than among whole subnets
    (caches, not machine speed). The baseline comes from the calibration group, so a validation at
    the calibration's speed is unscaled, and the blocks are scaled to the same footing."""
    monkeypatch.setattr(collect_mod, "measure_runner", lambda r, c, d: _measurement(0.001))
    blocks = len(collect_mod.space_blocks(space, NUM_CLASSES))
    monkeypatch.setattr(collect_mod, "GROUP_SIZE", blocks)  # one group of blocks
    cfg = FAST.model_copy(update={"calibration_archs": 2, "validate_archs": 2, "remeasure_archs": 0})
    groups: list[int] = []

    def fake_measure(runners, cfg, device):  # type: ignore[no-untyped-def]
        groups.append(len(runners))
        among_blocks = len(runners) == blocks + REFERENCE_ARCHS
        reference = 0.9 * 2.0 if among_blocks else 2.0
        return [_measurement(2.0) for _ in runners[:-REFERENCE_ARCHS]] + [_measurement(reference)] * REFERENCE_ARCHS

    monkeypatch.setattr(timing_mod, "measure_runners", fake_measure)
    device = load_device("torch-cpu-1t")
    table = collect_table(space, device, NUM_CLASSES, cfg, tmp_path / "table.json", progress=False)
    assert groups == [2 + REFERENCE_ARCHS, blocks + REFERENCE_ARCHS]  # calibration first
    assert [p.measured.median_ms for p in table.calibration] == pytest.approx([2.0, 2.0])  # unscaled
    assert [e.latency.median_ms for e in table.entries.values()] == pytest.approx([2.0 / 0.9] * blocks)
    report = validate_predictor(space, LatencyPredictor.from_table(table, space), device, cfg, progress=False)
    assert [p.speed_factor for p in report.points] == pytest.approx([1.0, 1.0])
    assert [p.measured_ms for p in report.points] == pytest.approx([2.0, 2.0])


def test_collect_and_validate_on_the_device(space, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real (tiny) collection of the whole space, calibration and validation on torch-cpu-1t."""
    cfg = FAST.model_copy(update={"calibration_archs": None})  # the device's own count
    device = load_device("torch-cpu-1t").model_copy(update={"calibration_archs": 3})
    table = collect_table(space, device, NUM_CLASSES, cfg, tmp_path / "table.json", progress=False)
    assert set(table.entries) == {s.key for s in space_blocks(space, NUM_CLASSES)}
    assert table.correction.points == 3 and table.runtime["torch"]
    report = validate_predictor(space, LatencyPredictor.from_table(table, space), device, cfg, progress=False)
    assert report.n == 3 and 0.0 <= report.within_10pct <= 1.0 and report.rmse_ms >= 0.0
    assert report.remeasured == 3 and all(p.remeasured_ms > 0.0 for p in report.points)  # type: ignore[operator]


def test_the_calibration_count_is_the_device_s_unless_the_config_sets_one() -> None:
    onnx, eager = load_device("onnx-cpu-1t"), load_device("torch-cpu-1t")
    # ONNX Runtime fuses across blocks: its correction is fitted on more whole subnets
    assert onnx.calibration_count(None) == onnx.calibration_archs > eager.calibration_count(None)
    assert onnx.calibration_count(8) == eager.calibration_count(8) == 8  # one count for every device
    # a table fitted on another count still serves the device: the count is the fit's, not the timings'
    assert onnx.model_copy(update={"calibration_archs": 30}).measurement_fields() == onnx.measurement_fields()


def test_validation_times_some_subnets_twice(space, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The remeasured subnets tell how far the device disagrees with itself, a ceiling for the
    predictor's score: here the second group reads one subnet 5 % and the other 25 % slower."""
    groups = iter([[2.0, 2.0, 2.0], [2.1, 2.5]])

    def fake_measure(runners, cfg, device):  # type: ignore[no-untyped-def]
        values = next(groups)
        assert len(runners) == len(values)
        return [_measurement(v) for v in values]

    monkeypatch.setattr(timing_mod, "measure_runners", fake_measure)
    predictor = LatencyPredictor.from_table(synthetic_table(space), space)
    cfg = FAST.model_copy(update={"remeasure_archs": 2})
    report = validate_predictor(space, predictor, load_device("torch-cpu-1t"), cfg, progress=False)
    assert [p.remeasured_ms for p in report.points] == [2.1, 2.5, None]
    assert report.remeasured == 2 and report.remeasure_within_10pct == 0.5
    assert report.remeasure_rms_rel_diff == pytest.approx(np.sqrt((0.05**2 + 0.25**2) / 2))
    assert "50% of 2 subnets agree with themselves" in report.summary()
    warning = report.noise_warning()
    assert warning is not None and "\n" not in warning and "only 50% of 2 subnets" in warning
    steady = report.model_copy(update={"remeasure_within_10pct": 0.95})
    assert steady.noise_warning() is None
    once = ValidationReport.from_points(report.points[2:], "dev", "cifar", "abc", measure_s=1.0)
    assert once.remeasured == 0 and once.remeasure_within_10pct is None and "agree" not in once.summary()


def test_a_refitted_predictor_is_judged_on_the_stored_measurements(space, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    predictor = LatencyPredictor.from_table(synthetic_table(space), space)
    archs = sample_archs(space, 4, np.random.default_rng(7))
    truth = [predictor.predict(a) for a in archs]
    # Measured: the first two as the predictor says, the others 30 % slower; one timed twice.
    points = [ValidationPoint(arch_id=a.id, predicted_ms=1.0, measured_ms=t * (1.0 if i < 2 else 1.3), measured_cv=0.02,
                              remeasured_ms=t if i == 0 else None)
              for i, (a, t) in enumerate(zip(archs, truth, strict=True))]
    stored = ValidationReport.from_points(points, "torch-cpu-1t", space.name, space.hash, measure_s=5.0)
    stored.save(tmp_path / "validation.json")
    again = ValidationReport.load(tmp_path / "validation.json").repredicted(predictor)
    assert [p.predicted_ms for p in again.points] == pytest.approx(truth)
    assert [p.measured_ms for p in again.points] == [p.measured_ms for p in points]
    assert again.within_10pct == 0.5 and again.remeasure_within_10pct == 1.0 and again.measure_s == 5.0
    other = stored.model_copy(update={"space_hash": "0123456789abcdef"})
    with pytest.raises(LatencyTableError, match="0123456789abcdef"):
        other.repredicted(predictor)


def _report(agreement: float) -> ValidationReport:
    """Four subnets timed twice, ``agreement`` of them within 10 % of themselves."""
    agree = round(4 * agreement)
    points = [ValidationPoint(arch_id=str(i), predicted_ms=1.0, measured_ms=1.0, measured_cv=0.01,
                              remeasured_ms=1.02 if i < agree else 1.5) for i in range(4)]
    return ValidationReport.from_points(points, "dev", "cifar", "abc", measure_s=1.0)


def test_a_noisy_table_is_untrusted_and_refused_unless_allowed(tmp_path: Path) -> None:
    table = tmp_path / "dev" / "table.json"
    table.parent.mkdir()
    table.write_text("{}")
    assert check_trusted(table) is None  # never validated: nothing known against it
    _report(0.5).save(table.with_name("validation.json"))
    assert not _report(0.5).trusted and _report(1.0).trusted
    with pytest.raises(NoisyLatencyError, match=r"table\.json is untrusted: .*--allow-noisy-latency"):
        check_trusted(table)
    assert "only 50% of 4 subnets" in check_trusted(table, allow_noisy=True)
    os.utime(table)  # re-collected after the validation: the old verdict no longer applies
    os.utime(table.with_name("validation.json"), (0, 0))
    assert check_trusted(table) is None
    _report(1.0).save(table.with_name("validation.json"))
    assert check_trusted(table) is None
    table.with_name("validation.json").write_text("{not json")
    with pytest.raises(LatencyTableError, match="validation.json: not a validation report"):
        check_trusted(table)


def test_search_refuses_a_noisy_table_before_loading_anything(tmp_path: Path) -> None:
    from elasticvit.config import load_config
    from elasticvit.search.run import run_search

    cfg = load_config("quickstart", [f"latency.output_dir={tmp_path / 'latency'}", f"search.output_dir={tmp_path / 'search'}",
                                     f"training.output_dir={tmp_path / 'no-supernet'}",
                                     "search.allow_noisy_latency=false"])  # the quickstart allows it
    table = tmp_path / "latency" / "torch-cpu-1t" / "table.json"
    table.parent.mkdir(parents=True)
    table.write_text("{}")
    _report(0.25).save(table.with_name("validation.json"))
    with pytest.raises(NoisyLatencyError, match="torch-cpu-1t"):
        run_search(cfg, "torch-cpu-1t")
    allowed = cfg.model_copy(update={"search": cfg.search.model_copy(update={"allow_noisy_latency": True})})
    with pytest.raises(Exception, match="no-supernet"):  # past the check: on to the (missing) supernet
        run_search(allowed, "torch-cpu-1t")


def test_scatter_plot_writes_a_png(tmp_path: Path) -> None:
    points = [ValidationPoint(arch_id=str(i), predicted_ms=1.0 + i, measured_ms=1.05 + i, measured_cv=0.01)
              for i in range(5)]
    report = ValidationReport.from_points(points, "dev", "cifar", "abc", measure_s=1.0)
    assert report.within_10pct == 1.0 and report.rmse_ms == pytest.approx(0.05)
    path = scatter_plot(report, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def synthetic_table(
    space,  # type: ignore[no-untyped-def]
    overhead: float = 0.0,
    correction: Correction | None = None,
) -> LatencyTable:
    """A complete table with made-up, distinct latencies (no measuring)."""
    specs = space_blocks(space, NUM_CLASSES)
    entries = {
        s.key: BlockEntry(kind=s.kind, input_shape=list(s.input_shape(1)), config=s.model_dump(mode="json"),
                          latency=_measurement(0.01 + 0.001 * i))
        for i, s in enumerate(specs)
    }
    settings = MeasureSettings.from_config(FAST)
    header = make_header("cifar", space.hash, NUM_CLASSES, load_device("torch-cpu-1t"), settings, {"torch": "x"})
    return LatencyTable(
        **header.model_dump(),
        entries=entries,
        call_overhead=_measurement(0.005),
        overhead_per_block_ms=overhead,
        calibration=[],
        correction=correction or Correction(scale=1.0, offset_ms=0.0, points=0),
        collect_s=1.0,
    )


def _measurement(ms: float) -> Measurement:
    return Measurement(count=3, trimmed=0, attempts=1, median_ms=ms, mean_ms=ms, std_ms=0.0, min_ms=ms, cv=0.0)
