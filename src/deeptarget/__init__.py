"""DeepTarget: deep learning for precision marketing.

The public API is what ``__all__`` lists; everything else is internal. Importing the package registers the
built-in datasets and models; it has no other side effect (no I/O, no seeding, no network).

Examples
--------
>>> import deeptarget as dt
>>> data = dt.load_interactions(dt.DataConfig(dataset="synthetic", params={"n_users": 100, "n_items": 50}))
>>> split = dt.split_interactions(data.interactions, dt.SplitConfig(method="random", ratios=(0.8, 0.1, 0.1)))
>>> model = dt.EASE(dt.EASEConfig(l2=100.0)).fit(split.train)
>>> result = dt.evaluate_ranking(model, split.test, exclude=[split.train, split.valid], ks=(10,))
>>> 0.0 <= result.metrics["ndcg@10"] <= 1.0
True
"""

from __future__ import annotations

__version__ = "0.1.0"

from deeptarget.config import (
    CleaningConfig,
    ColumnMap,
    DataConfig,
    EvaluationConfig,
    ModelSpec,
    RunConfig,
    SplitConfig,
    TrainConfig,
)
from deeptarget.data.cleaning import CleaningReport, clean
from deeptarget.data.encoders import IdEncoder
from deeptarget.data.interactions import Interactions, Sequences
from deeptarget.data.loading import LoadResult, load_interactions
from deeptarget.data.readers import map_columns, read_sql, read_table
from deeptarget.data.split import Split, split_interactions
from deeptarget.data.synthetic import SyntheticConfig, generate_retailer
from deeptarget.errors import ConfigError, DataError, DeepTargetError, NotFittedError, UnknownIdError
from deeptarget.evaluation.protocol import ProtocolCard
from deeptarget.evaluation.ranking import RankingResult, evaluate_ranking
from deeptarget.loading import load_model
from deeptarget.models.base import Recommender
from deeptarget.models.ctr import (
    DCNv2,
    DeepFM,
    FactorizationMachine,
    LogisticRegression,
    MLPClassifier,
    ResponseConfig,
    WideDeep,
)
from deeptarget.models.recommend import (
    EASE,
    EASEConfig,
    ItemKNN,
    ItemKNNConfig,
    MatrixFactorization,
    MFConfig,
    MLPRecConfig,
    MLPRecommender,
    MultDAE,
    MultDAEConfig,
    MultVAE,
    MultVAEConfig,
    NeuMF,
    NeuMFConfig,
    Popularity,
    PopularityConfig,
)
from deeptarget.registry import CLASSIFIERS, DATASETS, METRICS, MODELS

load = load_model

__all__ = [
    "CLASSIFIERS",
    "DATASETS",
    "EASE",
    "METRICS",
    "MODELS",
    "CleaningConfig",
    "CleaningReport",
    "ColumnMap",
    "ConfigError",
    "DCNv2",
    "DataConfig",
    "DataError",
    "DeepFM",
    "DeepTargetError",
    "EASEConfig",
    "EvaluationConfig",
    "FactorizationMachine",
    "IdEncoder",
    "Interactions",
    "ItemKNN",
    "ItemKNNConfig",
    "LoadResult",
    "LogisticRegression",
    "MFConfig",
    "MLPClassifier",
    "MLPRecConfig",
    "MLPRecommender",
    "MatrixFactorization",
    "ModelSpec",
    "MultDAE",
    "MultDAEConfig",
    "MultVAE",
    "MultVAEConfig",
    "NeuMF",
    "NeuMFConfig",
    "NotFittedError",
    "Popularity",
    "PopularityConfig",
    "ProtocolCard",
    "RankingResult",
    "Recommender",
    "ResponseConfig",
    "RunConfig",
    "Sequences",
    "Split",
    "SplitConfig",
    "SyntheticConfig",
    "TrainConfig",
    "UnknownIdError",
    "WideDeep",
    "__version__",
    "clean",
    "evaluate_ranking",
    "generate_retailer",
    "load",
    "load_interactions",
    "load_model",
    "map_columns",
    "read_sql",
    "read_table",
    "split_interactions",
]
