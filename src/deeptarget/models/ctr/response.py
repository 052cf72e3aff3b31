"""Response / click-through-rate models on tabular rows: ``fit(X, y, valid=...)``, ``predict_proba(X)``.

Every model encodes its frame with a :class:`~deeptarget.data.tabular.TabularEncoder` fitted on the training rows
only (saved with the weights as JSON), builds a :class:`~deeptarget.nn.ctr.CTRNetwork` of its architecture and
trains it with binary cross-entropy on the shared :class:`~deeptarget.training.trainer.Trainer`: early stopping on
validation AUC (or log-loss), explicit L2 on the field vectors a batch uses, any optimiser of ``TrainConfig``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from deeptarget.config import Config, TrainConfig
from deeptarget.data.tabular import EncodedBatch, TabularEncoder, TabularSchema, infer_schema
from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.evaluation.calibration import (
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
    calibration_report,
    calibrator_from_dict,
)
from deeptarget.evaluation.classification import log_loss, roc_auc
from deeptarget.nn.ctr import Architecture, CTRNetwork
from deeptarget.persistence import read_model_dir, write_model_dir
from deeptarget.registry import CLASSIFIERS
from deeptarget.training.seeding import make_generator
from deeptarget.training.trainer import History, StepOutput, Trainer

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

logger = logging.getLogger(__name__)


def _response_train() -> TrainConfig:
    return TrainConfig(epochs=50, batch_size=1024, lr=1e-3, patience=3, monitor="valid/auc", mode="max", seed=2020)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResponseConfig(Config):
    """Configuration shared by the response models (the architecture is the model's class).

    Attributes
    ----------
    embedding_dim
        Width of every field vector.
    hidden_sizes
        MLP widths of the deep part (``wide_deep``, ``deepfm``, ``dcnv2``, ``mlp``).
    dropout
        Dropout after each hidden layer.
    n_cross_layers
        Cross layers (``dcnv2``).
    calibration
        ``temperature`` (default), ``platt`` or ``isotonic``: after training, fit a probability calibrator on the
        validation rows (:mod:`deeptarget.evaluation.calibration`) and apply it in
        :meth:`ResponseModel.predict_proba`; ``none`` keeps the raw network output. Without validation rows
        nothing is calibrated (logged). Temperature and Platt scaling keep the ranking (AUC) unchanged (Platt also
        moves the mean prediction); isotonic may tie scores.
    objective
        ``binary``: 0/1 labels, binary cross-entropy, :meth:`ResponseModel.predict_proba`; ``regression``: any
        real target, squared error, :meth:`ResponseModel.predict` (e.g. the second stage of an X-learner).
    schema
        The feature schema; ``None`` infers it from the training frame's dtypes
        (:func:`~deeptarget.data.tabular.infer_schema`).
    train
        The training loop; ``monitor`` is ``valid/auc`` (``mode: max``) or ``valid/logloss`` (``mode: min``).
        ``l2`` penalises the field vectors of each batch (a batch mean).

    Examples
    --------
    >>> ResponseConfig(embedding_dim=8).train.monitor
    'valid/auc'
    >>> ResponseConfig(dropout=1.5)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: ResponseConfig.dropout must be in [0, 1), got 1.5
    """

    embedding_dim: int = 10
    hidden_sizes: tuple[int, ...] = (256, 128)
    dropout: float = 0.1
    n_cross_layers: int = 3
    calibration: Literal["none", "temperature", "platt", "isotonic"] = "temperature"
    objective: Literal["binary", "regression"] = "binary"
    schema: TabularSchema | None = None
    train: TrainConfig = dataclasses.field(default_factory=_response_train)

    def validate(self) -> None:
        if self.embedding_dim < 1:
            raise ConfigError(f"ResponseConfig.embedding_dim must be >= 1, got {self.embedding_dim}")
        if any(h < 1 for h in self.hidden_sizes):
            raise ConfigError(f"ResponseConfig.hidden_sizes must be positive, got {list(self.hidden_sizes)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"ResponseConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.n_cross_layers < 1:
            raise ConfigError(f"ResponseConfig.n_cross_layers must be >= 1, got {self.n_cross_layers}")
        if self.calibration not in ("none", "temperature", "platt", "isotonic"):
            raise ConfigError(
                "ResponseConfig.calibration must be 'none', 'temperature', 'platt' or 'isotonic', "
                f"got {self.calibration!r}"
            )
        if self.objective not in ("binary", "regression"):
            raise ConfigError(f"ResponseConfig.objective must be 'binary' or 'regression', got {self.objective!r}")
        binary_monitors = ("valid/auc", "valid/logloss", "train/loss")
        allowed = binary_monitors if self.objective == "binary" else ("valid/mse", "train/loss")
        if self.train.monitor not in allowed:
            raise ConfigError(
                f"ResponseConfig.train.monitor must be one of {list(allowed)} for objective {self.objective!r}, "
                f"got {self.train.monitor!r}"
            )


class TabularTensors(NamedTuple):
    """An encoded frame as tensors (what :class:`~deeptarget.nn.ctr.CTRNetwork` takes) and its labels."""

    categorical: torch.Tensor
    multi: tuple[torch.Tensor, ...]
    numeric: torch.Tensor
    labels: torch.Tensor

    def rows(self, index: torch.Tensor) -> TabularTensors:
        return TabularTensors(
            self.categorical[index],
            tuple(m[index] for m in self.multi),
            self.numeric[index],
            self.labels[index],
        )

    def __len__(self) -> int:
        return int(self.categorical.shape[0])


def _as_tensors(batch: EncodedBatch, labels: np.ndarray | None) -> TabularTensors:
    n = batch.n_rows
    y = np.zeros(n, dtype=np.float32) if labels is None else labels.astype(np.float32)
    return TabularTensors(
        torch.from_numpy(np.ascontiguousarray(batch.categorical, dtype=np.int64)),
        tuple(torch.from_numpy(np.ascontiguousarray(batch.multi[name], dtype=np.int64)) for name in batch.multi),
        torch.from_numpy(np.ascontiguousarray(batch.numeric, dtype=np.float32)),
        torch.from_numpy(y),
    )


def _labels(y: npt.ArrayLike | str, X: pd.DataFrame, what: str, binary: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    """The 0/1 labels (any finite targets when not ``binary``) -- from an array, or a column of ``X`` that is then
    dropped -- and the feature frame."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"{what}: X must be a pandas DataFrame, got {type(X).__name__}")
    if isinstance(y, str):
        if y not in X.columns:
            raise DataError(f"{what}: label column not in X", column=y)
        labels, X = X[y].to_numpy(), X.drop(columns=[y])
    else:
        labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(X):
        raise DataError(f"{what}: y must be 1-d with one label per row of X ({len(X)}), got shape {labels.shape}")
    if labels.dtype == bool:
        labels = labels.astype(np.int8)
    try:
        numeric = labels.astype(np.float64)
    except (TypeError, ValueError):
        bad = next(v for v in labels if not _is_number(v))
        raise DataError(f"{what}: labels must be numbers, got {bad!r}", column="y") from None
    bad_rows = np.flatnonzero(~np.isin(numeric, (0.0, 1.0)) if binary else ~np.isfinite(numeric))
    if len(bad_rows):
        row = int(bad_rows[0])
        expected = "0 or 1" if binary else "finite numbers"
        raise DataError(f"{what}: labels must be {expected}", column="y", row={row: labels[row].item()})
    return numeric.astype(np.float32), X


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class ResponseModel:
    """Base class of the response models: a tabular encoder, a :class:`CTRNetwork` and the Trainer.

    Subclasses only name their ``architecture``. Learned state: ``encoder_``, ``network_``, ``history_``,
    ``fit_seconds_``, ``calibrator_`` (``None`` when uncalibrated) and ``calibration_report_`` (log-loss, Brier and
    ECE before and after calibration on the validation rows the calibrator was fitted on -- optimistic; score a
    held-out set with ``predict_proba(X, calibrated=False)`` and ``calibrated=True`` for an honest comparison).
    """

    model_type: ClassVar[str]
    architecture: ClassVar[Architecture]
    config_class: ClassVar[type[ResponseConfig]] = ResponseConfig

    def __init__(self, config: ResponseConfig | None = None) -> None:
        self.config = config or self.config_class()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: pd.DataFrame,
        y: npt.ArrayLike | str,
        valid: tuple[pd.DataFrame, npt.ArrayLike | str] | None = None,
        *,
        run_dir: str | os.PathLike[str] | None = None,
    ) -> Self:
        """Fit on ``X`` (features) and ``y`` (0/1 labels, or the name of a label column of ``X``).

        ``valid = (X_valid, y_valid)`` drives early stopping on ``train.monitor``; without it the model trains
        ``train.epochs`` epochs. With ``run_dir``, ``history.csv`` (and checkpoints) are written there.
        """
        start = time.perf_counter()
        binary = self.config.objective == "binary"
        labels, X = _labels(y, X, f"{type(self).__name__}.fit", binary)
        if len(X) == 0:
            raise DataError(f"{type(self).__name__}.fit: no training rows")
        if binary and labels.min() == labels.max():
            raise DataError(f"{type(self).__name__}.fit: every training label is {int(labels[0])}", column="y")
        self.encoder_ = TabularEncoder(self._schema(X)).fit(X)
        data = _as_tensors(self.encoder_.transform(X), labels)
        validate = None
        if valid is not None:
            valid_labels, valid_X = _labels(valid[1], valid[0], f"{type(self).__name__}.fit(valid)", binary)
            valid_data = _as_tensors(self.encoder_.transform(valid_X), valid_labels)
            validate = self._validator(valid_data)
        config = self.config.train
        if validate is None and config.monitor.startswith("valid/") and config.patience is not None:
            logger.info("no validation data: early stopping on %s is off", config.monitor)
            config = config.replace(patience=None)
        torch.manual_seed(config.seed)
        self.network_ = self._build_network()
        self.network_.train()
        mean = float(labels.mean())
        with torch.no_grad():  # start at the base rate (or mean): the first epochs learn features, not the prior
            bias: torch.Tensor = self.network_.bias  # type: ignore[assignment]
            bias.fill_(math.log(mean / (1.0 - mean)) if binary else mean)

        def batches(epoch: int) -> Iterator[TabularTensors]:
            order = torch.randperm(len(data), generator=make_generator(config.seed, epoch))
            for begin in range(0, len(order), config.batch_size):
                yield data.rows(order[begin : begin + config.batch_size])

        self.history_: History = Trainer(config).fit(
            self.network_, self._step, batches, validate=validate, run_dir=run_dir
        )
        self.network_.eval()
        self._after_fit(data)
        self.calibrator_: TemperatureScaling | PlattScaling | IsotonicCalibration | None = None
        self.calibration_report_: dict[str, float] | None = None
        if binary and self.config.calibration != "none":
            if valid is None:
                logger.info("no validation data: probabilities are not calibrated")
            else:
                self._calibrate(valid_data)
        self.fit_seconds_ = time.perf_counter() - start
        logger.info("%s fitted in %.2fs", type(self).__name__, self.fit_seconds_)
        return self

    def _schema(self, X: pd.DataFrame) -> TabularSchema:
        """The feature schema: the configured one, else inferred from the training frame's dtypes."""
        return self.config.schema or infer_schema(X)

    def _after_fit(self, data: TabularTensors) -> None:
        """Hook after training (best weights restored, eval mode), before calibration."""

    def _calibrate(self, valid: TabularTensors) -> None:
        labels = valid.labels.numpy()
        if labels.min() == labels.max():
            logger.warning("validation labels are all %d: probabilities are not calibrated", int(labels[0]))
            return
        raw = self._predict_tensors(valid)
        kinds = {"temperature": TemperatureScaling, "platt": PlattScaling, "isotonic": IsotonicCalibration}
        self.calibrator_ = kinds[self.config.calibration]().fit(labels, raw)
        self.calibration_report_ = calibration_report(labels, raw, self.calibrator_.transform(raw))
        logger.info(
            "%s calibration on %d validation rows: log-loss %.4f -> %.4f, ECE %.4f -> %.4f",
            self.config.calibration,
            len(labels),
            self.calibration_report_["logloss_before"],
            self.calibration_report_["logloss_after"],
            self.calibration_report_["ece_before"],
            self.calibration_report_["ece_after"],
        )

    def _build_network(self) -> torch.nn.Module:
        enc, cfg = self.encoder_, self.config
        cards = enc.cardinalities
        return CTRNetwork(
            self.architecture,
            [cards[name] for name in enc.categorical_names],
            [cards[name] for name in enc.multi_names],
            len(enc.numeric_names),
            embedding_dim=cfg.embedding_dim,
            hidden_sizes=cfg.hidden_sizes,
            dropout=cfg.dropout,
            n_cross_layers=cfg.n_cross_layers,
        )

    def _step(self, module: torch.nn.Module, batch: TabularTensors) -> StepOutput:
        net: CTRNetwork = module  # type: ignore[assignment]
        fields = net.field_vectors(batch.categorical, batch.multi, batch.numeric)
        logits = net(batch.categorical, batch.multi, batch.numeric, fields=fields)
        if self.config.objective == "regression":
            loss = torch.nn.functional.mse_loss(logits, batch.labels)
        else:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch.labels)
        regularize = () if fields is None else (fields,)
        return StepOutput(loss=loss, regularize=regularize, penalty_scale=1.0 / len(batch.labels))

    def _validator(self, valid: TabularTensors) -> Any:
        labels = valid.labels.numpy()

        def validate(module: torch.nn.Module) -> dict[str, float]:
            out = self._predict_tensors(valid)
            if self.config.objective == "regression":
                return {"mse": float(np.mean((out - labels) ** 2))}
            return {"auc": roc_auc(labels, out), "logloss": log_loss(labels, out)}

        return validate

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _predict_tensors(self, data: TabularTensors, batch_size: int = 65536) -> np.ndarray:
        was_training = self.network_.training
        self.network_.eval()
        out = []
        try:
            with torch.no_grad():
                for begin in range(0, len(data), batch_size):
                    part = data.rows(torch.arange(begin, min(begin + batch_size, len(data))))
                    raw = self.network_(part.categorical, part.multi, part.numeric)
                    out.append(raw if self.config.objective == "regression" else torch.sigmoid(raw))
        finally:
            self.network_.train(was_training)
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)

    def predict_proba(self, X: pd.DataFrame, *, calibrated: bool = True) -> np.ndarray:
        """Probability of a response for each row of ``X``, shape ``(n_rows,)``.

        With ``calibrated`` (default) the fitted calibrator, if any, maps the network's output; ``False`` gives the
        raw output. Unseen categories and missing values are encoded, never rejected; a missing column raises
        :class:`~deeptarget.errors.DataError` naming it.
        """
        if self.config.objective == "regression":
            raise ConfigError(f"{type(self).__name__} was fitted with objective 'regression': use predict()")
        raw = self._raw_predictions(X)
        calibrator = getattr(self, "calibrator_", None)
        return calibrator.transform(raw) if calibrated and calibrator is not None and len(raw) else raw

    def _raw_predictions(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"predict: X must be a pandas DataFrame, got {type(X).__name__}")
        return self._predict_tensors(_as_tensors(self.encoder_.transform(X), None))

    def predict(self, X: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """0/1 predictions ``predict_proba(X) >= threshold``; with objective ``regression``, the predicted values."""
        if self.config.objective == "regression":
            return self._raw_predictions(X)
        return (self.predict_proba(X) >= threshold).astype(np.int8)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to a directory of JSON (config, encoder) + safetensors (weights); returns the directory."""
        self._check_fitted()
        arrays, encoders, meta = self._payload()
        return write_model_dir(
            path, model_type=self.model_type, config=self.config.to_dict(), arrays=arrays, encoders=encoders, meta=meta
        )

    def _payload(self) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
        """The fitted state as (arrays, JSON encoders, JSON meta) for :meth:`save`."""
        arrays = {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        meta = {
            "library": "deeptarget",
            "fit_seconds": getattr(self, "fit_seconds_", None),
            "calibration_report": getattr(self, "calibration_report_", None),
        }
        encoders: dict[str, Any] = {"tabular": self.encoder_.to_dict()}
        calibrator = getattr(self, "calibrator_", None)
        if calibrator is not None:
            encoders["calibrator"] = calibrator.to_dict()
        return arrays, encoders, meta

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved by :meth:`save` (no training data needed)."""
        files = read_model_dir(path, model_type=cls.model_type)
        model = cls(cls.config_class.from_dict(files.config))
        model._restore(files.arrays, files.encoders, files.meta, str(path))
        return model

    def _restore(
        self, arrays: Mapping[str, Any], encoders: Mapping[str, Any], meta: Mapping[str, Any], where: str
    ) -> None:
        """Set the fitted state from what :meth:`_payload` wrote (``where`` names the directory in errors)."""
        try:
            self.encoder_ = TabularEncoder.from_dict(encoders["tabular"])
        except KeyError:
            raise DataError("model directory is incomplete: missing the tabular encoder", file=where) from None
        self.network_ = self._build_network()
        state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        self.network_.load_state_dict(state)
        self.network_.eval()
        self.fit_seconds_ = float(meta.get("fit_seconds") or 0.0)
        saved = encoders.get("calibrator")
        self.calibrator_ = None if saved is None else calibrator_from_dict(saved)
        self.calibration_report_ = meta.get("calibration_report")

    def get_state(self) -> Mapping[str, Any]:
        """The config as a plain dict (for logs)."""
        return self.config.to_dict()


@CLASSIFIERS.register("logreg")
class LogisticRegression(ResponseModel):
    """Logistic regression on one-hot categorical, bag-of-values and numeric features (first-order weights).

    Examples
    --------
    >>> frame = pd.DataFrame({"plan": ["a", "b"] * 50, "age": np.arange(100.0)})
    >>> y = (frame["plan"] == "a").astype(int)
    >>> train = TrainConfig(epochs=30, lr=0.05, monitor="train/loss", mode="min", progress=False)
    >>> model = LogisticRegression(ResponseConfig(train=train)).fit(frame, y)
    >>> bool(model.predict_proba(frame.head(2))[0] > model.predict_proba(frame.head(2))[1])
    True
    """

    model_type = "logreg"
    architecture = "logreg"


@CLASSIFIERS.register("fm")
class FactorizationMachine(ResponseModel):
    """Factorization machine (Rendle 2010): first-order weights plus pairwise field-vector interactions."""

    model_type = "fm"
    architecture = "fm"


@CLASSIFIERS.register("wide_deep")
class WideDeep(ResponseModel):
    """Wide & Deep (Cheng et al. 2016): a linear (wide) part plus an MLP over the field vectors."""

    model_type = "wide_deep"
    architecture = "wide_deep"


@CLASSIFIERS.register("deepfm")
class DeepFM(ResponseModel):
    """DeepFM (Guo et al. 2017): first order + FM + an MLP, sharing the field vectors."""

    model_type = "deepfm"
    architecture = "deepfm"


@CLASSIFIERS.register("dcnv2")
class DCNv2(ResponseModel):
    """DCN-v2 (Wang et al. 2021): a full-rank cross network and an MLP in parallel over the field vectors."""

    model_type = "dcnv2"
    architecture = "dcnv2"


@CLASSIFIERS.register("mlp_ctr")
class MLPClassifier(ResponseModel):
    """A plain MLP over the field vectors and the numeric columns."""

    model_type = "mlp_ctr"
    architecture = "mlp"
