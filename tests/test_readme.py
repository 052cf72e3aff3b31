"""The README's Python example runs as written (on a small CSV made here)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README has no python example"
    rng = np.random.default_rng(0)
    n = 3000
    users = rng.integers(0, 60, n)
    items = (users % 6) * 10 + rng.integers(0, 12, n)  # six taste groups over 70 products
    pd.DataFrame(
        {"customer_id": [f"customer-{u}" for u in users], "sku": [f"sku-{i}" for i in items], "ts": np.arange(n)}
    ).to_csv(tmp_path / "purchases.csv", index=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert (tmp_path / "artifacts" / "ease" / "weights.safetensors").is_file()
    items_out = namespace["items"]
    assert isinstance(items_out, np.ndarray) and items_out.shape == (1, 10)
    # the five-line deep model on the same file
    assert len(blocks) >= 2, "README lost its deep-model example"
    deep: dict[str, object] = {}
    exec(compile(blocks[1], "README.md", "exec"), deep)
    recommended = deep["items"]
    assert isinstance(recommended, np.ndarray) and recommended.shape == (1, 10)
    # customer-1 belongs to taste group 1 (sku-10 .. sku-21) and has bought all of it: those are excluded, but
    # with nothing excluded the deep model ranks the group first
    model = deep["model"]
    top, _ = model.recommend(["customer-1"], k=10, exclude_seen=False)  # type: ignore[attr-defined]
    in_group = [10 <= int(str(i).split("-")[1]) <= 21 for i in top[0]]
    assert sum(in_group) >= 8
