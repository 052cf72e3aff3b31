"""Fairness view: age bands at their boundaries, per-group figures on a hand case, the adverse impact ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from deeptarget.errors import ConfigError, DataError
from deeptarget.evaluation.fairness import FOUR_FIFTHS, age_bands, group_report


def test_age_band_boundaries_and_missing() -> None:
    ages = [0, 24, 24.99, 25, 34, 34.5, 35, 44, 45, 54, 55, 64, 65, 101, None, np.nan]
    expected = ["<25", "<25", "<25", "25-34", "25-34", "25-34", "35-44", "35-44", "45-54", "45-54", "55-64"]
    expected += ["55-64", "65+", "65+", "missing", "missing"]
    bands = age_bands(ages)
    assert bands.tolist() == expected
    assert bands.name == "age_band"
    assert list(bands.cat.categories) == ["<25", "25-34", "35-44", "45-54", "55-64", "65+", "missing"]
    assert bands.cat.ordered


def test_age_bands_keep_the_index_and_take_custom_edges() -> None:
    ages = pd.Series([17.0, 40.0, None], index=["x", "y", "z"])
    bands = age_bands(ages, edges=(18, 40))
    assert bands.index.tolist() == ["x", "y", "z"]
    assert bands.tolist() == ["<18", "40+", "missing"]


def test_age_bands_bad_input() -> None:
    with pytest.raises(DataError, match="age"):
        age_bands([30, "thirty"])
    with pytest.raises(ConfigError, match="edges"):
        age_bands([30], edges=(35, 25))
    with pytest.raises(ConfigError, match="edges"):
        age_bands([30], edges=())


def test_group_report_hand_case() -> None:
    y = [0, 1, 0, 1, 0, 0, 1, 1]
    p = [0.1, 0.8, 0.3, 0.6, 0.2, 0.4, 0.7, 0.9]
    groups = ["a", "a", "a", "a", "b", "b", "c", "c"]  # b: no default, c: only defaults
    approved = [True, False, True, True, True, False, False, False]
    report = group_report(y, p, groups, approved=approved)
    assert report.index.tolist() == ["a", "b", "c"]
    assert report["count"].tolist() == [4, 2, 2]
    assert report["share"].tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert report["default_rate"].tolist() == pytest.approx([0.5, 0.0, 1.0])
    assert report["mean_pd"].tolist() == pytest.approx([0.45, 0.3, 0.8])
    assert report.loc["a", "auc"] == pytest.approx(roc_auc_score([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6]))
    assert report["auc"].isna().tolist() == [False, True, True]
    assert report["note"].tolist() == ["", "one class only: AUC undefined", "one class only: AUC undefined"]
    assert report["approval_rate"].tolist() == pytest.approx([0.75, 0.5, 0.0])
    assert report["adverse_impact_ratio"].tolist() == pytest.approx([1.0, 0.5 / 0.75, 0.0])
    assert (report["adverse_impact_ratio"] < FOUR_FIFTHS).tolist() == [False, True, True]


def test_group_report_without_approvals_and_with_missing_groups() -> None:
    y = np.array([0, 1, 0, 1, 1, 0])
    p = np.array([0.2, 0.7, 0.1, 0.5, 0.6, 0.3])
    groups = pd.Series(["x", None, "x", "x", None, None], name="region", index=[10, 11, 12, 13, 14, 15])
    report = group_report(y, p, groups)
    assert report.index.name == "region"
    assert report.index.tolist() == ["missing", "x"]
    assert report["count"].sum() == len(y)
    assert "approval_rate" not in report and "adverse_impact_ratio" not in report


def test_group_report_keeps_age_band_order() -> None:
    ages = [70, 20, 30, None, 50, 20]
    report = group_report([0, 1, 0, 1, 0, 0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], age_bands(ages))
    assert report.index.tolist() == ["<25", "25-34", "45-54", "65+", "missing"]


def test_group_report_no_approvals_gives_nan_ratio() -> None:
    report = group_report([0, 1], [0.2, 0.8], ["a", "b"], approved=[False, False])
    assert report["approval_rate"].tolist() == [0.0, 0.0]
    assert report["adverse_impact_ratio"].isna().all()


def test_group_report_bad_input() -> None:
    with pytest.raises(DataError, match="groups"):
        group_report([0, 1], [0.2, 0.8], ["a"])
    with pytest.raises(DataError, match="approved"):
        group_report([0, 1], [0.2, 0.8], ["a", "b"], approved=[1, 2])
    with pytest.raises(DataError, match="approved"):
        group_report([0, 1], [0.2, 0.8], ["a", "b"], approved=[True])
