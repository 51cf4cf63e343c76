"""A user's mistake ends with one line naming the field or file, exit code 2, and no traceback.

Each case runs the real ``elasticvit`` command group in-process on a bad config, file, dataset,
device spec or option; ``--debug`` brings the traceback back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cli.errors import HINT
from cli.main import app
from elasticvit.model import SubnetModel, save_subnet
from elasticvit.space import load_space

Case = Callable[[Path], tuple[list[str], str]]


def _outputs(tmp: Path) -> list[str]:
    """Overrides that keep every output of a command under ``tmp``."""
    return ["-s", f"data.output_dir={tmp}/data", "-s", f"training.output_dir={tmp}/train", "-s",
            f"latency.output_dir={tmp}/latency", "-s", f"search.output_dir={tmp}/search", "-s",
            f"search.export_dir={tmp}/export", "-s", f"baselines.output_dir={tmp}/baselines"]


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _npz(tmp: Path, name: str = "bad.npz", **arrays: np.ndarray) -> Path:
    path = tmp / name
    np.savez(path, **arrays)
    return path


def _images(n: int = 8, dtype: type = np.uint8, channels: int | None = 3) -> np.ndarray:
    shape = (n, 8, 8) if channels is None else (n, 8, 8, channels)
    return np.zeros(shape, dtype=dtype)


def _model(tmp: Path) -> Path:
    """A subnet file of the digits space (10 classes): untrained, it only has to load."""
    space = load_space("digits")
    path = tmp / "model.pt"
    save_subnet(path, SubnetModel(space, space.smallest(), 10))
    return path


def _truncated(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _evaluate(tmp: Path, npz: Path) -> list[str]:
    return ["evaluate", str(_model(tmp)), "--test-data", str(npz), *_outputs(tmp)]


def _space(tmp: Path, edit: Callable[[str], str]) -> Path:
    text = (Path(__file__).resolve().parents[1] / "elasticvit" / "configs" / "spaces" / "digits.yaml").read_text()
    return _write(tmp, "space.yaml", edit(text))


def _device(tmp: Path, text: str) -> Path:
    return _write(tmp, "device.yaml", text)


GOOD_DEVICE = "name: my-phone\nbackend: torch-eager\ndevice: cpu\nthreads: 1\n"

CASES: dict[str, Case] = {
    # configs and overrides
    "unknown config": lambda t: (["params", "-c", "no-such-config"], "no-such-config"),
    "override not a number": lambda t: (["params", "-s", "training.lr=abc", "--out", str(t / "p.yaml")], "training.lr"),
    "override of an unknown field": lambda t: (["params", "-s", "training.nope=1", "--out", str(t / "p.yaml")],
                                               "training.nope"),
    "override without '='": lambda t: (["params", "-s", "training.lr", "--out", str(t / "p.yaml")], "training.lr"),
    "override of an unknown section": lambda t: (["params", "-s", "nope.lr=1", "--out", str(t / "p.yaml")], "nope"),
    "override value that is not YAML": lambda t: (["params", "-s", "training.lr=[1,", "--out", str(t / "p.yaml")],
                                                  "training.lr"),
    "negative epochs": lambda t: (["params", "-s", "training.epochs=-1", "--out", str(t / "p.yaml")],
                                  "training.epochs"),
    "config YAML that does not parse": lambda t: (["params", "-c", str(_write(t, "c.yaml", "training: [1,\n"))],
                                                  "c.yaml"),
    "config YAML that is not a mapping": lambda t: (["params", "-c", str(_write(t, "c.yaml", "- 1\n- 2\n"))],
                                                    "c.yaml"),
    "config with a misspelt section": lambda t: (["params", "-c", str(_write(t, "c.yaml", "trainnig: {lr: 1}\n"))],
                                                 "trainnig"),
    "unknown optimizer": lambda t: (["params", "-s", "training.optimizer=adamz", "--out", str(t / "p.yaml")],
                                    "training.optimizer"),
    "unknown sampling strategy": lambda t: (["params", "-s", "sampling.strategy=greedy", "--out", str(t / "p.yaml")],
                                            "sampling.strategy"),
    "credentials in a config URL": lambda t: (["prepare", "-s", "data.source=cifar10", "-s",
                                               "data.url=https://alice:HUNTER2@example.invalid/c.tgz", *_outputs(t)],
                                              "data.url"),
    "train with a bad override": lambda t: (["train", "-s", "training.batch_size=0", *_outputs(t)],
                                            "training.batch_size"),
    # search spaces
    "unknown space": lambda t: (["space", "stats", "--space", "no-such-space"], "no-such-space"),
    "space range without max": lambda t: (
        ["space", "stats", "--space", str(_space(t, lambda s: s.replace("{min: 16, max: 32, step: 8}", "{min: 16}")))],
        "space.yaml"),
    "space YAML that does not parse": lambda t: (["space", "stats", "--space", str(_write(t, "space.yaml", "a: [\n"))],
                                                 "space.yaml"),
    "space with an unknown stage kind": lambda t: (
        ["space", "stats", "--space", str(_space(t, lambda s: s.replace("kind: mbconv", "kind: resnet", 1)))],
        "space.yaml"),
    # devices
    "device add of a missing spec": lambda t: (["device", "add", str(t / "nope.yaml"), "--no-onboard", *_outputs(t)],
                                               "nope.yaml"),
    "device spec with an unknown backend": lambda t: (
        ["device", "add", str(_device(t, GOOD_DEVICE.replace("torch-eager", "tflite"))), "--no-onboard", *_outputs(t)],
        "backend"),
    "device spec with zero threads": lambda t: (
        ["device", "add", str(_device(t, GOOD_DEVICE.replace("threads: 1", "threads: 0"))), "--no-onboard",
         *_outputs(t)], "threads"),
    "device spec without a name": lambda t: (
        ["device", "add", str(_device(t, GOOD_DEVICE.replace("name: my-phone\n", ""))), "--no-onboard", *_outputs(t)],
        "name"),
    "device spec that is not YAML": lambda t: (
        ["device", "add", str(_device(t, "name: [\n")), "--no-onboard", *_outputs(t)], "device.yaml"),
    "latency collect here for a CUDA device without a GPU": lambda t: (
        ["latency", "collect", "-d", str(_device(t, GOOD_DEVICE.replace("device: cpu", "device: cuda"))),
         "--num-classes", "10", "--no-progress", *_outputs(t)], "cuda"),
    "device remove of an unknown device": lambda t: (["device", "remove", "no-such-device", *_outputs(t)],
                                                     "no-such-device"),
    # latency tables
    "latency collect on an unknown device": lambda t: (["latency", "collect", "-d", "no-such-device", *_outputs(t)],
                                                       "no-such-device"),
    "latency validate without a table": lambda t: (["latency", "validate", "-d", "torch-cpu-1t", "--no-progress",
                                                    *_outputs(t)], "latency"),
    "search on a noisy latency table": lambda t: (
        ["search", "-d", "torch-cpu-1t", *_outputs(t), "-s", "search.allow_noisy_latency=false"],
        "--allow-noisy-latency"),
    "latency table that is not JSON": lambda t: (
        ["latency", "validate", "-d", "torch-cpu-1t", "--no-progress", *_outputs(t)], "table.json"),
    # search and export
    "search without a supernet": lambda t: (["search", "-d", "torch-cpu-1t", *_outputs(t)], "supernet"),
    "search with a truncated supernet": lambda t: (
        ["search", "-d", "torch-cpu-1t", "--supernet", str(_truncated(_model(t))), *_outputs(t)], "model.pt"),
    "search with a subnet file as the supernet": lambda t: (
        ["search", "-d", "torch-cpu-1t", "--supernet", str(_model(t)), *_outputs(t)], "model.pt"),
    "search on an unknown device": lambda t: (["search", "-d", "no-such-device", *_outputs(t)], "no-such-device"),
    "export without a search result": lambda t: (["export", "-d", "torch-cpu-1t", "--supernet", str(_model(t)),
                                                  *_outputs(t)], "elasticvit search"),
    # user data given to evaluate
    "evaluate on a missing npz": lambda t: (_evaluate(t, t / "nope.npz"), "nope.npz"),
    "npz without labels": lambda t: (_evaluate(t, _npz(t, images=_images())), "labels"),
    "npz of grayscale images": lambda t: (
        _evaluate(t, _npz(t, images=_images(channels=None), labels=np.zeros(8, np.int64))), "images"),
    "npz of float images": lambda t: (
        _evaluate(t, _npz(t, images=_images(dtype=np.float32), labels=np.zeros(8, np.int64))), "uint8"),
    "npz with fewer labels than images": lambda t: (
        _evaluate(t, _npz(t, images=_images(8), labels=np.zeros(5, np.int64))), "labels"),
    "npz with a negative label": lambda t: (
        _evaluate(t, _npz(t, images=_images(), labels=np.array([0, 1, 2, 3, 4, 5, 6, -1]))), "labels"),
    "npz with labels beyond the model's classes": lambda t: (
        _evaluate(t, _npz(t, images=_images(), labels=np.arange(5, 13))), "classes"),
    "empty npz": lambda t: (_evaluate(t, _npz(t, images=_images(0), labels=np.zeros(0, np.int64))), "no images"),
    "truncated npz": lambda t: (
        _evaluate(t, _truncated(_npz(t, images=_images(64), labels=np.zeros(64, np.int64)))), "bad.npz"),
    "npz that is a text file": lambda t: (_evaluate(t, _write(t, "bad.npz", "images,labels\n")), "bad.npz"),
    "evaluate a missing model file": lambda t: (
        ["evaluate", str(t / "nope.pt"), "--test-data", str(_npz(t, images=_images(), labels=np.zeros(8, np.int64))),
         *_outputs(t)], "nope.pt"),
    "evaluate a truncated model file": lambda t: (
        ["evaluate", str(_truncated(_model(t))), "--test-data",
         str(_npz(t, "ok.npz", images=_images(), labels=np.zeros(8, np.int64))), *_outputs(t)], "model.pt"),
    "evaluate a file that is not a subnet": lambda t: (
        ["evaluate", str(_torch_file(t)), "--test-data",
         str(_npz(t, "ok.npz", images=_images(), labels=np.zeros(8, np.int64))), *_outputs(t)], "other.pt"),
    # baselines
    "baseline of an unknown timm model": lambda t: (["baseline", "--model", "resnet19", *_outputs(t)], "resnet19"),
    "baseline with both budgets": lambda t: (["baseline", "--model", "resnet18", "--epochs", "1", "--minutes", "1",
                                              *_outputs(t)], "--epochs"),
    "baseline without prepared data": lambda t: (["baseline", "--model", "resnet18", *_outputs(t)], "prepare"),
    "baseline-compare without results": lambda t: (["baseline-compare", *_outputs(t)], "missing results"),
}


def _torch_file(tmp: Path) -> Path:
    path = tmp / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    return path


def _latency_case(tmp: Path) -> None:
    table = tmp / "latency" / "torch-cpu-1t" / "table.json"
    table.parent.mkdir(parents=True)
    table.write_text("{not json")


def _noisy_table_case(tmp: Path) -> None:
    """A table whose validation found the device agreeing with itself on 1 of 4 subnets."""
    from elasticvit.latency.validate import ValidationPoint, ValidationReport

    table = tmp / "latency" / "torch-cpu-1t" / "table.json"
    table.parent.mkdir(parents=True)
    table.write_text("{}")
    points = [ValidationPoint(arch_id=str(i), predicted_ms=1.0, measured_ms=1.0, measured_cv=0.01,
                              remeasured_ms=1.0 if i == 0 else 1.5) for i in range(4)]
    ValidationReport.from_points(points, "torch-cpu-1t", "cifar", "abc", measure_s=1.0).save(
        table.with_name("validation.json"))


SETUP = {"latency table that is not JSON": _latency_case, "search on a noisy latency table": _noisy_table_case}
if torch.cuda.is_available():  # the case is a machine without one
    del CASES["latency collect here for a CUDA device without a GPU"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_error_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    if case in SETUP:
        SETUP[case](tmp_path)
    args, named = CASES[case](tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), result.stderr
    assert lines[1:] in ([], [HINT]), result.stderr
    assert named.lower() in lines[0].lower(), lines[0]
    # a refused command writes nothing where its outputs would go
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--debug", "params", "-c", "no-such-config"])
    assert result.exit_code == 1 and result.exception is not None
    assert "no-such-config" in str(result.exception)
