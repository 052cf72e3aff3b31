"""Learning curves of a training run, from its ``history.csv`` (or a :class:`~deeptarget.training.History`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from deeptarget.errors import DataError

__all__ = ["plot_learning_curves"]


def _history_frame(history: Any) -> tuple[pd.DataFrame, str]:
    if isinstance(history, pd.DataFrame):
        return history, "learning curves"
    if hasattr(history, "to_frame"):  # deeptarget.training.History
        return history.to_frame(), "learning curves"
    path = Path(history)
    if not path.is_file():
        raise DataError("history file not found", file=str(path))
    try:
        return pd.read_csv(path), str(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV ({exc})", file=str(path)) from None


def plot_learning_curves(
    history: str | os.PathLike[str] | pd.DataFrame | Any,
    path_png: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """Plot the losses, the validation metrics and the learning rate per epoch into a PNG.

    Panels: losses (``train/loss``, ``valid/loss`` and any other ``*loss`` column); the other ``valid/`` metrics;
    the learning rate (log scale) when it changes. Epochs without validation are skipped in the metric lines.

    Drawn on a matplotlib ``Figure`` with the Agg canvas directly: no pyplot, no global backend switch, so it is
    safe in servers, tests and notebooks alike.

    Parameters
    ----------
    history
        A ``history.csv`` path, its DataFrame, or a :class:`~deeptarget.training.History`; needs an ``epoch``
        column.
    path_png
        Where to write the PNG (parent directories are created).
    title
        Figure title (default: the source name).
    dpi
        Resolution.

    Returns
    -------
    Path
        ``path_png``.

    Raises
    ------
    DataError
        When the history is missing, unreadable, has no ``epoch`` column or nothing numeric to plot.

    Examples
    --------
    >>> frame = pd.DataFrame({"epoch": [0, 1, 2], "train/loss": [0.9, 0.6, 0.5], "valid/ndcg@10": [0.1, 0.2, 0.25]})
    >>> plot_learning_curves(frame, "curves.png")  # doctest: +SKIP
    PosixPath('curves.png')
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    frame, source = _history_frame(history)
    if "epoch" not in frame.columns:
        raise DataError(f"expected an 'epoch' column; columns: {list(frame.columns)}", file=source)
    if len(frame) == 0:
        raise DataError("the history has no epochs", file=source)
    epochs = pd.to_numeric(frame["epoch"], errors="coerce")
    numeric = {
        c: pd.to_numeric(frame[c], errors="coerce")
        for c in frame.columns
        if c not in ("epoch", "seconds", "train_seconds", "valid_seconds")
    }
    loss_columns = [c for c in numeric if c.rsplit("/", 1)[-1].endswith("loss") and numeric[c].notna().any()]
    metric_columns = [
        c for c in numeric if c.startswith("valid/") and c not in loss_columns and numeric[c].notna().any()
    ]
    lr = numeric.get("lr")
    show_lr = lr is not None and lr.notna().any() and lr.nunique(dropna=True) > 1
    panels: list[tuple[str, list[str]]] = []
    if loss_columns:
        panels.append(("loss", loss_columns))
    if metric_columns:
        panels.append(("validation metric", metric_columns))
    if show_lr:
        panels.append(("learning rate", ["lr"]))
    if not panels:
        raise DataError(
            f"nothing to plot: no loss, 'valid/' metric or changing 'lr' column; columns: {list(frame.columns)}",
            file=source,
        )

    figure = Figure(figsize=(5.0 * len(panels), 3.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, columns) in zip(axes, panels, strict=True):
        for column in columns:
            values = numeric[column]
            keep = values.notna() & epochs.notna()
            ax.plot(epochs[keep], values[keep], marker="o", markersize=3, label=column)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        if label == "learning rate":
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    figure.suptitle(title if title is not None else source)
    target = Path(path_png)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format="png")
    return target
