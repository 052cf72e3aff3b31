"""Qini curves of uplift models: incremental responders against the share of customers targeted.

One panel per treated arm, one line per ranking (predicted uplift, predicted response, ...), the straight line of
random targeting, and each ranking's Qini coefficient in the legend. The numbers come from
:mod:`deeptarget.evaluation.uplift`, so the plot agrees with the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy.typing as npt

from deeptarget.errors import DataError
from deeptarget.evaluation.uplift import qini_coefficient, qini_curve
from deeptarget.viz.response import PathLike, _new_figure, _save

__all__ = ["plot_qini"]


def plot_qini(
    panels: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike, Mapping[str, npt.ArrayLike]]],
    path_png: PathLike,
    *,
    title: str | None = "Qini curves",
    dpi: int = 100,
) -> Path:
    """Plot Qini curves, one panel per arm.

    Parameters
    ----------
    panels
        ``{arm: (y_true, treated, {ranking name: scores})}``: the outcomes of that arm's and the control's rows,
        1 for the arm's rows and 0 for the control's, and the scores each ranking orders them by.
    path_png
        Where to write the PNG (parent directories are created).
    title
        Figure title (``None`` for none).
    dpi
        Resolution.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> y, t = [1, 0, 0, 1, 1, 0], [1, 0, 1, 0, 1, 0]
    >>> with TemporaryDirectory() as folder:
    ...     path = plot_qini({"mail": (y, t, {"uplift": [0.9, 0.1, 0.2, 0.3, 0.8, 0.4]})}, Path(folder) / "q.png")
    ...     path.stat().st_size > 0
    True
    """
    if not panels:
        raise DataError("nothing to plot: no arms", column="panels")
    figure = _new_figure(4.6 * len(panels), 4.2, dpi)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (arm, (y_true, treated, rankings)) in zip(axes, panels.items(), strict=True):
        if not rankings:
            raise DataError(f"nothing to plot for arm {arm!r}: no rankings", column="panels")
        for name, scores in rankings.items():
            x, q = qini_curve(y_true, treated, scores)
            ax.plot(x, q, linewidth=1.5, label=f"{name} (Qini {qini_coefficient(y_true, treated, scores):.4f})")
        ax.plot([0, 1], [0, q[-1]], linestyle="--", color="grey", linewidth=1, label="random")
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of customers targeted")
        ax.set_ylabel("incremental responders per customer")
        ax.set_title(str(arm), fontsize="medium")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    if title is not None:
        figure.suptitle(title)
    return _save(figure, path_png)
