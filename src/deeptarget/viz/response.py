"""Plots for response (CTR) models: ROC, cumulative gains, lift by score band and reliability diagrams.

Every function takes the labels and either one score array or a mapping ``{model name: scores}`` to compare
models (or a model before and after calibration) on one figure, writes a PNG and returns its path. The numbers
come from :mod:`deeptarget.evaluation.classification`, so a plot always agrees with the metrics.

Drawn on a matplotlib ``Figure`` with the Agg canvas directly (imported when a plot is drawn): no pyplot, no
global backend switch, safe in servers, tests and notebooks alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from deeptarget.errors import DataError
from deeptarget.evaluation.classification import (
    calibration_table,
    cumulative_response_curve,
    expected_calibration_error,
    gains_table,
    roc_auc,
    roc_curve,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_calibration", "plot_gains", "plot_lift", "plot_roc"]

ArrayLike = npt.ArrayLike
Scores = ArrayLike | Mapping[str, ArrayLike]
PathLike = str | os.PathLike[str]


def _named(scores: Scores, argument: str) -> dict[str, ArrayLike]:
    if isinstance(scores, Mapping):
        if not scores:
            raise DataError("nothing to plot: the mapping of named scores is empty", column=argument)
        return {str(name): values for name, values in scores.items()}
    return {"model": scores}


def _new_figure(width: float, height: float, dpi: int) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path_png: PathLike) -> Path:
    target = Path(path_png)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format="png")
    return target


def plot_roc(
    y_true: ArrayLike,
    y_score: Scores,
    path_png: PathLike,
    *,
    title: str | None = "ROC curve",
    dpi: int = 100,
) -> Path:
    """Plot the ROC curve of one or more models, with the AUC in the legend and the chance diagonal.

    Parameters
    ----------
    y_true
        0/1 or bool labels, both classes present.
    y_score
        Scores of one model, or ``{name: scores}`` for several.
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
    >>> y = [0, 0, 1, 1, 0, 1]
    >>> scores = {"a": [0.1, 0.4, 0.35, 0.8, 0.2, 0.7], "b": [0.3, 0.2, 0.6, 0.5, 0.4, 0.1]}
    >>> with TemporaryDirectory() as folder:
    ...     plot_roc(y, scores, Path(folder) / "roc.png").stat().st_size > 0
    True
    """
    curves = {name: (roc_curve(y_true, s), roc_auc(y_true, s)) for name, s in _named(y_score, "y_score").items()}
    figure = _new_figure(4.8, 4.4, dpi)
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="random")
    for name, ((fpr, tpr), auc) in curves.items():
        ax.plot(fpr, tpr, linewidth=1.5, label=f"{name} (AUC {auc:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    if title is not None:
        ax.set_title(title)
    return _save(figure, path_png)


def plot_gains(
    y_true: ArrayLike,
    y_score: Scores,
    path_png: PathLike,
    *,
    title: str | None = "Cumulative gains",
    dpi: int = 100,
) -> Path:
    """Plot the cumulative gains (cumulative response) curve of one or more models.

    The share of responders captured against the share of customers contacted, highest score first, with the
    diagonal of random targeting and the curve of a perfect ranking (every responder first).

    Parameters
    ----------
    y_true
        0/1 or bool labels, at least one responder.
    y_score
        Scores of one model, or ``{name: scores}`` for several.
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
    >>> y = [0, 0, 1, 1, 0, 1]
    >>> with TemporaryDirectory() as folder:
    ...     plot_gains(y, [0.1, 0.4, 0.35, 0.8, 0.2, 0.7], Path(folder) / "gains.png").stat().st_size > 0
    True
    """
    curves = {name: cumulative_response_curve(y_true, s) for name, s in _named(y_score, "y_score").items()}
    labels = np.asarray(y_true).astype(bool)  # validated by cumulative_response_curve
    response_rate = float(labels.mean())
    figure = _new_figure(4.8, 4.4, dpi)
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="random")
    ax.plot([0, response_rate, 1], [0, 1, 1], linestyle=":", color="black", linewidth=1, label="perfect")
    for name, (contacted, captured) in curves.items():
        ax.plot(contacted, captured, linewidth=1.5, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("fraction contacted (highest scores first)")
    ax.set_ylabel("fraction of responders captured")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    if title is not None:
        ax.set_title(title)
    return _save(figure, path_png)


def plot_lift(
    y_true: ArrayLike,
    y_score: Scores,
    path_png: PathLike,
    *,
    n_bins: int = 10,
    title: str | None = "Lift by score band",
    dpi: int = 100,
) -> Path:
    """Plot the lift of each score band (deciles by default) as bars, one colour per model.

    The lift of a band is its response rate over the overall response rate (:func:`~deeptarget.evaluation.
    classification.gains_table`); a useful ranking starts well above 1 and falls below it; the line at 1 is
    random targeting.

    Parameters
    ----------
    y_true
        0/1 or bool labels, at least one responder.
    y_score
        Scores of one model, or ``{name: scores}`` for several.
    path_png
        Where to write the PNG (parent directories are created).
    n_bins
        Number of bands of equal size; band 1 holds the highest scores.
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
    >>> y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    >>> s = [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05]
    >>> with TemporaryDirectory() as folder:
    ...     plot_lift(y, {"model": s}, Path(folder) / "lift.png", n_bins=5).stat().st_size > 0
    True
    """
    tables = {name: gains_table(y_true, s, n_bins=n_bins) for name, s in _named(y_score, "y_score").items()}
    figure = _new_figure(max(4.8, 0.5 * n_bins + 1.5), 3.8, dpi)
    ax = figure.add_subplot()
    bands = np.arange(1, n_bins + 1)
    width = 0.8 / len(tables)
    for index, (name, table) in enumerate(tables.items()):
        offset = (index - (len(tables) - 1) / 2) * width
        ax.bar(bands + offset, table["lift"].to_numpy(), width=width, label=name)
    ax.axhline(1.0, linestyle="--", color="grey", linewidth=1, label="random")
    ax.set_xticks(bands)
    ax.set_xlabel("decile (1 = highest scores)" if n_bins == 10 else f"score band of {n_bins} (1 = highest scores)")
    ax.set_ylabel("lift")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)
    return _save(figure, path_png)


def plot_calibration(
    y_true: ArrayLike,
    y_prob: Scores,
    path_png: PathLike,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
    title: str | None = "Reliability diagram",
    dpi: int = 100,
) -> Path:
    """Plot a reliability diagram (observed rate against mean prediction per bin) over a histogram of predictions.

    Points on the diagonal are perfectly calibrated; below it the model is over-confident in that range. The
    legend gives each model's expected calibration error; the lower panel shows how many rows each bin rests on.

    Parameters
    ----------
    y_true
        0/1 or bool labels.
    y_prob
        Probabilities of one model, or ``{name: probabilities}`` (e.g. ``{"raw": p, "calibrated": q}``).
    path_png
        Where to write the PNG (parent directories are created).
    n_bins
        Number of bins of :func:`~deeptarget.evaluation.classification.calibration_table`.
    strategy
        ``"uniform"`` (equal-width bins on ``[0, 1]``) or ``"quantile"`` (equal counts: better for small rates,
        and the axes then zoom to the range of the predictions).
    title
        Figure title (``None`` for none).
    dpi
        Resolution.

    Returns
    -------
    Path
        ``path_png``.

    References
    ----------
    DeGroot, M. H. and Fienberg, S. E. (1983), "The Comparison and Evaluation of Forecasters", The Statistician
    32(1/2).

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> y = [0, 0, 1, 1, 0, 1, 0, 1]
    >>> p = [0.1, 0.3, 0.6, 0.9, 0.2, 0.7, 0.55, 0.45]
    >>> with TemporaryDirectory() as folder:
    ...     plot_calibration(y, p, Path(folder) / "calibration.png", n_bins=4).stat().st_size > 0
    True
    """
    named = _named(y_prob, "y_prob")
    tables = {name: calibration_table(y_true, p, n_bins=n_bins, strategy=strategy) for name, p in named.items()}
    errors = {
        name: expected_calibration_error(y_true, p, n_bins=n_bins, strategy=strategy) for name, p in named.items()
    }
    if strategy == "uniform":
        low, high = 0.0, 1.0
    else:
        low = min(float(t["lower"].min()) for t in tables.values())
        high = max(float(t["upper"].max()) for t in tables.values())
        if high <= low:  # every prediction equal: widen so that the axes are not degenerate
            low, high = max(0.0, low - 0.05), min(1.0, high + 0.05)
    figure = _new_figure(4.8, 5.6, dpi)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    histogram_bins = np.linspace(low, high, 2 * n_bins + 1)
    for name, table in tables.items():
        line = top.plot(
            table["mean_predicted"].to_numpy(),
            table["observed_rate"].to_numpy(),
            marker="o",
            markersize=4,
            linewidth=1.5,
            label=f"{name} (ECE {errors[name]:.3f})",
        )[0]
        values = np.clip(np.asarray(named[name], dtype=np.float64), low, high)
        bottom.hist(values, bins=histogram_bins, histtype="step", color=line.get_color(), linewidth=1.5)
    top.set_xlim(low, high)
    if strategy == "uniform":
        top.set_ylim(-0.02, 1.02)
    top.set_ylabel("observed response rate")
    top.grid(True, alpha=0.3)
    top.legend(fontsize="small", loc="upper left")
    bottom.set_xlabel("mean predicted probability")
    bottom.set_ylabel("rows")
    bottom.grid(True, alpha=0.3)
    if title is not None:
        top.set_title(title)
    return _save(figure, path_png)
