"""A logistic credit scorecard on weight-of-evidence (WOE) bins: binning, IV selection, points and reason codes.

Conventions used throughout: the label is 1 for a bad (a default) and 0 for a good. The WOE of a bin is
``ln(share of all goods in the bin / share of all bads in the bin)``, so a positive WOE marks a bin safer than the
average applicant and a negative one riskier. Scores are points, higher meaning safer.

- :class:`WOEBinner` bins every feature on the training rows only -- numeric features into monotone intervals,
  categorical ones into frequent categories plus ``other`` -- with a ``missing`` bin each, and maps values to WOE.
- :class:`LogisticScorecard` keeps the features whose information value (IV) reaches ``min_iv``, fits a logistic
  regression of the default on their WOE, and turns it into points with the usual points-to-double-odds scaling.

References
----------
Siddiqi, N. (2017). *Intelligent Credit Scoring*, 2nd ed., Wiley -- WOE, IV and the PDO scaling.
Anderson, R. (2007). *The Credit Scoring Toolkit*, Oxford University Press -- the "points lost" reason codes.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression

from deeptarget.config import Config
from deeptarget.data.tabular import _category_keys, _numeric_text, _numeric_values
from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.evaluation.classification import roc_auc
from deeptarget.models.ctr.response import _labels
from deeptarget.persistence import read_model_dir, write_model_dir
from deeptarget.registry import CLASSIFIERS

__all__ = ["FeatureBins", "LogisticScorecard", "ScorecardConfig", "WOEBinner"]

logger = logging.getLogger(__name__)

#: added to the good and the bad count of every populated bin before the WOE: an empty class never gives +-inf
SMOOTHING = 0.5
MISSING = "missing"
OTHER = "other"

Direction = Literal["auto", "increasing", "decreasing", "none"]
_DIRECTIONS: tuple[str, ...] = ("auto", "increasing", "decreasing", "none")


# ---------------------------------------------------------------------------------------------------- binning
def _woe(counts: np.ndarray, bads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WOE and IV contribution of each bin; empty bins get 0 and 0 (scored as the average applicant)."""
    populated = counts > 0
    goods = np.where(populated, counts - bads + SMOOTHING, 0.0)
    smoothed_bads = np.where(populated, bads + SMOOTHING, 0.0)
    good_share = goods / goods.sum()
    bad_share = smoothed_bads / smoothed_bads.sum()
    woe = np.zeros(len(counts))
    woe[populated] = np.log(good_share[populated] / bad_share[populated])
    return woe, (good_share - bad_share) * woe


