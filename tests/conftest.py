"""Shared fixtures: the real-data directory (tests using it are marked ``realdata`` and skip without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_real_data() -> Path | None:
    candidates = [os.environ.get("DEEPTARGET_DATA"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "movielens-100k" / "u.data").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """``../shared/data`` (or ``$DEEPTARGET_DATA``); skips the test when the datasets are not there."""
    found = _find_real_data()
    if found is None:
        pytest.skip("real datasets not found (set DEEPTARGET_DATA)")
    return found


@pytest.fixture(autouse=True)
def _isolated_side_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep matplotlib's cache out of the home directory."""
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path_factory.getbasetemp() / "mpl"))
