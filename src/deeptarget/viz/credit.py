"""Credit-risk validation plots and a one-folder validation report (Markdown + PNGs).

:func:`plot_ks` draws the KS curve, :func:`plot_score_distribution` the training and test score histograms with
their population stability index, and :func:`write_validation_report` gathers these, the ROC curve, a
reliability diagram and the tables of :mod:`deeptarget.evaluation.credit` and
:mod:`deeptarget.evaluation.fairness` into ``validation_report.md``. The numbers come from the evaluation
package, so the report agrees with the metrics; drawing uses the Agg canvas of :mod:`deeptarget.viz.response`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from deeptarget.evaluation.credit import calibration_by_decile, credit_metrics, ks_curve, psi
from deeptarget.evaluation.fairness import FOUR_FIFTHS, _approval_mask, group_report
from deeptarget.viz.response import PathLike, _new_figure, _save, plot_calibration, plot_roc

__all__ = ["plot_ks", "plot_score_distribution", "write_validation_report"]

logger = logging.getLogger(__name__)

ArrayLike = npt.ArrayLike

REPORT_FILE = "validation_report.md"


def plot_ks(
    y_true: ArrayLike,
    y_score: ArrayLike,
    path_png: PathLike,
    *,
    title: str | None = "KS curve",
    dpi: int = 100,
) -> Path:
    """Plot the cumulative shares of defaults and non-defaults against the share of the population, riskiest first.

    The largest gap between the two curves, the KS statistic, is marked and annotated.

    Parameters
    ----------
    y_true
        1 for a default, 0 otherwise; both classes present.
    y_score
        PD or risk score, higher meaning riskier.
    path_png
        Where to write the PNG (parent directories are created).
    title
        Figure title (``None`` for none).
    dpi
        Resolution.

    Returns
    -------
    Path
        ``path_png``.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> with TemporaryDirectory() as folder:
    ...     plot_ks([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.7], Path(folder) / "ks.png").stat().st_size > 0
    True
    """
    population, bad, good = ks_curve(y_true, y_score)
    gap = np.abs(bad - good)
    at = int(np.argmax(gap))
    figure = _new_figure(4.8, 4.4, dpi)
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="random")
    ax.plot(population, bad, linewidth=1.5, label="defaults (bad)")
    ax.plot(population, good, linewidth=1.5, label="non-defaults (good)")
    ax.vlines(population[at], good[at], bad[at], colors="black", linewidth=1.5, label=f"KS {gap[at]:.3f}")
    ax.annotate(
        f"KS = {gap[at]:.3f}\nat {population[at]:.0%} of population",
        xy=(population[at], (bad[at] + good[at]) / 2),
        xytext=(8, 0),
        textcoords="offset points",
        va="center",
        fontsize="small",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("share of population (riskiest first)")
    ax.set_ylabel("cumulative share")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    if title is not None:
        ax.set_title(title)
    return _save(figure, path_png)


def plot_score_distribution(
    train_scores: ArrayLike,
    test_scores: ArrayLike,
    path_png: PathLike,
    *,
    n_bins: int = 10,
    title: str | None = "Score distribution",
    dpi: int = 100,
) -> Path:
    """Overlay the histograms of training and test scores, with their population stability index.

    Parameters
    ----------
    train_scores
        Scores of the training (reference) sample.
    test_scores
        Scores of the sample to compare.
    path_png
        Where to write the PNG (parent directories are created).
    n_bins
        Quantile bins of the :func:`~deeptarget.evaluation.credit.psi` (the histograms use finer, equal-width
        bins).
    title
        Figure title (``None`` for none); the PSI is appended to it and given in the legend.
    dpi
        Resolution.

    Returns
    -------
    Path
        ``path_png``.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> with TemporaryDirectory() as folder:
    ...     path = plot_score_distribution([0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.5], Path(folder) / "s.png", n_bins=2)
    ...     path.stat().st_size > 0
    True
    """
    stability = psi(train_scores, test_scores, n_bins=n_bins)
    train = np.asarray(train_scores, dtype=np.float64)  # validated by psi
    test = np.asarray(test_scores, dtype=np.float64)
    low = float(min(train.min(), test.min()))
    high = float(max(train.max(), test.max()))
    if high <= low:  # every score equal: widen so that the bins are not degenerate
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, 31).tolist()
    figure = _new_figure(5.6, 3.8, dpi)
    ax = figure.add_subplot()
    ax.hist(train, bins=edges, density=True, alpha=0.45, label=f"train (n={len(train)})")
    ax.hist(test, bins=edges, density=True, alpha=0.45, label=f"test (n={len(test)})")
    ax.set_xlabel("score")
    ax.set_ylabel("density")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small", title=f"PSI {stability:.3f}", title_fontsize="small")
    if title is not None:
        ax.set_title(f"{title} (PSI {stability:.3f})")
    return _save(figure, path_png)


def _cell(value: object, digits: int) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "n/a" if math.isnan(value) else f"{float(value):.{digits}f}"
    return str(value).replace("|", "\\|")


def _markdown_table(frame: pd.DataFrame, *, index: bool = True, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table (pandas' ``to_markdown`` needs ``tabulate``, which we do not depend on)."""
    shown = frame.reset_index() if index else frame
    header = [str(column) for column in shown.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value, digits) for value in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines)


