"""Training-time subnet samplers, chosen by ``SamplingConfig.strategy``.

``uniform`` is the sandwich-rule baseline; ``complexity`` walks over FLOPs levels; ``performance``
adds per-level memory banks of well-performing subnets (ElasticViT, Tang et al., ICCV 2023).
"""

from __future__ import annotations

from elasticvit.sampling.base import PlannedSubnet, Role, Scorer, StepPlan, SubnetSampler
from elasticvit.sampling.complexity import ComplexityAwareSampler, LevelWalk
from elasticvit.sampling.factory import bank_capacities, build_sampler, exploit_schedule
from elasticvit.sampling.performance import MemoryBank, PerformanceAwareSampler
from elasticvit.sampling.uniform import UniformSampler

__all__ = [
    "ComplexityAwareSampler",
    "LevelWalk",
    "MemoryBank",
    "PerformanceAwareSampler",
    "PlannedSubnet",
    "Role",
    "Scorer",
    "StepPlan",
    "SubnetSampler",
    "UniformSampler",
    "bank_capacities",
    "build_sampler",
    "exploit_schedule",
]
