"""Fairness view of a credit model: the same validation figures per group, and approval-rate disparities.

:func:`age_bands` turns ages into the usual bands; :func:`group_report` gives, per group (age band, sex,
region, ...), its size, default rate, mean PD, AUC and, when the approval decisions are given, the approval rate
and its ratio to the best-treated group's (the adverse impact ratio of the "four-fifths rule": a ratio below 0.8
is the conventional flag of disparate impact).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pandas as pd

from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.classification import _labels_and_probs, roc_auc

__all__ = ["FOUR_FIFTHS", "age_bands", "group_report"]

logger = logging.getLogger(__name__)

ArrayLike = npt.ArrayLike

FOUR_FIFTHS = 0.8
"""Adverse impact ratios below this are the conventional flag of disparate impact (US EEOC guidelines)."""

MISSING = "missing"


def age_bands(age: ArrayLike | Sequence[object], edges: Sequence[int] = (25, 35, 45, 55, 65)) -> pd.Series:
    """Age bands ``"<25"``, ``"25-34"``, ..., ``"65+"``, with ``"missing"`` for a missing age.

    Band ``"a-b"`` holds ``a <= age < b + 1``, so with whole-year edges a fractional age (34.9) falls in the band
    of its completed years.

    Parameters
    ----------
    age
        Ages in years; ``NaN`` or ``None`` for unknown. A pandas Series keeps its index.
    edges
        Strictly increasing whole-year band boundaries; each edge opens a band.

    Returns
    -------
    pandas.Series
        Ordered categorical named ``age_band``, categories from the youngest band to ``"65+"``, then
        ``"missing"``.

    Examples
    --------
    >>> age_bands([18, 25, 34.9, 35, 64, 65, None]).tolist()
    ['<25', '25-34', '25-34', '35-44', '55-64', '65+', 'missing']
    >>> age_bands([30, 50], edges=(40,)).tolist()
    ['<40', '40+']
    """
    bounds = list(edges)
    if (
        not bounds
        or any(isinstance(edge, bool) or not isinstance(edge, int | np.integer) for edge in bounds)
        or any(high <= low for low, high in pairwise(bounds))
    ):
        raise ConfigError(f"age_bands: edges must be strictly increasing whole years, got {edges!r}")
    raw = age if isinstance(age, pd.Series) else pd.Series(np.asarray(age, dtype=object))
    if raw.ndim != 1:
        raise DataError("age_bands: ages must be 1-d", column="age")
    values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    missing = values.isna().to_numpy()
    unreadable = missing & raw.notna().to_numpy()
    if unreadable.any():
        row = int(np.flatnonzero(unreadable)[0])
        raise DataError("age_bands: ages must be numbers", column="age", row={row: raw.iloc[row]})
    labels = [f"<{bounds[0]}"]
    labels += [f"{low}-{high - 1}" for low, high in pairwise(bounds)]
    labels += [f"{bounds[-1]}+", MISSING]
    codes = np.searchsorted(np.asarray(bounds, dtype=np.float64), values.to_numpy(), side="right")
    codes[missing] = len(labels) - 1
    bands = pd.Categorical.from_codes(codes, categories=pd.Index(labels), ordered=True)
    return pd.Series(bands, index=raw.index, name="age_band")


def _group_keys(groups: ArrayLike | pd.Series, n_rows: int) -> pd.Series:
    """Positional group keys, missing ones as ``"missing"`` (kept, so that the counts add up)."""
    if isinstance(groups, pd.Series):
        keys = groups.reset_index(drop=True)
    elif isinstance(groups, pd.Categorical):
        keys = pd.Series(groups)
    else:
        values = np.asarray(groups)
        if values.ndim != 1:
            raise DataError(f"group_report: groups must be 1-d, got shape {values.shape}", column="groups")
        keys = pd.Series(values)
    if len(keys) != n_rows:
        raise DataError(f"group_report: y_true has {n_rows} rows but groups has {len(keys)}", column="groups")
    absent = keys.isna()
    if absent.any():
        if isinstance(keys.dtype, pd.CategoricalDtype):
            if MISSING not in keys.cat.categories:
                keys = keys.cat.add_categories([MISSING])
            keys = keys.fillna(MISSING)
        else:  # as text, so that "missing" sorts among the other keys
            keys = keys.astype(str).where(~absent, MISSING)
    return keys


def _approval_mask(approved: ArrayLike, n_rows: int, metric: str) -> np.ndarray:
    values = np.asarray(approved)
    if values.ndim != 1 or len(values) != n_rows:
        raise DataError(
            f"{metric}: approved must be 1-d with {n_rows} rows, got shape {values.shape}", column="approved"
        )
    if values.dtype != bool:
        bad = ~np.isin(values, (0, 1))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{metric}: approvals must be bool or 0/1", column="approved", row={row: values[row]})
    return values.astype(bool)


def group_report(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    groups: ArrayLike | pd.Series,
    *,
    approved: ArrayLike | None = None,
) -> pd.DataFrame:
    """Validation figures per group, and approval-rate disparities when the decisions are given.

    Parameters
    ----------
    y_true
        1 for a default, 0 otherwise.
    y_prob
        Predicted probability of default, in ``[0, 1]``.
    groups
        One group key per row (e.g. :func:`age_bands`); missing keys form the group ``"missing"``.
    approved
        Optional bool (or 0/1) decision per row: True where the application was approved.

    Returns
    -------
    pandas.DataFrame
        Indexed by group (the name of ``groups`` or ``"group"``), in sorted order: ``count``, ``share`` (of all
        rows), ``defaults``, ``default_rate``, ``mean_pd``, ``auc`` (``NaN`` when the group holds one class
        only, so AUC is undefined), ``note`` (says why ``auc`` is ``NaN``, else empty) and, with ``approved``,
        ``approval_rate`` and ``adverse_impact_ratio`` (approval rate over the highest group's; below
        :data:`FOUR_FIFTHS` is the usual flag; ``NaN`` when no group has an approval).

    Examples
    --------
    >>> y = [0, 1, 0, 1, 0, 0]
    >>> p = [0.1, 0.8, 0.3, 0.6, 0.2, 0.4]
    >>> report = group_report(y, p, ["a", "a", "a", "a", "b", "b"], approved=[1, 0, 1, 1, 1, 0])
    >>> columns = ["group", "count", "default_rate", "auc", "approval_rate", "adverse_impact_ratio"]
    >>> report.reset_index()[columns].round(3)
      group  count  default_rate  auc  approval_rate  adverse_impact_ratio
    0     a      4           0.5  1.0           0.75                 1.000
    1     b      2           0.0  NaN           0.50                 0.667
    >>> report.loc["b", "note"]
    'one class only: AUC undefined'
    """
    labels, probs = _labels_and_probs(y_true, y_prob, "group_report")
    n_rows = len(labels)
    keys = _group_keys(groups, n_rows)
    name = str(keys.name) if keys.name is not None else "group"
    frame = pd.DataFrame({"key": keys.array, "y": labels.astype(np.float64), "p": probs})
    if approved is not None:
        frame["approved"] = _approval_mask(approved, n_rows, "group_report").astype(np.float64)
    grouped = frame.groupby("key", observed=True, sort=True)
    report = grouped.agg(count=("y", "size"), defaults=("y", "sum"), default_rate=("y", "mean"), mean_pd=("p", "mean"))
    report.insert(1, "share", report["count"] / n_rows)
    report["defaults"] = report["defaults"].astype(np.int64)
    one_class = (report["defaults"] == 0) | (report["defaults"] == report["count"])
    # one AUC per group (a loop over groups, not rows); undefined for a single-class group
    auc = {
        key: roc_auc(labels[rows], probs[rows])
        for key, rows in grouped.indices.items()
        if 0 < labels[rows].sum() < len(rows)
    }
    report["auc"] = pd.Series(auc, dtype=np.float64).reindex(report.index)
    report["note"] = np.where(one_class, "one class only: AUC undefined", "")
    if approved is not None:
        approval_rate = grouped["approved"].mean()
        best = float(approval_rate.max())
        report["approval_rate"] = approval_rate
        report["adverse_impact_ratio"] = approval_rate / best if best > 0 else np.nan
        flagged = report.index[report["adverse_impact_ratio"] < FOUR_FIFTHS].tolist()
        if flagged:
            logger.info("approval rate below four fifths of the highest group's for %s: %s", name, flagged)
    report.index.name = name
    return report