def _psi_reading(value: float) -> str:
    if value < 0.1:
        return "stable (< 0.1)"
    if value <= 0.25:
        return "some shift (0.1 to 0.25)"
    return "major shift (> 0.25)"


def _metrics_section(metrics: Mapping[str, float], approval_rate: float | None) -> list[str]:
    rows: list[tuple[str, float, str]] = [
        ("AUC", metrics["auc"], "ranking: 0.5 random, 1 perfect"),
        ("Gini", metrics["gini"], "2 * AUC - 1"),
        ("KS", metrics["ks"], "largest gap between the score distributions of defaults and non-defaults"),
        ("Brier", metrics["brier"], "mean squared error of the PD; lower is better"),
        ("Log-loss", metrics["logloss"], "lower is better"),
        ("ECE", metrics["ece"], "expected calibration error over PD deciles"),
    ]
    if "psi" in metrics:
        rows.append(("PSI", metrics["psi"], f"train vs test scores: {_psi_reading(metrics['psi'])}"))
    rows += [
        ("Default rate", metrics["base_rate"], "observed"),
        ("Mean PD", metrics["mean_pd"], "predicted"),
    ]
    if approval_rate is not None:
        rows.append(("Approval rate", approval_rate, "share of applications approved"))
    table = pd.DataFrame(rows, columns=["metric", "value", "note"])
    return ["## Metrics", "", _markdown_table(table, index=False), ""]


def _fairness_section(reports: Mapping[str, pd.DataFrame]) -> list[str]:
    lines = ["## Fairness by group", ""]
    for column, report in reports.items():
        lines += [f"### {column}", "", _markdown_table(report), ""]
        if report["auc"].isna().any():
            lines += ["AUC is n/a for a group holding only defaults or only non-defaults.", ""]
        if "adverse_impact_ratio" in report:
            flagged = [str(group) for group in report.index[report["adverse_impact_ratio"] < FOUR_FIFTHS]]
            verdict = (
                f"below the four-fifths rule ({FOUR_FIFTHS}): {', '.join(flagged)}."
                if flagged
                else f"no group below the four-fifths rule ({FOUR_FIFTHS})."
            )
            lines += [f"Adverse impact ratio (approval rate over the highest group's): {verdict}", ""]
    return lines


