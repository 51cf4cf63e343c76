"""Elastic (weight-sharing) layers and blocks, and their static counterparts."""

from elasticvit.nn.attention import (
    ElasticProjection,
    ElasticQKV,
    ElasticRelativePositionBias,
    ElasticValueConv,
    RelativePositionBias,
)
from elasticvit.nn.elastic import (
    ElasticBatchNorm2d,
    ElasticConv2d,
    ElasticDepthwiseConv2d,
    ElasticLayerNorm,
    ElasticLinear,
    ElasticOp,
)
from elasticvit.nn.elastic_blocks import (
    ElasticBlock,
    ElasticClassifierHead,
    ElasticConvBnAct,
    ElasticDepthwiseSeparable,
    ElasticMBConv,
    ElasticTransformerBlock,
    static_state,
)
from elasticvit.nn.static import (
    Attention,
    ClassifierHead,
    ConvBnAct,
    DepthwiseSeparable,
    MBConv,
    TransformerBlock,
    build_block,
)

__all__ = [
    "Attention",
    "ClassifierHead",
    "ConvBnAct",
    "DepthwiseSeparable",
    "ElasticBatchNorm2d",
    "ElasticBlock",
    "ElasticClassifierHead",
    "ElasticConv2d",
    "ElasticConvBnAct",
    "ElasticDepthwiseConv2d",
    "ElasticDepthwiseSeparable",
    "ElasticLayerNorm",
    "ElasticLinear",
    "ElasticMBConv",
    "ElasticOp",
    "ElasticProjection",
    "ElasticQKV",
    "ElasticRelativePositionBias",
    "ElasticTransformerBlock",
    "ElasticValueConv",
    "MBConv",
    "RelativePositionBias",
    "TransformerBlock",
    "build_block",
    "static_state",
]
