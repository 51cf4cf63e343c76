"""Timing statistics, device specs, the backend registry and the correction fit (no supernet)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from elasticvit.latency import measure as measure_mod
from elasticvit.latency.backends import BackendError, available_backends, get_backend, register_backend
from elasticvit.latency.backends.base import Backend
from elasticvit.latency.correction import CalibrationPoint, fit_correction
from elasticvit.latency.devices import DeviceError, DeviceSpec, list_devices, load_device
from elasticvit.latency.measure import Measurement, ci_halfwidth, measure, measure_interleaved, settled, summarize


def test_summarize_trims_preemption_outliers() -> None:
    rng = np.random.default_rng(0)
    samples = np.concatenate([rng.normal(1.0, 0.01, 97), [5.0, 8.0, 12.0]])
    m = summarize(samples)
    assert m.trimmed == 3 and m.count == 97
    assert abs(m.median_ms - 1.0) < 0.01
    assert m.cv < 0.02
    assert m.min_ms <= m.median_ms <= max(samples[:97])


def test_measure_remeasures_noisy_rounds_and_keeps_the_calmest(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    rounds = iter([rng.uniform(1.0, 2.0, 30), rng.normal(1.0, 0.001, 30), rng.uniform(1.0, 2.0, 30)])
    calls = []

    def fake_time_calls(runner, warmup, repeats, min_time_s, clock):  # type: ignore[no-untyped-def]
        calls.append(repeats)
        return next(rounds)

    monkeypatch.setattr(measure_mod, "time_calls", fake_time_calls)
    m = measure(lambda: None, warmup=0, repeats=30, max_cv=0.05)
    assert len(calls) == 2  # stopped once a round was calm enough
    assert m.attempts == 2 and m.cv < 0.05 and abs(m.median_ms - 1.0) < 0.01


def test_interleaved_rounds_escape_a_slow_stretch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A disturbance covering consecutive timings would make a run of runners read slow together;
    interleaved, each runner keeps a round outside it, so all read their undisturbed latency."""
    rng = np.random.default_rng(2)
    timings: list[tuple[float, int]] = []

    def fake_time_calls(runner, warmup, repeats, min_time_s, clock):  # type: ignore[no-untyped-def]
        timings.append((min_time_s, repeats))
        # The machine is 30 % slower for the 5th to 12th timing of the whole run.
        slow = 1.3 if 4 <= len(timings) < 12 else 1.0
        return runner() * slow * rng.normal(1.0, 0.001, repeats)

    monkeypatch.setattr(measure_mod, "time_calls", fake_time_calls)
    latencies = [1.0, 2.0, 3.0, 4.0]
    runners = [lambda ms=ms: ms for ms in latencies]
    measured = measure_interleaved(runners, rounds=4, warmup=2, repeats=20, min_time_s=0.4,
                                   rng=np.random.default_rng(0))
    assert [m.median_ms for m in measured] == pytest.approx(latencies, rel=0.01)
    assert all(m.attempts == 4 for m in measured)
    # each round takes a quarter of the repeats and of the least time
    assert len(timings) == 16 and all(t == (pytest.approx(0.1), 5) for t in timings)
    with pytest.raises(ValueError, match="rounds must be at least 1"):
        measure_interleaved(runners, rounds=0, warmup=0, repeats=3)


def _m(median: float, std: float, count: int = 20) -> Measurement:
    return Measurement(count=count, trimmed=0, attempts=1, median_ms=median, mean_ms=median, std_ms=std,
                       min_ms=median - std, cv=std / median)


