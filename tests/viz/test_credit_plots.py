"""Credit plots and the validation report: real PNGs, a Markdown file with every figure, bad input before writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deeptarget.errors import DataError
from deeptarget.evaluation.fairness import age_bands
from deeptarget.viz.credit import plot_ks, plot_score_distribution, write_validation_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def loans() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    pd_test = rng.beta(1, 8, size=400)
    return {
        "y": (rng.random(400) < pd_test).astype(int),
        "pd_test": pd_test,
        "pd_train": rng.beta(1.3, 8, size=600),
        "age": np.where(rng.random(400) < 0.05, np.nan, rng.integers(18, 80, size=400)),
        "sex": rng.choice(["F", "M"], size=400),
    }


def _is_png(path: Path) -> bool:
    return path.stat().st_size > 0 and path.read_bytes()[:8] == PNG_MAGIC


def test_plots_write_pngs(tmp_path: Path, loans: dict[str, np.ndarray]) -> None:
    ks = plot_ks(loans["y"], loans["pd_test"], tmp_path / "nested" / "ks.png", dpi=50)
    tied = plot_ks(loans["y"], np.round(loans["pd_test"], 1), str(tmp_path / "tied.png"), title=None, dpi=50)
    dist = plot_score_distribution(loans["pd_train"], loans["pd_test"], tmp_path / "dist.png", dpi=50)
    constant = plot_score_distribution([0.2] * 5, [0.2] * 3, tmp_path / "constant.png", title=None, dpi=50)
    for path in (ks, tied, dist, constant):
        assert _is_png(path)


def test_validation_report(tmp_path: Path, loans: dict[str, np.ndarray]) -> None:
    out = tmp_path / "report"
    path = write_validation_report(
        out,
        name="DeepPD v1",
        y_test=loans["y"],
        pd_test=loans["pd_test"],
        pd_train=loans["pd_train"],
        groups={"age": age_bands(loans["age"]), "sex": loans["sex"]},
        approved=loans["pd_test"] < 0.15,
        dpi=50,
    )
    assert path == out / "validation_report.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Validation report: DeepPD v1")
    for metric in ("AUC", "Gini", "KS", "Brier", "Log-loss", "ECE", "PSI", "Approval rate"):
        assert f"| {metric} |" in text
    assert "## Calibration by decile" in text
    assert "### age" in text and "### sex" in text and "| <25 |" in text and "adverse_impact_ratio" in text
    for png in ("roc.png", "ks.png", "calibration.png", "score_distribution.png"):
        assert f"]({png})" in text
        assert _is_png(out / png)


def test_validation_report_minimal(tmp_path: Path, loans: dict[str, np.ndarray]) -> None:
    path = write_validation_report(tmp_path, name="m", y_test=loans["y"], pd_test=loans["pd_test"], dpi=50)
    text = path.read_text(encoding="utf-8")
    assert "PSI" not in text and "Fairness" not in text and "score_distribution.png" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.png", "ks.png", "roc.png", path.name]


def test_validation_report_checks_input_before_writing(tmp_path: Path, loans: dict[str, np.ndarray]) -> None:
    out = tmp_path / "never"
    with pytest.raises(DataError, match="groups"):
        write_validation_report(
            out, name="m", y_test=loans["y"], pd_test=loans["pd_test"], groups={"sex": loans["sex"][:10]}
        )
    with pytest.raises(DataError, match="approved"):
        write_validation_report(out, name="m", y_test=loans["y"], pd_test=loans["pd_test"], approved=[True])
    assert not out.exists()
