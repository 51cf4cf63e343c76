"""The executorch-xnnpack backend: lowering with output parity, thread pinning, a small table.

Lowering takes seconds per block on a 2-core machine, so only the smallest things are lowered.
Without ExecuTorch (the ``mobile`` extra) only the error test runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from elasticvit.config import LatencyConfig
from elasticvit.latency import BackendError, collect_table, get_backend, load_device
from elasticvit.latency import collect as collect_mod
from elasticvit.latency.backends.executorch import check_parity, lower_to_xnnpack
from elasticvit.model import Supernet
from elasticvit.nn.static import build_block
from elasticvit.space import load_space
from elasticvit.space.specs import arch_blocks, space_blocks

DEVICE = "xnnpack-cpu-1t"
NUM_CLASSES = 10


@pytest.fixture(scope="module")
def executorch():  # type: ignore[no-untyped-def]
    return pytest.importorskip("executorch.runtime", reason="ExecuTorch is not installed (pip install -e '.[mobile]')")


@pytest.fixture(scope="module")
def space():  # type: ignore[no-untyped-def]
    return load_space("cifar")


def _smallest(space, kind: str):  # type: ignore[no-untyped-def]
    return min((s for s in space_blocks(space, NUM_CLASSES) if s.kind == kind), key=lambda s: s.key)


def test_a_block_lowers_with_parity_and_a_wrong_one_is_refused(executorch, space) -> None:  # type: ignore[no-untyped-def]
    spec = _smallest(space, "first_conv")
    torch.manual_seed(0)
    block = build_block(spec).eval()
    lowered = lower_to_xnnpack(block, spec.input_shape(1))
    x = torch.randn(spec.input_shape(1))
    assert check_parity(block, lowered, x) < 1e-5
    with torch.no_grad():  # the program keeps its own weights: the module no longer matches them
        for p in block.parameters():
            p.mul_(1.1)
    with pytest.raises(BackendError, match="exceeds"):
        check_parity(block, lowered, x)


def test_the_smallest_subnet_runs_with_parity_on_one_thread(executorch, space) -> None:  # type: ignore[no-untyped-def]
    # Its transformer layers hold the operators XNNPACK lacks (layer norm, the position-bias gather),
    # which stay on ExecuTorch's portable kernels.
    from executorch.extension.pybindings import portable_lib

    arch = space.smallest()
    backend = get_backend(load_device(DEVICE))
    before = portable_lib._threadpool_get_thread_count()
    with backend.session():
        assert portable_lib._threadpool_get_thread_count() == 1
        # prepare refuses a program whose outputs differ from PyTorch's (check_parity)
        runner = backend.prepare(Supernet(space, NUM_CLASSES).extract(arch),
                                 arch_blocks(space, arch, NUM_CLASSES)[0].input_shape(1))
        runner()
    assert portable_lib._threadpool_get_thread_count() == before
    assert set(backend.versions()) == {"torch", "executorch"}


def test_a_table_of_two_blocks(executorch, space, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    specs = [_smallest(space, "stem"), _smallest(space, "head")]
    monkeypatch.setattr(collect_mod, "space_blocks", lambda space, num_classes: specs)
    cfg = LatencyConfig(warmup=1, repeats=3, min_time_s=0.0, rounds=1, calibration_archs=0, speed_reference=False)
    table = collect_table(space, load_device(DEVICE), NUM_CLASSES, cfg, tmp_path / "table.json", progress=False)
    assert set(table.entries) == {s.key for s in specs}
    assert all(e.latency.median_ms > 0 for e in table.entries.values())
    # Each block timed alone pays the runtime's call once; a model pays it once in all.
    assert table.overhead_per_block_ms == table.call_overhead.median_ms > 0
    assert table.runtime["executorch"]


def test_missing_executorch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "executorch.version", None)  # import then raises ImportError
    with pytest.raises(BackendError, match=r"\[mobile\]"):
        get_backend(load_device(DEVICE))