@dataclasses.dataclass(frozen=True)
class FeatureBins:
    """The fitted bins of one feature.

    Bin layout (the positions that :meth:`bin_index` returns): a numeric feature has ``len(edges) + 1`` intervals
    ``[-inf, e0), [e0, e1), ..., [e_last, inf)`` then ``missing``; a categorical one has one bin per entry of
    ``categories``, then ``other`` (rare and unseen categories), then ``missing``. ``missing`` and ``other`` always
    exist; when no training row fell in them they are empty with WOE 0.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    labels: tuple[str, ...]
    counts: tuple[int, ...]
    bads: tuple[int, ...]
    woe: tuple[float, ...]
    iv_contributions: tuple[float, ...]
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    direction: Literal["increasing", "decreasing", "none"] = "none"

    @property
    def iv(self) -> float:
        """Information value: ``sum((good share - bad share) * WOE)`` over the bins (smoothed shares)."""
        return float(sum(self.iv_contributions))

    @property
    def n_bins(self) -> int:
        return len(self.labels)

    def bin_index(self, values: pd.Series) -> np.ndarray:
        """The bin position of each value (``int64``); missing -> ``missing``, unseen categories -> ``other``."""
        missing_bin = self.n_bins - 1
        if self.kind == "numeric":
            numbers, missing = _numeric_values(values, self.name)
            index = np.searchsorted(np.asarray(self.edges, dtype=np.float64), numbers, side="right")
        else:
            keys, missing = _category_keys(values)
            index = pd.Index(self.categories, dtype=object).get_indexer(pd.Index(keys, dtype=object))
            index[index < 0] = len(self.categories)  # other
        index = np.asarray(index, dtype=np.int64)
        index[missing] = missing_bin
        return index

    def with_counts(self, index: np.ndarray, labels: np.ndarray) -> FeatureBins:
        """These bins with counts, WOE and IV computed from training bin positions and 0/1 labels."""
        counts = np.bincount(index, minlength=self.n_bins)
        bads = np.rint(np.bincount(index, weights=labels, minlength=self.n_bins)).astype(np.int64)
        woe, contributions = _woe(counts, bads)
        return dataclasses.replace(
            self,
            counts=tuple(int(c) for c in counts),
            bads=tuple(int(b) for b in bads),
            woe=tuple(float(w) for w in woe),
            iv_contributions=tuple(float(c) for c in contributions),
        )

    def to_dict(self) -> dict[str, Any]:
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureBins:
        try:
            return cls(
                name=str(data["name"]),
                kind=data["kind"],
                labels=tuple(str(v) for v in data["labels"]),
                counts=tuple(int(v) for v in data["counts"]),
                bads=tuple(int(v) for v in data["bads"]),
                woe=tuple(float(v) for v in data["woe"]),
                iv_contributions=tuple(float(v) for v in data["iv_contributions"]),
                edges=tuple(float(v) for v in data.get("edges", ())),
                categories=tuple(str(v) for v in data.get("categories", ())),
                direction=data.get("direction", "none"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed bins of feature {data.get('name')!r}: {exc!r}") from None


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _interval_labels(edges: Sequence[float]) -> list[str]:
    bounds = ["-inf", *(repr(float(e)) for e in edges), "inf"]
    return [f"[{low}, {high})" for low, high in itertools.pairwise(bounds)]


def _merge(edges: list[float], counts: list[int], bads: list[float], i: int) -> None:
    """Merge interval ``i`` with interval ``i + 1`` in place."""
    counts[i] += counts.pop(i + 1)
    bads[i] += bads.pop(i + 1)
    del edges[i]


def _merge_small_or_pure(edges: list[float], counts: list[int], bads: list[float], min_count: float) -> None:
    """Merge until every interval has ``min_count`` rows and both goods and bads: the smallest offending interval
    joins the neighbour whose bad rate is closest."""
    while len(counts) > 1:
        offending = [i for i, (c, b) in enumerate(zip(counts, bads, strict=True)) if c < min_count or b in (0, c)]
        if not offending:
            return
        i = min(offending, key=lambda j: (counts[j], j))
        if i == 0 or i == len(counts) - 1:
            _merge(edges, counts, bads, 0 if i == 0 else i - 1)
            continue
        rate = [b / c for b, c in zip(bads, counts, strict=True)]
        left_closer = abs(rate[i] - rate[i - 1]) <= abs(rate[i] - rate[i + 1])
        _merge(edges, counts, bads, i - 1 if left_closer else i)


def _merge_to_monotone(edges: list[float], counts: list[int], bads: list[float], increasing: bool) -> None:
    """Pool adjacent violators until the bad rate strictly rises (falls) from interval to interval.

    Merging two adjacent intervals of a monotone sequence keeps it monotone, so the size rule still holds after.
    """
    sign = 1.0 if increasing else -1.0
    while len(counts) > 1:
        rates = np.asarray(bads) / np.asarray(counts)
        violations = np.flatnonzero(sign * np.diff(rates) <= 0)
        if not violations.size:
            return
        _merge(edges, counts, bads, int(violations[0]))


def _auto_direction(numbers: np.ndarray, labels: np.ndarray) -> Literal["increasing", "decreasing"]:
    """The sign of the Spearman correlation between the values and the bad flag (ties: increasing)."""
    ranks = rankdata(numbers)
    if numbers.size < 2 or ranks.std() == 0 or labels.std() == 0:
        return "increasing"
    return "increasing" if float(np.corrcoef(ranks, labels)[0, 1]) >= 0 else "decreasing"


def _check_frame(X: Any, features: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"{what}: X must be a pandas DataFrame, got {type(X).__name__}")
    absent = [f for f in features if f not in X.columns]
    if absent:
        present = [str(c) for c in X.columns[:30]]
        raise DataError(f"{what}: feature not in X; columns present: {present}", column=absent[0])
    if not X.columns.is_unique:
        repeated = sorted({str(c) for c in X.columns[X.columns.duplicated()]} & set(features))
        if repeated:
            raise DataError(f"{what}: appears more than once in X", column=repeated[0])
    return X


class WOEBinner:
    """Weight-of-evidence binning of every column of a frame, fitted on the training rows only.

    Label 1 = bad (default), 0 = good. ``WOE = ln(good share / bad share)`` of a bin, the counts smoothed by
    +0.5 goods and +0.5 bads in every populated bin: a positive WOE is safer than average. The IV of a feature is
    ``sum((good share - bad share) * WOE)`` over its bins (0.02 weak, 0.1 medium, 0.3 strong, by custom).

    Numeric columns (numbers, or text of numbers) are pre-binned at up to ``max_prebins`` quantiles of the training
    values; adjacent bins are then merged until every bin holds at least ``min_bin_share`` of the rows and both
    goods and bads, and until the bad rate is strictly monotone. The direction is per feature: ``increasing``
    (the bad rate rises with the value), ``decreasing``, ``none`` (no monotone merging) or ``auto`` (the sign of the
    Spearman correlation of the value with the label). Categorical columns get one bin per category holding at
    least ``min_bin_share`` of the rows; rarer categories share the ``other`` bin. Every feature has a ``missing``
    bin (NaN, None, blank, +-inf); a bin with no training row (say ``missing`` with no missing value in training,
    or an unseen category with no ``other`` rows) has WOE 0: such values are scored as the average applicant,
    never rejected.

    Parameters
    ----------
    max_prebins
        Quantile bins of a numeric feature before merging.
    min_bin_share
        Least share of the training rows in a numeric interval or a category of its own.
    monotonic
        Direction per numeric feature (``increasing``, ``decreasing``, ``none`` or ``auto``).
    default_direction
        The direction of the numeric features ``monotonic`` does not name.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"late": rng.integers(0, 5, 2000), "city": rng.choice(["a", "b", "c"], 2000)})
    >>> y = (rng.random(2000) < 0.05 + 0.08 * X["late"]).astype(int)
    >>> binner = WOEBinner().fit(X, y)
    >>> binner.table("late")[["bin", "count", "bads"]]
               bin  count  bads
    0  [-inf, 1.0)    381    14
    1   [1.0, 2.0)    379    47
    2   [2.0, 3.0)    416    99
    3   [3.0, 4.0)    405   113
    4   [4.0, inf)    419   164
    5      missing      0     0
    >>> binner.table("late")["woe"].iloc[:-1].is_monotonic_decreasing  # more late payments, riskier
    True
    >>> round(binner.iv_["late"], 2), round(binner.iv_["city"], 4)
    (0.67, 0.0002)
    >>> binner.bin_labels(pd.DataFrame({"late": [None], "city": ["zz"]})).iloc[0].tolist()
    ['missing', 'other']
    """

    def __init__(
        self,
        *,
        max_prebins: int = 20,
        min_bin_share: float = 0.05,
        monotonic: Mapping[str, Direction] | None = None,
        default_direction: Literal["auto", "none"] = "auto",
    ) -> None:
        self.max_prebins = max_prebins
        self.min_bin_share = min_bin_share
        self.monotonic: dict[str, Direction] = dict(monotonic or {})
        self.default_direction = default_direction
        if max_prebins < 2:
            raise ConfigError(f"WOEBinner.max_prebins must be >= 2, got {max_prebins}")
        if not 0.0 < min_bin_share <= 0.5:
            raise ConfigError(f"WOEBinner.min_bin_share must be in (0, 0.5], got {min_bin_share}")
        wrong = {k: v for k, v in self.monotonic.items() if v not in _DIRECTIONS}
        if wrong:
            raise ConfigError(f"WOEBinner.monotonic: directions must be one of {list(_DIRECTIONS)}, got {wrong}")
        if default_direction not in ("auto", "none"):
            raise ConfigError(f"WOEBinner.default_direction must be 'auto' or 'none', got {default_direction!r}")

    def __repr__(self) -> str:
        return (
            f"WOEBinner(max_prebins={self.max_prebins}, min_bin_share={self.min_bin_share}, "
            f"monotonic={self.monotonic}, default_direction={self.default_direction!r})"
        )

    # ------------------------------------------------------------------ fitting
    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | str) -> Self:
        """Bin every column of ``X`` on these rows; ``y`` holds 0/1 labels (1 = bad) or names a column of ``X``."""
        labels, X = _labels(y, X, "WOEBinner.fit")
        if len(X) == 0 or X.shape[1] == 0:
            raise DataError(f"WOEBinner.fit: no training rows or no feature (shape {X.shape})")
        if labels.min() == labels.max():
            raise DataError(f"WOEBinner.fit: every training label is {int(labels[0])}", column="y")
        X = _check_frame(X, [str(c) for c in X.columns], "WOEBinner.fit")
        unknown = sorted(set(self.monotonic) - {str(c) for c in X.columns})
        if unknown:
            raise ConfigError(f"WOEBinner.monotonic names {unknown}, not columns of X")
        min_count = self.min_bin_share * len(X) - 1e-9
        bins: dict[str, FeatureBins] = {}
        for column in X.columns:
            name, values = str(column), X[column]
            if pd.api.types.is_datetime64_any_dtype(values.dtype) or pd.api.types.is_timedelta64_dtype(values.dtype):
                logger.info("WOEBinner: column %r skipped (%s values are not binned)", name, values.dtype)
                continue
            numeric = (
                pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
            ) or _numeric_text(values)
            if numeric:
                bins[name] = self._fit_numeric(name, values, labels, min_count)
            else:
                if self.monotonic.get(name, "none") in ("increasing", "decreasing"):
                    raise ConfigError(f"WOEBinner.monotonic: {name!r} is categorical; only numbers can be monotone")
                bins[name] = self._fit_categorical(name, values, labels, min_count)
        self.bins_ = bins
        return self

    def _fit_numeric(self, name: str, values: pd.Series, labels: np.ndarray, min_count: float) -> FeatureBins:
        numbers, missing = _numeric_values(values, name)
        observed, observed_labels = numbers[~missing], labels[~missing]
        if observed.size:
            # "lower" quantiles are observed values: readable edges, and no edge below the minimum (empty bin)
            probabilities = np.linspace(0.0, 1.0, self.max_prebins + 1)[1:-1]
            quantiles = np.unique(np.quantile(observed, probabilities, method="lower"))
            edge_array = quantiles[quantiles > observed.min()]
        else:
            edge_array = np.zeros(0)
        index = np.searchsorted(edge_array, observed, side="right")
        edges = [float(e) for e in edge_array]
        counts = [int(c) for c in np.bincount(index, minlength=len(edges) + 1)]
        bads = [float(b) for b in np.bincount(index, weights=observed_labels, minlength=len(edges) + 1)]
        requested = self.monotonic.get(name, self.default_direction)
        direction: Literal["increasing", "decreasing", "none"] = (
            _auto_direction(observed, observed_labels) if requested == "auto" else requested
        )
        if observed.size:
            _merge_small_or_pure(edges, counts, bads, min_count)
            if direction != "none":
                _merge_to_monotone(edges, counts, bads, increasing=direction == "increasing")
        skeleton = FeatureBins(
            name=name,
            kind="numeric",
            labels=(*_interval_labels(edges), MISSING),
            counts=(),
            bads=(),
            woe=(),
            iv_contributions=(),
            edges=tuple(edges),
            direction=direction,
        )
        return skeleton.with_counts(skeleton.bin_index(values), labels)

    def _fit_categorical(self, name: str, values: pd.Series, labels: np.ndarray, min_count: float) -> FeatureBins:
        keys, missing = _category_keys(values)
        categories, counts = np.unique(keys[~missing].astype(str), return_counts=True)
        frequent = tuple(str(c) for c in categories[counts >= min_count])
        skeleton = FeatureBins(
            name=name,
            kind="categorical",
            labels=(*frequent, OTHER, MISSING),
            counts=(),
            bads=(),
            woe=(),
            iv_contributions=(),
            categories=frequent,
        )
        return skeleton.with_counts(skeleton.bin_index(values), labels)

    # ------------------------------------------------------------------ transforming
    def _check_fitted(self) -> None:
        if not hasattr(self, "bins_"):
            raise NotFittedError("WOEBinner is not fitted; call fit() first")

    @property
    def features_(self) -> tuple[str, ...]:
        """The binned features, in the training frame's order."""
        self._check_fitted()
        return tuple(self.bins_)

    @property
    def iv_(self) -> dict[str, float]:
        """Information value of each binned feature."""
        self._check_fitted()
        return {name: bins.iv for name, bins in self.bins_.items()}

    def _features(self, features: Sequence[str] | None) -> list[str]:
        self._check_fitted()
        chosen = list(self.bins_) if features is None else list(features)
        unknown = [f for f in chosen if f not in self.bins_]
        if unknown:
            raise DataError(f"not a binned feature; binned: {list(self.bins_)}", column=unknown[0])
        return chosen

    def bin_indices(self, X: pd.DataFrame, features: Sequence[str] | None = None) -> np.ndarray:
        """Bin positions, shape ``(n_rows, n_features)`` (see :class:`FeatureBins` for the layout)."""
        chosen = self._features(features)
        X = _check_frame(X, chosen, "WOEBinner.transform")
        out = np.zeros((len(X), len(chosen)), dtype=np.int64)
        for j, name in enumerate(chosen):
            out[:, j] = self.bins_[name].bin_index(X[name])
        return out

    def transform(self, X: pd.DataFrame, features: Sequence[str] | None = None) -> pd.DataFrame:
        """The WOE of each value: a float frame with one column per feature (all binned ones by default)."""
        chosen = self._features(features)
        index = self.bin_indices(X, chosen)
        woe = {name: np.asarray(self.bins_[name].woe)[index[:, j]] for j, name in enumerate(chosen)}
        return pd.DataFrame(woe, index=X.index, columns=chosen, dtype=np.float64)

    def bin_labels(self, X: pd.DataFrame, features: Sequence[str] | None = None) -> pd.DataFrame:
        """The label of each value's bin (``"[25.0, 40.0)"``, a category, ``"other"``, ``"missing"``)."""
        chosen = self._features(features)
        index = self.bin_indices(X, chosen)
        labels = {name: np.asarray(self.bins_[name].labels, dtype=object)[index[:, j]] for j, name in enumerate(chosen)}
        return pd.DataFrame(labels, index=X.index, columns=chosen)

    def table(self, feature: str) -> pd.DataFrame:
        """The bins of ``feature``: ``bin, count, bads, bad_rate, woe, iv_contribution`` (bad rate NaN when empty)."""
        bins = self.bins_[self._features([feature])[0]]
        counts = np.asarray(bins.counts, dtype=np.int64)
        bads = np.asarray(bins.bads, dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            bad_rate = np.where(counts > 0, bads / np.maximum(counts, 1), np.nan)
        return pd.DataFrame(
            {
                "bin": list(bins.labels),
                "count": counts,
                "bads": bads,
                "bad_rate": bad_rate,
                "woe": np.asarray(bins.woe, dtype=np.float64),
                "iv_contribution": np.asarray(bins.iv_contributions, dtype=np.float64),
            }
        )

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """Parameters and fitted bins as plain JSON-serialisable data."""
        out: dict[str, Any] = {
            "max_prebins": self.max_prebins,
            "min_bin_share": self.min_bin_share,
            "monotonic": dict(self.monotonic),
            "default_direction": self.default_direction,
        }
        if hasattr(self, "bins_"):
            out["bins"] = [bins.to_dict() for bins in self.bins_.values()]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WOEBinner:
        """Rebuild a binner written by :meth:`to_dict`."""
        binner = cls(
            max_prebins=int(data.get("max_prebins", 20)),
            min_bin_share=float(data.get("min_bin_share", 0.05)),
            monotonic=data.get("monotonic") or {},
            default_direction=data.get("default_direction", "auto"),
        )
        if "bins" in data:
            fitted = [FeatureBins.from_dict(item) for item in data["bins"]]
            binner.bins_ = {bins.name: bins for bins in fitted}
        return binner


# ---------------------------------------------------------------------------------------------------- scorecard
@dataclasses.dataclass(frozen=True, kw_only=True)
class ScorecardConfig(Config):
    """Configuration of :class:`LogisticScorecard`.

    Attributes
    ----------
    max_prebins, min_bin_share
        Binning (:class:`WOEBinner`): quantile pre-bins of a numeric feature; least share of the training rows in
        a bin (an interval, or a category of its own).
    min_iv
        Features whose information value is below this are dropped (logged); 0.02 is the customary "useless" line.
    monotone_increasing, monotone_decreasing
        Numeric features whose bad rate must rise (fall) with the value.
    not_monotone
        Numeric features binned without a monotone constraint.
    monotone_default
        The other numeric features: ``auto`` (the direction of their Spearman correlation with the default) or
        ``none``.
    C
        Inverse L2 strength of the logistic regression (scikit-learn's ``C``).
    max_iter
        Iterations of the logistic regression's solver.
    pdo, base_score, base_odds
        Scaling: ``base_score`` points at good:bad odds of ``base_odds``, ``pdo`` more points each time the odds
        double.

    Examples
    --------
    >>> ScorecardConfig(monotone_increasing=("late_payments",)).monotonic
    {'late_payments': 'increasing'}
    >>> ScorecardConfig(pdo=0)
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: ScorecardConfig.pdo must be > 0, got 0
    """

    max_prebins: int = 20
    min_bin_share: float = 0.05
    min_iv: float = 0.02
    monotone_increasing: tuple[str, ...] = ()
    monotone_decreasing: tuple[str, ...] = ()
    not_monotone: tuple[str, ...] = ()
    monotone_default: Literal["auto", "none"] = "auto"
    C: float = 1.0
    max_iter: int = 1000
    pdo: float = 20.0
    base_score: float = 600.0
    base_odds: float = 50.0

    def validate(self) -> None:
        if self.max_prebins < 2:
            raise ConfigError(f"ScorecardConfig.max_prebins must be >= 2, got {self.max_prebins}")
        if not 0.0 < self.min_bin_share <= 0.5:
            raise ConfigError(f"ScorecardConfig.min_bin_share must be in (0, 0.5], got {self.min_bin_share}")
        if not self.min_iv >= 0.0:
            raise ConfigError(f"ScorecardConfig.min_iv must be >= 0, got {self.min_iv}")
        lists = {
            "monotone_increasing": self.monotone_increasing,
            "monotone_decreasing": self.monotone_decreasing,
            "not_monotone": self.not_monotone,
        }
        names = [(name, field) for field, values in lists.items() for name in values]
        seen: dict[str, str] = {}
        for name, field in names:
            if name in seen:
                raise ConfigError(f"ScorecardConfig: feature {name!r} is in both {seen[name]} and {field}")
            seen[name] = field
        if self.monotone_default not in ("auto", "none"):
            raise ConfigError(
                f"ScorecardConfig.monotone_default must be 'auto' or 'none', got {self.monotone_default!r}"
            )
        if not self.C > 0.0:
            raise ConfigError(f"ScorecardConfig.C must be > 0 (inverse L2 strength), got {self.C}")
        if self.max_iter < 1:
            raise ConfigError(f"ScorecardConfig.max_iter must be >= 1, got {self.max_iter}")
        if not (self.pdo > 0.0 and math.isfinite(self.pdo)):
            raise ConfigError(f"ScorecardConfig.pdo must be > 0, got {self.pdo}")
        if not (self.base_odds > 0.0 and math.isfinite(self.base_odds)):
            raise ConfigError(f"ScorecardConfig.base_odds must be > 0 (good:bad odds), got {self.base_odds}")
        if not math.isfinite(self.base_score):
            raise ConfigError(f"ScorecardConfig.base_score must be finite, got {self.base_score}")

    @property
    def monotonic(self) -> dict[str, Direction]:
        """The per-feature directions for :class:`WOEBinner`."""
        out: dict[str, Direction] = {}
        out.update(dict.fromkeys(self.monotone_increasing, "increasing"))
        out.update(dict.fromkeys(self.monotone_decreasing, "decreasing"))
        out.update(dict.fromkeys(self.not_monotone, "none"))
        return out


@CLASSIFIERS.register("scorecard")
class LogisticScorecard:
    """A points scorecard: WOE bins, features selected by IV, a logistic regression, PDO scaling.

    Label 1 = bad (default). ``predict_proba`` is the probability of default (PD); ``score`` is
    ``offset + factor * ln(good:bad odds)`` with ``factor = pdo / ln 2`` and
    ``offset = base_score - factor * ln(base_odds)``, so ``base_score`` points mean odds of ``base_odds`` and every
    ``pdo`` points double the odds; higher is safer. With the logit ``b0 + sum_j b_j * WOE_j`` of the PD, a bin of
    feature ``j`` is worth ``-factor * b_j * WOE + (offset - factor * b0) / m`` points: the intercept's points are
    spread evenly over the ``m`` selected features, so an applicant's bin points add up to their score exactly
    (points are not rounded). Coefficients are normally negative (a safer bin, a lower PD); a positive one (a
    collinear feature) is logged as a warning.

    Learned state: ``binner_``, ``features_`` (the selected features), ``coef_``, ``intercept_``, ``fit_seconds_``
    and ``valid_auc_`` (``None`` without validation rows).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"late": rng.integers(0, 5, 2000), "noise": rng.normal(size=2000)})
    >>> y = (rng.random(2000) < 0.05 + 0.08 * X["late"]).astype(int)
    >>> model = LogisticScorecard().fit(X, y)
    >>> model.features_
    ('late',)
    >>> scores = model.score(pd.DataFrame({"late": [0, 4], "noise": [0.0, 0.0]}))
    >>> bool(scores[0] > scores[1])
    True
    """

    model_type: ClassVar[str] = "scorecard"
    config_class: ClassVar[type[ScorecardConfig]] = ScorecardConfig

    def __init__(self, config: ScorecardConfig | None = None) -> None:
        if config is not None and not isinstance(config, ScorecardConfig):
            raise ConfigError(f"{type(self).__name__} takes a ScorecardConfig, got {type(config).__name__}")
        self.config = config or self.config_class()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: pd.DataFrame,
        y: npt.ArrayLike | str,
        valid: tuple[pd.DataFrame, npt.ArrayLike | str] | None = None,
    ) -> Self:
        """Fit on ``X`` (features) and ``y`` (0/1 labels, 1 = default, or the name of a label column of ``X``).

        ``valid = (X_valid, y_valid)`` is only scored: its AUC is logged and kept in ``valid_auc_``.
        """
        start = time.perf_counter()
        name = type(self).__name__
        labels, X = _labels(y, X, f"{name}.fit")
        if len(X) == 0:
            raise DataError(f"{name}.fit: no training rows")
        if labels.min() == labels.max():
            raise DataError(f"{name}.fit: every training label is {int(labels[0])}", column="y")
        cfg = self.config
        binner = WOEBinner(
            max_prebins=cfg.max_prebins,
            min_bin_share=cfg.min_bin_share,
            monotonic=cfg.monotonic,
            default_direction=cfg.monotone_default,
        ).fit(X, labels)
        iv = binner.iv_
        features = tuple(f for f in binner.features_ if iv[f] >= cfg.min_iv)
        dropped = {f: round(v, 4) for f, v in iv.items() if f not in features}
        if dropped:
            logger.info("%s: dropped %d feature(s) with IV < %g: %s", name, len(dropped), cfg.min_iv, dropped)
        if not features:
            best = max(iv, key=lambda f: iv[f]) if iv else None
            detail = f"; the highest is {best!r} ({iv[best]:.4f})" if best is not None else ""
            raise DataError(f"{name}.fit: no feature has an information value >= min_iv={cfg.min_iv}{detail}")
        woe = binner.transform(X, features).to_numpy()
        regression = LogisticRegression(C=cfg.C, max_iter=cfg.max_iter)
        regression.fit(woe, labels.astype(np.int64))
        self.binner_ = binner
        self.features_: tuple[str, ...] = features
        self.coef_: np.ndarray = np.asarray(regression.coef_[0], dtype=np.float64)
        self.intercept_ = float(regression.intercept_[0])
        reversed_signs = [f for f, c in zip(features, self.coef_, strict=True) if c > 0]
        if reversed_signs:
            logger.warning(
                "%s: positive WOE coefficient for %s: their points contradict their WOE (collinear features?)",
                name,
                reversed_signs,
            )
        self.valid_auc_: float | None = None
        if valid is not None:
            valid_labels, valid_X = _labels(valid[1], valid[0], f"{name}.fit(valid)")
            if valid_labels.min() == valid_labels.max():
                logger.warning("%s: validation labels are all %d: no AUC", name, int(valid_labels[0]))
            else:
                self.valid_auc_ = roc_auc(valid_labels, self.predict_proba(valid_X))
                logger.info("%s: validation AUC %.4f", name, self.valid_auc_)
        self.fit_seconds_ = time.perf_counter() - start
        logger.info("%s fitted on %d features in %.2fs", name, len(features), self.fit_seconds_)
        return self

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "binner_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    @property
    def factor(self) -> float:
        """Points per unit of log-odds: ``pdo / ln 2``."""
        return self.config.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """The score at even odds: ``base_score - factor * ln(base_odds)``."""
        return self.config.base_score - self.factor * math.log(self.config.base_odds)

    def _woe(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        _check_frame(X, self.features_, f"{type(self).__name__}.predict")
        return self.binner_.transform(X, self.features_).to_numpy()

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The log-odds of default ``b0 + sum_j b_j * WOE_j``, shape ``(n_rows,)``."""
        woe = self._woe(X)  # checks fitted first
        return np.asarray(self.intercept_ + woe @ self.coef_, dtype=np.float64)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of default of each row of ``X``, shape ``(n_rows,)``.

        Missing values and unseen categories are scored, never rejected; a missing feature column raises
        :class:`~deeptarget.errors.DataError` naming it.
        """
        return np.asarray(expit(self.decision_function(X)), dtype=np.float64)

    def predict(self, X: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """0/1 predictions ``predict_proba(X) >= threshold``."""
        return (self.predict_proba(X) >= threshold).astype(np.int8)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Points of each row (higher = safer): ``offset - factor * logit(PD)``."""
        return self.offset - self.factor * self.decision_function(X)

    def score_from_proba(self, proba: npt.ArrayLike) -> np.ndarray:
        """Points of probabilities of default: ``offset + factor * ln((1 - PD) / PD)`` (needs no fitting).

        Examples
        --------
        >>> LogisticScorecard().score_from_proba([1 / 51, 1 / 101]).round(6).tolist()  # odds 50:1, then doubled
        [600.0, 620.0]
        """
        pd_ = np.asarray(proba, dtype=np.float64)
        bad = ~((pd_ > 0.0) & (pd_ < 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad.ravel())[0])
            raise DataError("probabilities of default must be in (0, 1)", column="proba", row={row: pd_.flat[row]})
        return np.asarray(self.offset + self.factor * (np.log1p(-pd_) - np.log(pd_)), dtype=np.float64)

    def _bin_points(self) -> list[np.ndarray]:
        """Points of every bin, one array per selected feature."""
        base = (self.offset - self.factor * self.intercept_) / len(self.features_)
        return [
            base - self.factor * coef * np.asarray(self.binner_.bins_[name].woe)
            for name, coef in zip(self.features_, self.coef_, strict=True)
        ]

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each row's points per selected feature; a row's points add up to its :meth:`score`."""
        self._check_fitted()
        _check_frame(X, self.features_, f"{type(self).__name__}.points")
        index = self.binner_.bin_indices(X, self.features_)
        table = self._bin_points()
        columns = {name: table[j][index[:, j]] for j, name in enumerate(self.features_)}
        return pd.DataFrame(columns, index=X.index, columns=list(self.features_), dtype=np.float64)

    def points_table(self) -> pd.DataFrame:
        """The scorecard: ``feature, bin, woe, points`` for every bin of every selected feature."""
        self._check_fitted()
        rows: dict[str, list[Any]] = {"feature": [], "bin": [], "woe": [], "points": []}
        for name, points in zip(self.features_, self._bin_points(), strict=True):
            bins = self.binner_.bins_[name]
            rows["feature"] += [name] * bins.n_bins
            rows["bin"] += list(bins.labels)
            rows["woe"] += list(bins.woe)
            rows["points"] += [float(p) for p in points]
        return pd.DataFrame(rows)

    def reason_codes(self, X: pd.DataFrame, n: int = 4) -> pd.DataFrame:
        """The ``n`` features that cost each applicant most points (``reason_1`` first), and the points lost.

        A feature's loss is the most points any of its bins gives minus the applicant's points for it (the
        "points lost" method). Features that lost nothing are never reasons (empty string, 0 points lost).
        """
        if n < 1:
            raise ConfigError(f"reason_codes: n must be >= 1, got {n}")
        points = self.points(X)
        best = np.array([p.max() for p in self._bin_points()])
        lost = np.maximum(best[None, :] - points.to_numpy(), 0.0)
        names = np.asarray(self.features_, dtype=object)
        k = min(n, len(names))
        order = np.argsort(-lost, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(lost, order, axis=1)
        is_reason = top > 1e-9
        result: dict[str, np.ndarray] = {}
        for i in range(n):
            if i < k:
                result[f"reason_{i + 1}"] = np.where(is_reason[:, i], names[order[:, i]], "").astype(object)
                result[f"points_lost_{i + 1}"] = np.where(is_reason[:, i], top[:, i], 0.0)
            else:
                result[f"reason_{i + 1}"] = np.full(len(points), "", dtype=object)
                result[f"points_lost_{i + 1}"] = np.zeros(len(points))
        return pd.DataFrame(result, index=points.index)

    def information_values(self) -> pd.Series:
        """The IV of every binned feature (selected or not), largest first."""
        self._check_fitted()
        iv = pd.Series(self.binner_.iv_, name="iv", dtype=np.float64)
        return iv.sort_values(ascending=False, kind="stable")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to a directory: config and bins as JSON, coefficients as safetensors; returns the directory."""
        self._check_fitted()
        arrays = {"coef": self.coef_, "intercept": np.array([self.intercept_], dtype=np.float64)}
        encoders = {"binner": self.binner_.to_dict(), "features": list(self.features_)}
        meta = {"library": "deeptarget", "fit_seconds": self.fit_seconds_, "valid_auc": self.valid_auc_}
        return write_model_dir(
            path, model_type=self.model_type, config=self.config.to_dict(), arrays=arrays, encoders=encoders, meta=meta
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved by :meth:`save` (no training data needed)."""
        files = read_model_dir(path, model_type=cls.model_type)
        model = cls(cls.config_class.from_dict(files.config))
        try:
            model.binner_ = WOEBinner.from_dict(files.encoders["binner"])
            model.features_ = tuple(str(f) for f in files.encoders["features"])
            model.coef_ = np.asarray(files.arrays["coef"], dtype=np.float64)
            model.intercept_ = float(files.arrays["intercept"][0])
        except KeyError as exc:
            raise DataError(f"model directory is incomplete: missing {exc.args[0]!r}", file=str(path)) from None
        if len(model.coef_) != len(model.features_) or not hasattr(model.binner_, "bins_"):
            raise DataError("model directory is inconsistent: coefficients and features differ", file=str(path))
        model.fit_seconds_ = float(files.meta.get("fit_seconds") or 0.0)
        valid_auc = files.meta.get("valid_auc")
        model.valid_auc_ = None if valid_auc is None else float(cast(float, valid_auc))
        return model
