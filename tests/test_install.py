"""The install trap: timm imports torchvision, which must match the installed torch build."""

import torch


def test_timm_imports_and_builds_a_model() -> None:
    import timm
    import torchvision

    model = timm.create_model("resnet18", num_classes=10, pretrained=False)
    out = model(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 10)
    # torchvision's compiled ops must be registered for this torch build (the failure mode).
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
    assert keep.tolist() == [0]


def test_library_does_not_import_orchestration() -> None:
    import subprocess
    import sys

    code = (
        "import sys, elasticvit, elasticvit.config, elasticvit.utils.atomic;"
        "bad = [m for m in ('prefect', 'mlflow', 'dvc') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
