"""Response-model plots: real PNGs for one model or several, and bad input reported before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deeptarget.errors import DataError
from deeptarget.viz.response import plot_calibration, plot_gains, plot_lift, plot_roc

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_MAGIC
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


@pytest.fixture(scope="module")
def campaign() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    true_p = rng.beta(1, 6, size=600)
    y = (rng.random(600) < true_p).astype(int)
    scores = {"good": np.clip(true_p * 2.0, 0, 1), "noisy": rng.random(600), "tied": np.round(true_p, 1)}
    return y, scores


def test_each_plot_writes_a_png(tmp_path: Path, campaign: tuple[np.ndarray, dict[str, np.ndarray]]) -> None:
    y, scores = campaign
    written = [
        plot_roc(y, scores, tmp_path / "nested" / "roc.png", dpi=50),
        plot_gains(y, scores, tmp_path / "gains.png", dpi=50),
        plot_lift(y, scores, tmp_path / "lift.png", dpi=50),
        plot_calibration(y, {"raw": scores["good"], "tied": scores["tied"]}, tmp_path / "calibration.png", dpi=50),
        plot_calibration(y, scores["good"], tmp_path / "quantile.png", n_bins=5, strategy="quantile", dpi=50),
        plot_roc(y, scores["good"], str(tmp_path / "single.png"), title=None, dpi=50),  # one unnamed array
        plot_lift(y, scores["noisy"], tmp_path / "bands.png", n_bins=4, dpi=50),
    ]
    assert written[0] == tmp_path / "nested" / "roc.png"
    for path in written:
        width, height = _png_size(path)
        assert width > 100 and height > 100
        assert path.stat().st_size > 1000
    assert _png_size(written[0]) == (240, 220)  # 4.8 x 4.4 inches at 50 dpi


def test_bad_input_is_a_data_error_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    with pytest.raises(DataError, match="mapping of named scores is empty"):
        plot_roc([0, 1], {}, target)
    with pytest.raises(DataError, match="labels must be 0 or 1"):
        plot_gains([0, 5], [0.1, 0.2], target)
    with pytest.raises(DataError, match="2 rows but y_score has 3"):
        plot_lift([0, 1], {"a": [0.1, 0.2], "b": [0.1, 0.2, 0.3]}, target, n_bins=2)
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        plot_calibration([0, 1], [0.5, 1.5], target)
    assert not target.exists()
