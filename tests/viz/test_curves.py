"""Learning-curve plots: a real PNG from a history frame, a history.csv or a History."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from deeptarget.errors import DataError
from deeptarget.training import History
from deeptarget.viz.curves import plot_learning_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_MAGIC
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": [0, 1, 2, 3],
            "train/loss": [0.9, 0.6, 0.5, 0.45],
            "lr": [0.01, 0.01, 0.005, 0.005],
            "valid/loss": [1.0, math.nan, 0.7, 0.65],
            "valid/ndcg@10": [0.1, math.nan, 0.2, 0.22],
            "seconds": [0.1, 0.1, 0.1, 0.1],
        }
    )


def test_writes_a_png_with_one_panel_per_group(tmp_path: Path) -> None:
    path = plot_learning_curves(_frame(), tmp_path / "plots" / "curves.png", dpi=50)
    assert path == tmp_path / "plots" / "curves.png"
    width, height = _png_size(path)
    # losses, validation metrics and the changing learning rate: three 5-inch panels at 50 dpi
    assert (width, height) == (750, 180)
    constant_lr = _frame().assign(lr=0.01).drop(columns=["valid/ndcg@10"])
    width, _ = _png_size(plot_learning_curves(constant_lr, tmp_path / "one.png", dpi=50))
    assert width == 250


def test_reads_history_csv_and_history_objects(tmp_path: Path) -> None:
    history = History(_frame().to_dict(orient="records"))
    csv = history.to_csv(tmp_path / "history.csv")
    assert _png_size(plot_learning_curves(csv, tmp_path / "from_csv.png"))[0] > 0
    assert _png_size(plot_learning_curves(history, tmp_path / "from_history.png"))[0] > 0


def test_bad_histories_are_data_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="history file not found"):
        plot_learning_curves(tmp_path / "missing.csv", tmp_path / "x.png")
    no_epoch = tmp_path / "no_epoch.csv"
    no_epoch.write_text("step,train/loss\n0,1.0\n")
    with pytest.raises(DataError, match="'epoch'") as info:
        plot_learning_curves(no_epoch, tmp_path / "x.png")
    assert "no_epoch.csv" in str(info.value)
    with pytest.raises(DataError, match="nothing to plot"):
        plot_learning_curves(pd.DataFrame({"epoch": [0, 1], "seconds": [1.0, 1.0]}), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plotting_does_not_touch_pyplot_or_the_global_backend() -> None:
    code = (
        "import pandas as pd; from deeptarget.viz.curves import plot_learning_curves; "
        "import tempfile, os; d = tempfile.mkdtemp(); "
        "plot_learning_curves(pd.DataFrame({'epoch': [0, 1], 'train/loss': [1.0, 0.5]}), os.path.join(d, 'c.png')); "
        "import sys; print('matplotlib.pyplot' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
