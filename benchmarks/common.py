"""Shared plumbing of the benchmark scripts: arguments, the report format of ../shared/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclass
class BenchRecord:
    """One (system, model, dataset, protocol) result, in the format every benchmark reports."""

    benchmark: str
    dataset: str
    protocol: str
    system: str
    model: str
    metrics: dict[str, float]
    fit_seconds: float | None = None
    epoch_seconds: float | None = None
    eval_seconds: float | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["extra"]:
            data.pop("extra")
        return data


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    default_data = os.environ.get("DEEPTARGET_DATA") or str(REPO.parent / "shared" / "data")
    p.add_argument(
        "--data-dir",
        default=default_data,
        help="datasets folder (default: $DEEPTARGET_DATA, else ../shared/data)",
    )
    p.add_argument("--out", default=None, help="write the JSON list of results here")
    return p


def markdown_table(records: list[BenchRecord], metric_names: list[str]) -> str:
    with_epochs = any(r.epoch_seconds is not None for r in records)
    timing = ["fit s", "s/epoch", "eval s"] if with_epochs else ["fit s", "eval s"]
    head = ["dataset", "protocol", "system", "model", *metric_names, *timing, "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        cells = [r.dataset, r.protocol, r.system, r.model]
        cells += [f"{r.metrics[m]:.4f}" if m in r.metrics else "–" for m in metric_names]
        cells += [_num(r.fit_seconds)] + ([_num(r.epoch_seconds)] if with_epochs else []) + [_num(r.eval_seconds)]
        cells.append(r.notes)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def write_results(records: list[BenchRecord], out: str | None) -> None:
    if out is None:
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.to_dict() for r in records], indent=2) + "\n", encoding="utf-8")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