def write_validation_report(
    out_dir: PathLike,
    *,
    name: str,
    y_test: ArrayLike,
    pd_test: ArrayLike,
    pd_train: ArrayLike | None = None,
    groups: Mapping[str, ArrayLike | pd.Series] | None = None,
    approved: ArrayLike | None = None,
    n_bins: int = 10,
    dpi: int = 100,
) -> Path:
    """Write a validation report of a PD model: ``validation_report.md`` and its PNGs, in ``out_dir``.

    The Markdown holds the model name, a metrics table (AUC, Gini, KS, Brier, log-loss, ECE and, with
    ``pd_train``, PSI), the calibration-by-decile table, one fairness table per group column and links to
    ``roc.png``, ``ks.png``, ``calibration.png`` and, with ``pd_train``, ``score_distribution.png``. Every input
    is checked before anything is written.

    Parameters
    ----------
    out_dir
        Folder of the report (created if needed); existing files of the same names are replaced.
    name
        Model name for the header.
    y_test
        1 for a default, 0 otherwise, on the validation sample; both classes present.
    pd_test
        Predicted probability of default on the validation sample.
    pd_train
        Predicted PDs on the training sample, for the PSI and the score distributions.
    groups
        ``{column name: group key per validation row}`` (e.g. ``{"age": age_bands(ages)}``).
    approved
        Bool decision per validation row, for approval rates and adverse impact ratios per group.
    n_bins
        Quantile bins of the ECE, the calibration table, the reliability diagram and the PSI.
    dpi
        Resolution of the PNGs.

    Returns
    -------
    Path
        The Markdown file.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    >>> p = [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05]
    >>> with TemporaryDirectory() as folder:
    ...     report = write_validation_report(folder, name="demo", y_test=y, pd_test=p, pd_train=p, n_bins=5)
    ...     text = report.read_text(encoding="utf-8")
    ...     sorted(path.name for path in Path(folder).iterdir())
    ['calibration.png', 'ks.png', 'roc.png', 'score_distribution.png', 'validation_report.md']
    >>> text.splitlines()[0]
    '# Validation report: demo'
    """
    metrics = credit_metrics(y_test, pd_test, train_pd=pd_train, n_bins=n_bins)
    calibration = calibration_by_decile(y_test, pd_test, n_bins=n_bins)
    reports = {
        str(column): group_report(y_test, pd_test, keys, approved=approved).rename_axis(str(column))
        for column, keys in (groups or {}).items()
    }
    approval_rate = None
    if approved is not None:
        n_rows = int(calibration["count"].sum())
        approval_rate = float(_approval_mask(approved, n_rows, "write_validation_report").mean())

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    figures: list[tuple[str, str]] = [
        ("ROC curve", plot_roc(y_test, {name: pd_test}, folder / "roc.png", dpi=dpi).name),
        ("KS curve", plot_ks(y_test, pd_test, folder / "ks.png", dpi=dpi).name),
        (
            "Reliability diagram",
            plot_calibration(
                y_test, {name: pd_test}, folder / "calibration.png", n_bins=n_bins, strategy="quantile", dpi=dpi
            ).name,
        ),
    ]
    if pd_train is not None:
        path = plot_score_distribution(pd_train, pd_test, folder / "score_distribution.png", n_bins=n_bins, dpi=dpi)
        figures.append(("Score distribution, train vs test", path.name))

    lines = [
        f"# Validation report: {name}",
        "",
        f"Test rows: {len(np.asarray(y_test))}"
        + (f"; training rows: {len(np.asarray(pd_train))}" if pd_train is not None else "")
        + ". Label 1 = default; scores are probabilities of default (PD).",
        "",
        *_metrics_section(metrics, approval_rate),
        f"## Calibration by {'decile' if n_bins == 10 else f'quantile bin of {n_bins}'}",
        "",
        _markdown_table(calibration, index=False),
        "",
    ]
    if reports:
        lines += _fairness_section(reports)
    lines += ["## Figures", ""]
    for caption, file in figures:
        lines += [f"![{caption}]({file})", ""]
    target = folder / REPORT_FILE
    target.write_text("\n".join(lines), encoding="utf-8")
    logger.info("wrote the validation report of %s to %s", name, target)
    return target
