"""The model registry: versions, promotion, rollback, verification, atomic writes, and its CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deeptarget.cli.main import app
from deeptarget.errors import ConfigError, DataError
from deeptarget.service.registry import ModelRegistry, run_kind

runner = CliRunner()


def test_add_promote_rollback(tmp_path: Path, runs: dict[str, Path]) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    first = registry.add("recs", runs["ease"], items_file=runs["items"])
    second = registry.add("recs", runs["ease2"])
    assert (first.version, second.version) == ("1", "2") and first.kind == "recommender"
    assert first.items_file is not None and second.items_file is None
    assert registry.current("recs") is None
    registry.promote("recs", "1")
    registry.promote("recs", "2")
    current = registry.current("recs")
    assert current is not None and current.version == "2"
    assert registry.rollback("recs").version == "1"
    with pytest.raises(ConfigError, match="no earlier promoted version"):
        registry.rollback("recs")
    assert registry.versions("recs") == ["1", "2"] and registry.names() == ["recs"]
    with pytest.raises(ConfigError, match="has no version '7'; known: 1, 2"):
        registry.promote("recs", "7")
    with pytest.raises(ConfigError, match="already has a version '1'"):
        registry.add("recs", runs["ease"], version="1")
    with pytest.raises(ConfigError, match="model name 'bad name'"):
        registry.add("bad name", runs["ease"])
    # no staging leftovers, and the pointer is plain JSON
    assert not [p for p in (tmp_path / "reg" / "recs").iterdir() if p.name.startswith(".")]
    assert json.loads((tmp_path / "reg" / "recs" / "current.json").read_text())["history"] == ["1"]


def test_kinds_come_from_the_run(runs: dict[str, Path], tmp_path: Path) -> None:
    assert run_kind(runs["response"]) == "response" and run_kind(runs["credit"]) == "credit"
    assert run_kind(runs["sasrec"]) == "recommender"
    with pytest.raises(DataError, match="not a run directory"):
        run_kind(tmp_path)


def test_corrupt_or_partial_versions_are_refused(tmp_path: Path, runs: dict[str, Path]) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    version = registry.add("recs", runs["ease"])
    registry.verify(version)
    weights = version.path / "model" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(DataError, match="corrupt"):
        registry.promote("recs", "1")
    weights.unlink()
    with pytest.raises(DataError, match="partial artifact"):
        registry.verify(version)
    assert registry.current("recs") is None


def test_registry_cli(tmp_path: Path, runs: dict[str, Path]) -> None:
    reg = str(tmp_path / "reg")
    result = runner.invoke(app, ["registry", "add", "recs", str(runs["ease"]), "--registry", reg, "--promote"])
    assert result.exit_code == 0, result.output
    assert "added recs version 1 (recommender)" in result.output and "promoted recs to version 1" in result.output
    assert runner.invoke(app, ["registry", "add", "recs", str(runs["ease2"]), "--registry", reg]).exit_code == 0
    result = runner.invoke(app, ["registry", "promote", "recs", "2", "--registry", reg])
    assert result.exit_code == 0 and "promoted recs to version 2" in result.output
    result = runner.invoke(app, ["registry", "list", "--registry", reg])
    assert result.exit_code == 0 and "recs" in result.output and "1, 2" in result.output
    result = runner.invoke(app, ["registry", "rollback", "recs", "--registry", reg])
    assert result.exit_code == 0 and "rolled recs back to version 1" in result.output
    result = runner.invoke(app, ["registry", "promote", "recs", "9", "--registry", reg])
    assert result.exit_code == 2 and "has no version '9'" in result.output


def test_recommend_all_streams_to_parquet(tmp_path: Path, runs: dict[str, Path]) -> None:
    import pandas as pd

    out = tmp_path / "recs.parquet"
    args = ["recommend", str(runs["ease"]), "--all", "--out", str(out), "-k", "5", "--batch-size", "64"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    recs = pd.read_parquet(out)
    assert recs["user"].nunique() == 300 and len(recs) == 300 * 5
    assert list(recs.columns) == ["user", "rank", "item", "score"]
    result = runner.invoke(app, ["recommend", str(runs["ease"]), "--all"])
    assert result.exit_code != 0 and "--out" in result.output
