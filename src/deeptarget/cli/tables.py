"""Rich tables of metrics, compact enough for an 80-column terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich import box
from rich.table import Table

SHORT = {"precision": "P", "recall": "R", "ndcg": "NDCG", "map": "MAP", "mrr": "MRR", "hit": "HR", "coverage": "Cov"}


def short_name(metric: str) -> str:
    """``precision@10`` -> ``P@10`` (table headers only; files keep the full names)."""
    name, _, k = metric.partition("@")
    return f"{SHORT.get(name, name)}@{k}" if k else SHORT.get(name, name)


def metrics_table(
    title: str,
    rows: Mapping[str, Mapping[str, float]],
    columns: Sequence[str],
    *,
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> Table:
    """One row per model, one column per metric (4 decimals), plus optional extra text columns."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("model", no_wrap=True)
    for col in columns:
        table.add_column(short_name(col), justify="right", no_wrap=True)
    extra_cols: list[str] = sorted({c for cells in (extra or {}).values() for c in cells})
    for col in extra_cols:
        table.add_column(col, justify="right", no_wrap=True)
    for name, metrics in rows.items():
        cells = [f"{metrics[c]:.4f}" if c in metrics else "-" for c in columns]
        cells += [(extra or {}).get(name, {}).get(c, "") for c in extra_cols]
        table.add_row(name, *cells)
    return table
