"""Response / click-through-rate models on tabular rows, registered in :data:`deeptarget.registry.CLASSIFIERS`."""

from deeptarget.models.ctr.response import (
    DCNv2,
    DeepFM,
    FactorizationMachine,
    LogisticRegression,
    MLPClassifier,
    ResponseConfig,
    ResponseModel,
    WideDeep,
)

__all__ = [
    "DCNv2",
    "DeepFM",
    "FactorizationMachine",
    "LogisticRegression",
    "MLPClassifier",
    "ResponseConfig",
    "ResponseModel",
    "WideDeep",
]