def test_settled_needs_a_tight_interval_and_two_rounds_that_agree() -> None:
    tight, tight_again = _m(1.00, 0.02), _m(1.01, 0.02)  # CI half-width 1.96*1.2533*0.02/sqrt(20) = 1.1 %
    assert not settled([tight], "median", 0.03)  # one round never settles
    assert settled([tight, tight_again], "median", 0.03)
    assert not settled([tight, _m(1.05, 0.02)], "median", 0.03)  # the two calmest rounds differ by 5 %
    assert not settled([_m(1.0, 0.10), _m(1.0, 0.10)], "median", 0.03)  # each round too noisy: CI 5.5 %
    assert settled([_m(1.3, 0.02), tight, tight_again], "median", 0.03)  # a slow round does not count
    assert ci_halfwidth(_m(1.0, 0.02)) == pytest.approx(1.96 * 1.2533 * 0.02 / 20**0.5)


def test_steady_runners_leave_early_noisy_ones_take_every_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """Synthetic timings: runner 0 reads 1 ms +/- 0.1 %, runner 1 swings 1-2 ms. With a target the
    steady one stops after two rounds (same reading as without), the noisy one takes all five."""
    timed: list[int] = []

    def fake_time_calls(runner, warmup, repeats, min_time_s, clock):  # type: ignore[no-untyped-def]
        index, sample = runner()
        timed.append(index)
        return sample(repeats)

    rng = np.random.default_rng(4)
    steady = lambda: (0, lambda n: rng.normal(1.0, 0.001, n))  # noqa: E731
    noisy = lambda: (1, lambda n: rng.uniform(1.0, 2.0, n))  # noqa: E731
    monkeypatch.setattr(measure_mod, "time_calls", fake_time_calls)
    with_target = measure_interleaved([steady, noisy], rounds=5, warmup=0, repeats=50, target_ci=0.02)
    assert [m.attempts for m in with_target] == [2, 5] and timed.count(0) == 2 and timed.count(1) == 5
    assert with_target[0].median_ms == pytest.approx(1.0, rel=0.002)
    timed.clear()
    without = measure_interleaved([steady, noisy], rounds=5, warmup=0, repeats=50)
    assert [m.attempts for m in without] == [5, 5] and len(timed) == 10
    assert without[0].median_ms == pytest.approx(with_target[0].median_ms, rel=0.002)


def test_measure_times_a_real_runner() -> None:
    m = measure(lambda: sum(range(1000)), warmup=1, repeats=5, max_cv=10.0)
    assert isinstance(m, Measurement) and m.count >= 1 and m.median_ms > 0


def test_shipped_devices_load() -> None:
    names = list_devices()
    assert {"torch-cpu-1t", "torch-cpu-2t", "onnx-cpu-1t"} <= set(names)
    for name in names:
        spec = load_device(name)
        assert spec.name == name and spec.backend in available_backends()


def test_device_errors_are_clear(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeviceError, match="unknown device 'no-such-device'"):
        load_device("no-such-device")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nbackend: torch-eager\nthreads: 0\n")
    with pytest.raises(DeviceError, match="threads"):
        load_device(bad)


def test_unknown_backend_fails() -> None:
    with pytest.raises(BackendError, match="unknown backend 'tflite'"):
        get_backend(DeviceSpec(name="phone", backend="tflite"))


def test_a_new_backend_plugs_in_by_name() -> None:
    @register_backend("test-null")
    class NullBackend(Backend):
        def prepare(self, module: nn.Module, input_shape: tuple[int, ...]):  # type: ignore[no-untyped-def]
            return lambda: None

        def versions(self) -> dict[str, str]:
            return {}

    backend = get_backend(DeviceSpec(name="null", backend="test-null"))
    assert isinstance(backend, NullBackend) and "test-null" in available_backends()


@pytest.mark.parametrize("device", ["torch-cpu-1t", "torch-cpu-2t", "onnx-cpu-1t"])
def test_backends_run_a_module_and_restore_threads(device: str) -> None:
    before = torch.get_num_threads()
    backend = get_backend(load_device(device))
    module = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.GELU())
    with backend.session():
        runner = backend.prepare(module, (1, 3, 16, 16))
        runner()
    assert torch.get_num_threads() == before
    assert backend.versions()["torch"] == torch.__version__


