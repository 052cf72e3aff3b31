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
