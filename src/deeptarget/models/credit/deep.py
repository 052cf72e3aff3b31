"""A deep probability-of-default model: categorical embeddings + MLP, optional monotone features, reason codes.

:class:`DeepPD` is a :class:`~deeptarget.models.ctr.response.ResponseModel` (same ``fit(X, y, valid=...)`` /
``predict_proba`` / ``save`` / ``load``, early stopping, calibration) on a :class:`~deeptarget.nn.credit.PDNetwork`.
Numeric features are quantile-binned by default (robust to the heavy tails of incomes, balances and ratios;
``numeric_transform: standard`` keeps more resolution where tails are mild).
Features named in ``monotone_increasing`` / ``monotone_decreasing`` move the default risk in one direction only,
for every applicant -- what a credit policy (and a regulator) usually demands of, say, the number of late payments.

For small data, ``numeric_transform: woe`` feeds the network each feature's weight of evidence (the scorecard's
monotone bins, fitted on the training rows) and ``cross_fit: k`` averages ``k`` members that each early-stop on
their own fold of the training rows, so that no row is spent on validation alone.

Reason codes (:meth:`DeepPD.reason_codes`) come from integrated gradients (Captum) of the default logit, from the
"average applicant" of the training rows to the applicant: the features that raised the risk most.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch
from sklearn.model_selection import StratifiedKFold

from deeptarget.config import TrainConfig
from deeptarget.data.tabular import NumericField, TabularSchema
from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.evaluation.classification import log_loss
from deeptarget.models.credit.scorecard import WOEBinner
from deeptarget.models.ctr.response import ResponseConfig, ResponseModel, TabularTensors, _as_tensors, _labels
from deeptarget.nn.credit import PDNetwork
from deeptarget.registry import CLASSIFIERS
from deeptarget.training.trainer import History

logger = logging.getLogger(__name__)

#: suffix of the network input that carries a feature's weight of evidence (``numeric_transform: woe``)
WOE_SUFFIX = "__woe"

__all__ = ["DeepPD", "DeepPDConfig", "stratified_folds"]


def _pd_train() -> TrainConfig:
    return TrainConfig(epochs=60, batch_size=256, lr=1e-3, patience=10, monitor="valid/logloss", mode="min", seed=2020)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeepPDConfig(ResponseConfig):
    """:class:`ResponseConfig` plus the monotone features and the numeric encoding of :class:`DeepPD`.

    Attributes
    ----------
    calibration
        ``platt`` by default: a PD feeds expected losses and prices, so its mean must match the default rate too.
    monotone_increasing, monotone_decreasing
        Numeric features whose rise can only raise (lower) the probability of default.
    numeric_transform
        ``quantile`` (default: ``n_bins`` equal-frequency bins scaled to [0, 1]), ``standard``, or ``woe``; applied
        to every numeric field of an inferred schema (a configured ``schema`` is used as it is). ``woe`` fits a
        :class:`~deeptarget.models.credit.scorecard.WOEBinner` (monotone bins) on the training rows and gives the
        network every feature's weight of evidence, standardised: a numeric feature enters through its WOE only
        (a monotone one keeps its raw, constrained path and gets no WOE), a categorical one through its embedding
        and its WOE. The supervised bins are what makes scorecards strong on a few hundred rows.
    n_bins
        Bins of the quantile transform.
    n_knots
        Hinges of each monotone feature's piecewise-linear term.
    bin_embeddings
        With the quantile transform, also give the MLP a learned vector per quantile bin of every free numeric
        feature (piecewise embeddings, Gorishniy et al. 2022). Off by default: on the credit benchmarks it
        over-fitted within a few epochs (Taiwan test AUC 0.779 with, 0.787 without).
    cross_fit
        With ``k > 1``, fit ``k`` members on stratified folds of the training rows: member ``i`` trains on the
        other folds (seed ``train.seed + i``) and early-stops and calibrates on fold ``i``; the PD is the members'
        mean. Every training row is used, none is spent on validation alone -- worth it on small data (German
        credit: 800 rows). ``fit``'s ``valid`` rows are then not used; ``oof_logloss_`` is the log-loss of each
        training row's prediction by the member that did not train on it.
    train
        Early stopping on validation log-loss (smoother than AUC on a few thousand rows), patience 10.

    Examples
    --------
    >>> DeepPDConfig(monotone_increasing=("late_payments",)).hidden_sizes
    (64, 32)
    >>> DeepPDConfig(monotone_increasing=("x",), monotone_decreasing=("x",))
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: DeepPDConfig: ['x'] cannot be both monotone increasing and decreasing
    """

    embedding_dim: int = 8
    calibration: Literal["none", "temperature", "platt", "isotonic"] = "platt"
    hidden_sizes: tuple[int, ...] = (64, 32)
    dropout: float = 0.2
    monotone_increasing: tuple[str, ...] = ()
    monotone_decreasing: tuple[str, ...] = ()
    numeric_transform: Literal["quantile", "standard", "woe"] = "quantile"
    n_bins: int = 32
    n_knots: int = 8
    bin_embeddings: bool = False
    cross_fit: int = 1
    train: TrainConfig = dataclasses.field(default_factory=_pd_train)

    def validate(self) -> None:
        super().validate()
        both = sorted(set(self.monotone_increasing) & set(self.monotone_decreasing))
        if both:
            raise ConfigError(f"DeepPDConfig: {both} cannot be both monotone increasing and decreasing")
        if self.numeric_transform not in ("quantile", "standard", "woe"):
            raise ConfigError(
                "DeepPDConfig.numeric_transform must be 'quantile', 'standard' or 'woe', "
                f"got {self.numeric_transform!r}"
            )
        if self.numeric_transform == "woe" and self.schema is not None:
            raise ConfigError("DeepPDConfig: numeric_transform 'woe' builds its own inputs; leave schema unset")
        if self.cross_fit < 1:
            raise ConfigError(f"DeepPDConfig.cross_fit must be >= 1, got {self.cross_fit}")
        if self.n_bins < 2 or self.n_knots < 1:
            raise ConfigError(f"DeepPDConfig: n_bins >= 2 and n_knots >= 1, got {self.n_bins}, {self.n_knots}")
        if self.objective != "binary":
            raise ConfigError("DeepPDConfig.objective must be 'binary' (a probability of default)")


@CLASSIFIERS.register("deep_pd")
class DeepPD(ResponseModel):
    """Probability of default from categorical embeddings + an MLP, with optional monotone numeric features.

    Learned state as :class:`ResponseModel`, plus ``woe_`` (the fitted :class:`WOEBinner`, or ``None``) and, with
    ``cross_fit > 1``, ``members_`` (the fitted single models) and ``oof_logloss_`` instead of one network.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"late": rng.integers(0, 6, 3000), "region": rng.choice(["n", "s"], 3000)})
    >>> y = (rng.random(3000) < 0.05 + 0.1 * X["late"]).astype(int)
    >>> train = TrainConfig(epochs=5, lr=0.01, monitor="train/loss", mode="min", progress=False)
    >>> model = DeepPD(DeepPDConfig(monotone_increasing=("late",), train=train)).fit(X, y)
    >>> pd_ = model.predict_proba(pd.DataFrame({"late": [0, 2, 5], "region": ["n", "n", "n"]}))
    >>> bool(pd_[0] < pd_[1] < pd_[2])
    True
    """

    model_type = "deep_pd"
    architecture = "mlp"
    config_class: ClassVar[type[ResponseConfig]] = DeepPDConfig
    config: DeepPDConfig

    def _schema(self, X: pd.DataFrame) -> TabularSchema:
        cfg = self.config
        schema = super()._schema(X)
        if cfg.schema is None:
            transform = "standard" if cfg.numeric_transform == "woe" else cfg.numeric_transform
            fields = tuple(
                f.replace(transform=transform, n_bins=cfg.n_bins, missing_indicator=not f.name.endswith(WOE_SUFFIX))
                if isinstance(f, NumericField)
                else f
                for f in schema.fields
            )  # a WOE input is never missing: missing values have a bin of their own
            schema = schema.replace(fields=fields)
        numeric = {f.name for f in schema.fields if isinstance(f, NumericField)}
        for name in (*cfg.monotone_increasing, *cfg.monotone_decreasing):
            if name not in numeric:
                where = "not a numeric feature" if name in {f.name for f in schema.fields} else "not a feature"
                raise ConfigError(f"DeepPDConfig: monotone feature {name!r} is {where}; numeric: {sorted(numeric)}")
        return schema

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: pd.DataFrame,
        y: npt.ArrayLike | str,
        valid: tuple[pd.DataFrame, npt.ArrayLike | str] | None = None,
        *,
        run_dir: str | os.PathLike[str] | None = None,
    ) -> Self:
        """Fit as :meth:`ResponseModel.fit`; with ``cross_fit > 1`` as ``k`` cross-fitted members (``valid`` unused).

        With ``run_dir``, each member writes its ``history.csv`` under ``run_dir/members/<i>/``.
        """
        cfg = self.config
        labels, X = _labels(y, X, "DeepPD.fit")
        if cfg.cross_fit > 1:
            return self._fit_members(X, labels, valid, run_dir)
        self.woe_: WOEBinner | None = None
        if cfg.numeric_transform == "woe":
            monotone = [*cfg.monotone_increasing, *cfg.monotone_decreasing]
            unknown = [name for name in monotone if name not in X.columns]
            if unknown:  # checked here, before the WOE inputs rename the features
                raise ConfigError(f"DeepPDConfig: monotone feature {unknown[0]!r} is not a feature")
            self.woe_ = WOEBinner().fit(X.drop(columns=monotone), labels.astype(np.int64))
            self.woe_raw_ = [
                name for name in X.columns if name in monotone or self.woe_.bins_[name].kind == "categorical"
            ]
            X = self._inputs(X)
            if valid is not None:
                valid_labels, valid_X = _labels(valid[1], valid[0], "DeepPD.fit(valid)")
                valid = (self._inputs(valid_X), valid_labels)
        return super().fit(X, labels, valid, run_dir=run_dir)

    def _inputs(self, X: pd.DataFrame) -> pd.DataFrame:
        """The network's input frame: ``X`` itself, or with ``woe`` the kept raw columns plus each feature's WOE."""
        binner = getattr(self, "woe_", None)
        if binner is None:
            return X
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"DeepPD: X must be a pandas DataFrame, got {type(X).__name__}")
        missing = [name for name in self.woe_raw_ if name not in X.columns]
        if missing:
            raise DataError("DeepPD: a feature the model was fitted on is missing", column=missing[0])
        woe = binner.transform(X)
        woe.columns = [f"{name}{WOE_SUFFIX}" for name in woe.columns]
        inputs: pd.DataFrame = pd.concat([X[self.woe_raw_], woe], axis=1)
        return inputs

    def _fit_members(
        self,
        X: pd.DataFrame,
        labels: np.ndarray,
        valid: tuple[pd.DataFrame, npt.ArrayLike | str] | None,
        run_dir: str | os.PathLike[str] | None,
    ) -> Self:
        cfg = self.config
        k = cfg.cross_fit
        counts = np.bincount(labels.astype(np.int64), minlength=2)
        if counts.min() < k:
            raise DataError(
                f"DeepPD.fit: cross_fit={k} needs at least {k} rows of each label, got {counts.tolist()} (0s, 1s)",
                column="y",
            )
        if valid is not None:
            logger.info("cross_fit=%d: each member early-stops on its own fold; the valid rows are not used", k)
        start = time.perf_counter()
        fold = stratified_folds(labels, k, cfg.train.seed)
        members: list[DeepPD] = []
        oof = np.zeros(len(labels))
        records: list[dict[str, float]] = []
        for i in range(k):
            held = fold == i
            member = DeepPD(self._member_config(i))
            member_dir = None if run_dir is None else Path(run_dir) / "members" / str(i)
            member.fit(X[~held], labels[~held], valid=(X[held], labels[held]), run_dir=member_dir)
            oof[held] = member.predict_proba(X[held])
            records += [{"member": float(i), **record} for record in member.history_]
            members.append(member)
            logger.info("cross-fitted member %d/%d: %d epochs", i + 1, k, len(member.history_))
        self.members_ = members
        self.oof_logloss_ = log_loss(labels, oof)
        self.history_ = History(records)
        self.calibrator_ = None
        self.calibration_report_ = None
        self.fit_seconds_ = time.perf_counter() - start
        logger.info("DeepPD: %d cross-fitted members, out-of-fold log-loss %.4f", k, self.oof_logloss_)
        return self

    def _member_config(self, i: int) -> DeepPDConfig:
        cfg = self.config
        return cfg.replace(cross_fit=1, train=cfg.train.replace(seed=cfg.train.seed + i))

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_") and not hasattr(self, "members_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X: pd.DataFrame, *, calibrated: bool = True) -> np.ndarray:
        """Probability of default per row; a cross-fitted model averages its members' probabilities."""
        members = getattr(self, "members_", None)
        if members is not None:
            mean: np.ndarray = np.mean([m.predict_proba(X, calibrated=calibrated) for m in members], axis=0)
            return mean
        return super().predict_proba(X, calibrated=calibrated)

    def _raw_predictions(self, X: pd.DataFrame) -> np.ndarray:
        return super()._raw_predictions(self._inputs(X))

    def _build_network(self) -> PDNetwork:
        enc, cfg = self.encoder_, self.config
        cards = enc.cardinalities
        columns = list(enc.numeric_names)
        monotone = [*cfg.monotone_increasing, *cfg.monotone_decreasing]
        monotone_columns = [columns.index(name) for name in monotone]
        free_columns = [i for i in range(len(columns)) if i not in monotone_columns]
        if cfg.numeric_transform == "quantile":
            grid = torch.linspace(0.0, 1.0, cfg.n_knots + 2)[1:-1]
        else:
            grid = torch.linspace(-2.0, 2.0, cfg.n_knots)
        return PDNetwork(
            [cards[name] for name in enc.categorical_names],
            [cards[name] for name in enc.multi_names],
            free_numeric=free_columns,
            monotone_numeric=monotone_columns,
            signs=[1.0] * len(cfg.monotone_increasing) + [-1.0] * len(cfg.monotone_decreasing),
            knots=grid.repeat(len(monotone), 1),
            embedding_dim=cfg.embedding_dim,
            hidden_sizes=cfg.hidden_sizes,
            dropout=cfg.dropout,
            numeric_bins=cfg.n_bins if cfg.bin_embeddings and cfg.numeric_transform == "quantile" else 0,
        )

    def _after_fit(self, data: TabularTensors) -> None:
        net: PDNetwork = self.network_  # type: ignore[assignment]
        with torch.no_grad():
            net.reference_numeric.copy_(data.numeric.mean(dim=0))  # type: ignore[operator]
            if net.embedding is not None:
                total = torch.zeros_like(net.reference_fields)  # type: ignore[arg-type]
                for begin in range(0, len(data), 65536):
                    part = data.rows(torch.arange(begin, min(begin + 65536, len(data))))
                    fields = net.field_vectors(part.categorical, part.multi, part.numeric)
                    assert fields is not None
                    total += fields.sum(dim=0)
                net.reference_fields.copy_(total / len(data))  # type: ignore[operator]

    # ------------------------------------------------------------------ explanations
    def feature_attributions(self, X: pd.DataFrame, *, n_steps: int = 32, batch_size: int = 2048) -> pd.DataFrame:
        """Integrated gradients of the default logit per feature, from the average training applicant to each row.

        Categorical fields sum their embedding dimensions; a numeric feature's missing indicator, and with
        ``numeric_transform: woe`` a feature's WOE input, count towards the feature. A cross-fitted model gives its
        members' mean. By the completeness of integrated gradients, a row's attributions sum (up to the
        integration error of ``n_steps``) to its logit minus the average applicant's logit. Positive values
        raised the risk.
        """
        from captum.attr import IntegratedGradients

        self._check_fitted()
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"feature_attributions: X must be a pandas DataFrame, got {type(X).__name__}")
        members = getattr(self, "members_", None)
        if members is not None:  # the members' mean: exact for the mean logit, close for the mean probability
            parts = [m.feature_attributions(X, n_steps=n_steps, batch_size=batch_size) for m in members]
            total: pd.DataFrame = sum(parts[1:], parts[0])
            return total / len(parts)
        net: PDNetwork = self.network_  # type: ignore[assignment]
        net.eval()
        data = _as_tensors(self.encoder_.transform(self._inputs(X)), None)
        cat_names = [*self.encoder_.categorical_names, *self.encoder_.multi_names]
        # a feature's missing indicator and its WOE input count towards the feature
        num_names = [name.removesuffix("__missing").removesuffix(WOE_SUFFIX) for name in self.encoder_.numeric_names]
        features = list(dict.fromkeys([*cat_names, *num_names]))
        num_index = torch.tensor([features.index(name) for name in num_names], dtype=torch.long)
        out = np.zeros((len(data), len(features)))
        reference_numeric: torch.Tensor = net.reference_numeric  # type: ignore[assignment]
        reference_fields: torch.Tensor = net.reference_fields  # type: ignore[assignment]
        for begin in range(0, len(data), batch_size):
            part = data.rows(torch.arange(begin, min(begin + batch_size, len(data))))
            numeric = part.numeric.clone()
            base_numeric = reference_numeric.expand_as(numeric)
            fields = net.field_vectors(part.categorical, part.multi, part.numeric)
            scores = torch.zeros(len(part), len(features))
            if fields is None:
                ig = IntegratedGradients(lambda x: net.logit_from(None, x))
                attr_numeric = ig.attribute(numeric, baselines=base_numeric, n_steps=n_steps)
            else:
                ig = IntegratedGradients(lambda f, x: net.logit_from(f, x))
                attr_fields, attr_numeric = ig.attribute(
                    (fields.detach(), numeric),
                    baselines=(reference_fields.expand_as(fields), base_numeric),
                    n_steps=n_steps,
                )
                scores[:, : len(cat_names)] = attr_fields.sum(dim=-1).detach()
            scores.index_add_(1, num_index, attr_numeric.detach().to(scores.dtype))
            out[begin : begin + len(part)] = scores.numpy()
        return pd.DataFrame(out, columns=features, index=X.index)

    def reason_codes(self, X: pd.DataFrame, n: int = 4, **kwargs: int) -> pd.DataFrame:
        """The ``n`` features that raised each applicant's risk most (``reason_1`` first), with their logit impact.

        Features that lowered the risk are never reasons (empty string, impact 0).
        """
        if n < 1:
            raise ConfigError(f"reason_codes: n must be >= 1, got {n}")
        attributions = self.feature_attributions(X, **kwargs)
        values = attributions.to_numpy()
        names = np.asarray(attributions.columns, dtype=object)
        k = min(n, values.shape[1])
        order = np.argsort(-values, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(values, order, axis=1)
        reasons = np.where(top > 0, names[order], "")
        result = {}
        for i in range(n):
            result[f"reason_{i + 1}"] = reasons[:, i] if i < k else np.full(len(values), "", dtype=object)
            result[f"impact_{i + 1}"] = np.where(top[:, i] > 0, top[:, i], 0.0) if i < k else np.zeros(len(values))
        return pd.DataFrame(result, index=X.index)

    # ------------------------------------------------------------------ persistence
    def _payload(self) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
        members = getattr(self, "members_", None)
        if members is None:
            arrays, encoders, meta = super()._payload()
            binner: WOEBinner | None = getattr(self, "woe_", None)
            if binner is not None:
                encoders["woe"] = {"binner": binner.to_dict(), "raw_columns": list(self.woe_raw_)}
            return arrays, encoders, meta
        arrays, member_encoders, member_meta = {}, [], []
        for i, member in enumerate(members):
            a, e, m = member._payload()
            arrays.update({f"members.{i}.{key}": value for key, value in a.items()})
            member_encoders.append(e)
            member_meta.append(m)
        meta = {
            "library": "deeptarget",
            "fit_seconds": self.fit_seconds_,
            "oof_logloss": self.oof_logloss_,
            "members": member_meta,
        }
        return arrays, {"members": member_encoders}, meta

    def _restore(
        self, arrays: Mapping[str, Any], encoders: Mapping[str, Any], meta: Mapping[str, Any], where: str
    ) -> None:
        if self.config.cross_fit == 1:
            super()._restore(arrays, encoders, meta, where)
            saved = encoders.get("woe")
            self.woe_ = None if saved is None else WOEBinner.from_dict(saved["binner"])
            self.woe_raw_ = [] if saved is None else list(saved["raw_columns"])
            return
        member_encoders = encoders.get("members")
        if not isinstance(member_encoders, list) or len(member_encoders) != self.config.cross_fit:
            raise DataError(
                f"model directory is incomplete: expected {self.config.cross_fit} cross-fitted members", file=where
            )
        members = []
        for i, member_encoder in enumerate(member_encoders):
            prefix = f"members.{i}."
            member = DeepPD(self._member_config(i))
            member_arrays = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
            member_meta = meta.get("members") or [{}] * len(member_encoders)
            member._restore(member_arrays, member_encoder, member_meta[i], where)
            members.append(member)
        self.members_ = members
        self.oof_logloss_ = float(meta.get("oof_logloss") or float("nan"))
        self.fit_seconds_ = float(meta.get("fit_seconds") or 0.0)
        self.calibrator_ = None
        self.calibration_report_ = None


def stratified_folds(labels: npt.ArrayLike, k: int, seed: int) -> np.ndarray:
    """A fold number in ``0..k-1`` per row: scikit-learn's shuffled ``StratifiedKFold`` with ``random_state=seed``.

    Examples
    --------
    >>> folds = stratified_folds([0] * 8 + [1] * 4, 4, seed=0)
    >>> np.bincount(folds).tolist(), np.bincount(folds[8:]).tolist()
    ([3, 3, 3, 3], [1, 1, 1, 1])
    """
    values = np.asarray(labels)
    fold = np.empty(len(values), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for i, (_, held) in enumerate(splitter.split(np.zeros((len(values), 1)), values)):
        fold[held] = i
    return fold