def test_torch_backend_refuses_cuda_without_a_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    backend = get_backend(DeviceSpec(name="gpu", backend="torch-eager", device="cuda"))
    with pytest.raises(BackendError, match="CUDA"):
        with backend.session():
            pass


def _point(block_sum: float, blocks: int, measured: float) -> CalibrationPoint:
    m = Measurement(count=3, trimmed=0, attempts=1, median_ms=measured, mean_ms=measured, std_ms=0.0,
                    min_ms=measured, cv=0.0)
    return CalibrationPoint(arch_id=f"a{block_sum}", blocks=blocks, block_sum_ms=block_sum, measured=m)


def test_correction_recovers_scale_and_offset() -> None:
    # measured = 0.9 * (sum - 0.01 * blocks) + 0.05
    points = [_point(s, b, 0.9 * (s - 0.01 * b) + 0.05) for s, b in [(1.0, 10), (2.0, 14), (4.0, 20)]]
    c = fit_correction(points, per_block_overhead_ms=0.01, call_overhead_ms=0.01)
    assert c.scale == pytest.approx(0.9) and c.offset_ms == pytest.approx(0.05)
    assert c.points == 3 and c.fit_within_10pct == 1.0


def test_correction_fits_a_per_block_term_given_enough_points() -> None:
    # measured = 1.1 * sum + 0.02 * blocks + 0.05 (nothing subtracted per block)
    shapes = [(1.0, 10), (2.0, 12), (3.0, 20), (4.0, 18), (5.0, 25)]
    points = [_point(s, b, 1.1 * s + 0.02 * b + 0.05) for s, b in shapes]
    c = fit_correction(points, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert (c.scale, c.per_block_ms, c.offset_ms) == pytest.approx((1.1, 0.02, 0.05))


def test_correction_leaves_out_a_disturbed_calibration_arch() -> None:
    shapes = [(1.0, 10), (1.5, 12), (2.0, 14), (2.5, 15), (3.0, 17), (3.5, 18), (4.0, 20), (5.0, 24)]
    rng = np.random.default_rng(0)
    measured = [1.4 * s + 0.1 + rng.normal(0.0, 0.005) for s, _ in shapes]
    measured[3] *= 2.0  # another job ran during this arch's measurement
    points = [_point(s, b, m) for (s, b), m in zip(shapes, measured, strict=True)]
    c = fit_correction(points, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert c.discarded == 1 and c.points == 7
    assert c.scale == pytest.approx(1.4, rel=0.02) and c.offset_ms == pytest.approx(0.1, abs=0.03)


def test_correction_without_points_adds_one_call() -> None:
    c = fit_correction([], per_block_overhead_ms=0.01, call_overhead_ms=0.01)
    assert (c.scale, c.offset_ms, c.points) == (1.0, 0.01, 0)


def test_correction_with_one_point_fits_the_scale_only() -> None:
    c = fit_correction([_point(2.0, 10, 2.2)], per_block_overhead_ms=0.0, call_overhead_ms=0.2)
    assert c.offset_ms == 0.2 and c.scale == pytest.approx(1.0)


def test_thread_clock_needs_a_single_cpu_thread() -> None:
    with pytest.raises(ValueError, match="clock 'thread' needs threads: 1"):
        DeviceSpec(name="x", backend="torch-eager", threads=2, clock="thread")
    with pytest.raises(ValueError, match="clock 'thread'"):
        DeviceSpec(name="x", backend="torch-eager", device="cuda", clock="thread")


def test_thread_clock_ignores_time_spent_off_cpu() -> None:
    import time

    m = measure(lambda: time.sleep(0.002), warmup=0, repeats=3, max_cv=10.0, clock=time.thread_time_ns)
    assert m.median_ms < 1.0  # sleeping, like being preempted, uses no CPU time of the thread
