"""elasticvit: train one hybrid CNN+ViT supernet, then hand every device its own fast subnet.

The library is pure PyTorch and numpy. Orchestration (Prefect, MLflow, DVC) lives in ``tasks/``
and ``flows/`` and only calls into this package.
"""

__version__ = "0.1.0"
