"""Uplift (treatment-effect) learners on top of any registered response model, for randomised campaign data.

A campaign test randomises customers into arms (one or more treatments, e.g. two e-mails, and a control that gets
nothing). The *uplift* of treatment ``a`` for a customer ``x`` is ``P(y=1 | x, a) - P(y=1 | x, control)``: whom the
campaign actually moves, not who would respond anyway.

- :class:`TLearner` fits one response model per arm and subtracts the control's prediction.
- :class:`XLearner` (Künzel et al. 2019) adds a second stage: the effect imputed for each treated customer
  (``y - mu_control(x)``) and each control (``mu_a(x) - y``) is regressed on the features, and the two effect
  models are averaged with the arm's share of the two groups (the propensity, constant in a randomised test).

References
----------
Künzel, S. R., Sekhon, J. S., Bickel, P. J. and Yu, B. (2019), "Metalearners for estimating heterogeneous treatment
effects using machine learning", PNAS 116(10).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.models.ctr.response import ResponseConfig, ResponseModel
from deeptarget.registry import CLASSIFIERS

__all__ = ["UPLIFT_FILE", "TLearner", "XLearner", "load_uplift_learner"]

UPLIFT_FILE = "uplift.json"

logger = logging.getLogger(__name__)


def _arms(treatment: npt.ArrayLike, n_rows: int, control: Any) -> tuple[np.ndarray, list[Any]]:
    arms = np.asarray(treatment, dtype=object)
    if arms.ndim != 1 or len(arms) != n_rows:
        raise DataError(f"treatment must be 1-d with one arm per row of X ({n_rows}), got shape {arms.shape}")
    if pd.isna(arms).any():
        row = int(np.flatnonzero(pd.isna(arms))[0])
        raise DataError("treatment has a missing arm", column="treatment", row={row: None})
    names = list(pd.unique(arms))
    if control not in names:
        raise DataError(f"no row has the control arm {control!r}; arms: {names}", column="treatment")
    treated = [a for a in names if a != control]
    if not treated:
        raise DataError("every row is a control: nothing to compare", column="treatment")
    return arms, sorted(treated, key=str)


class TLearner:
    """One response model per arm; uplift = the arm's predicted response minus the control's.

    Parameters
    ----------
    model
        A registered classifier name (``logreg``, ``deepfm``, ...; :data:`~deeptarget.registry.CLASSIFIERS`).
    config
        Its :class:`~deeptarget.models.ctr.ResponseConfig`; without validation data, use ``train.monitor:
        train/loss`` (the default here) and a fixed number of epochs.

    Examples
    --------
    >>> from deeptarget.config import TrainConfig
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"young": rng.integers(0, 2, 4000).astype(str)})
    >>> arm = rng.choice(["mail", "none"], 4000)
    >>> # the mail works on the young only: +30 points for them, 0 for the others
    >>> y = (rng.random(4000) < 0.1 + 0.3 * ((arm == "mail") & (X["young"] == "1"))).astype(int)
    >>> train = TrainConfig(epochs=20, lr=0.05, monitor="train/loss", mode="min", progress=False)
    >>> learner = TLearner("logreg", ResponseConfig(train=train)).fit(X, y, arm, control="none")
    >>> effect = learner.predict_effect(pd.DataFrame({"young": ["1", "0"]}))["mail"]
    >>> bool(effect[0] > 0.2 and abs(effect[1]) < 0.1)
    True
    """

    kind: ClassVar[str] = "t-learner"

    def __init__(self, model: str = "logreg", config: ResponseConfig | None = None) -> None:
        self.model = model
        self.config = config or ResponseConfig(
            train=ResponseConfig().train.replace(monitor="train/loss", mode="min", patience=None, epochs=10)
        )
        CLASSIFIERS.get(model)  # fails early on an unknown name

    def _new_model(self, objective: str = "binary") -> ResponseModel:
        config = self.config
        if objective == "regression":
            config = config.replace(
                objective="regression", train=config.train.replace(monitor="train/loss", mode="min")
            )
        model: ResponseModel = CLASSIFIERS.get(self.model)(config)
        return model

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike, treatment: npt.ArrayLike, *, control: Any) -> Self:
        """Fit on features ``X``, 0/1 outcomes ``y`` and each row's arm (``control`` names the untreated arm)."""
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"X must be a pandas DataFrame, got {type(X).__name__}")
        labels = np.asarray(y)
        arms, self.arms_ = _arms(treatment, len(X), control)
        self.control_ = control
        self.outcome_models_: dict[Any, ResponseModel] = {}
        for arm in [control, *self.arms_]:
            rows = arms == arm
            logger.info("uplift: outcome model of arm %r on %d rows", arm, int(rows.sum()))
            self.outcome_models_[arm] = self._new_model().fit(X[rows], labels[rows])
        self.shares_ = {arm: float((arms == arm).mean()) for arm in [control, *self.arms_]}
        self._fit_effects(X, labels, arms)
        return self

    def _fit_effects(self, X: pd.DataFrame, y: np.ndarray, arms: np.ndarray) -> None:
        """Second stage (none for the T-learner)."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "outcome_models_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def predict_outcomes(self, X: pd.DataFrame) -> pd.DataFrame:
        """Predicted response probability of every row under every arm (one column per arm)."""
        self._check_fitted()
        return pd.DataFrame({arm: model.predict_proba(X) for arm, model in self.outcome_models_.items()}, index=X.index)

    def predict_effect(self, X: pd.DataFrame) -> pd.DataFrame:
        """Predicted uplift of every treated arm against the control (one column per treated arm)."""
        outcomes = self.predict_outcomes(X)
        return pd.DataFrame({arm: outcomes[arm] - outcomes[self.control_] for arm in self.arms_}, index=X.index)

    def best_arm(self, X: pd.DataFrame) -> pd.DataFrame:
        """For each row, the treated arm with the largest predicted uplift and that uplift."""
        effect = self.predict_effect(X)
        return pd.DataFrame({"arm": effect.idxmax(axis=1), "uplift": effect.max(axis=1)}, index=X.index)

    # ------------------------------------------------------------------ persistence
    def _sub_models(self) -> dict[str, ResponseModel]:
        """Every fitted model by folder: ``outcome-<i>`` per arm (control first), ``tau0-<i>``, ``tau1-<i>``."""
        arms = [self.control_, *self.arms_]
        models = {f"outcome-{i}": self.outcome_models_[arm] for i, arm in enumerate(arms)}
        for i, arm in enumerate(self.arms_, start=1):
            for name, model in zip(("tau0", "tau1"), getattr(self, "effect_models_", {}).get(arm, ()), strict=False):
                models[f"{name}-{i}"] = model
        return models

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to a directory: ``uplift.json`` (learner, arms, shares) and one model directory per fitted model.

        Arms must be JSON values (strings or numbers). The directory is written next to ``path`` and renamed into
        place, so a crash never leaves a half-written learner.
        """
        self._check_fitted()
        arms = [self.control_, *self.arms_]
        for arm in arms:
            if not isinstance(arm, (str, int, float, bool)):
                raise DataError(f"cannot save arm {arm!r}: arms must be strings or numbers", column="treatment")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            for name, model in self._sub_models().items():
                model.save(staging / name)
            head = {
                "kind": self.kind,
                "model": self.model,
                "config": self.config.to_dict(),
                "control": _plain(self.control_),
                "arms": [_plain(a) for a in self.arms_],
                "shares": [self.shares_[a] for a in arms],
            }
            (staging / UPLIFT_FILE).write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load a learner saved by :meth:`save` (no training data needed)."""
        root = Path(path)
        head_file = root / UPLIFT_FILE
        if not head_file.is_file():
            raise DataError(f"not an uplift model directory (no {UPLIFT_FILE})", file=str(root))
        try:
            head = json.loads(head_file.read_text(encoding="utf-8"))
            kind, control, treated = head["kind"], head["control"], list(head["arms"])
            shares = dict(zip([control, *treated], head["shares"], strict=True))
            learner = cls(head["model"], ResponseConfig.from_dict(head["config"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"corrupt uplift model description: {exc}", file=str(head_file)) from None
        if kind != cls.kind:
            raise DataError(f"holds a {kind!r}, not a {cls.kind!r}", file=str(head_file))
        learner.control_, learner.arms_, learner.shares_ = control, treated, shares
        model_cls = CLASSIFIERS.get(learner.model)
        learner.outcome_models_ = {
            arm: model_cls.load(root / f"outcome-{i}") for i, arm in enumerate([control, *treated])
        }
        learner._load_effects(root, model_cls)
        return learner

    def _load_effects(self, root: Path, model_cls: type[ResponseModel]) -> None:
        """Second-stage models (none for the T-learner)."""


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_uplift_learner(path: str | os.PathLike[str]) -> TLearner:
    """Load a :class:`TLearner` or :class:`XLearner` saved with ``save``, whichever it is."""
    head_file = Path(path) / UPLIFT_FILE
    if not head_file.is_file():
        raise DataError(f"not an uplift model directory (no {UPLIFT_FILE})", file=str(path))
    try:
        kind = json.loads(head_file.read_text(encoding="utf-8")).get("kind")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise DataError(f"corrupt uplift model description: {exc}", file=str(head_file)) from None
    for cls in (TLearner, XLearner):
        if cls.kind == kind:
            return cls.load(path)
    raise DataError(f"unknown uplift learner kind {kind!r}; expected 't-learner' or 'x-learner'", file=str(head_file))


class XLearner(TLearner):
    """The X-learner (Künzel et al. 2019): T-learner outcome models, then effect models on imputed effects.

    For each treated arm ``a``: ``D_1 = y - mu_control(x)`` on the arm's rows and ``D_0 = mu_a(x) - y`` on the
    control rows are regressed on ``x`` (the same architecture with a squared-error objective), and the effect is
    ``g * tau_0(x) + (1 - g) * tau_1(x)`` with ``g`` the arm's share of the arm + control rows.
    """

    kind: ClassVar[str] = "x-learner"
    effect_models_: dict[Any, tuple[ResponseModel, ResponseModel]]

    def _load_effects(self, root: Path, model_cls: type[ResponseModel]) -> None:
        self.effect_models_ = {
            arm: (model_cls.load(root / f"tau0-{i}"), model_cls.load(root / f"tau1-{i}"))
            for i, arm in enumerate(self.arms_, start=1)
        }

    def _fit_effects(self, X: pd.DataFrame, y: np.ndarray, arms: np.ndarray) -> None:
        control = self.control_
        control_rows = arms == control
        mu_control = self.outcome_models_[control]
        self.effect_models_ = {}
        for arm in self.arms_:
            rows = arms == arm
            imputed_treated = y[rows] - mu_control.predict_proba(X[rows])
            imputed_control = self.outcome_models_[arm].predict_proba(X[control_rows]) - y[control_rows]
            tau1 = self._new_model("regression").fit(X[rows], imputed_treated)
            tau0 = self._new_model("regression").fit(X[control_rows], imputed_control)
            self.effect_models_[arm] = (tau0, tau1)

    def predict_effect(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted()
        if not hasattr(self, "effect_models_"):
            raise ConfigError("XLearner has no effect models")
        out = {}
        for arm in self.arms_:
            tau0, tau1 = self.effect_models_[arm]
            g = self.shares_[arm] / (self.shares_[arm] + self.shares_[self.control_])
            out[arm] = g * tau0.predict(X) + (1.0 - g) * tau1.predict(X)
        return pd.DataFrame(out, index=X.index)
