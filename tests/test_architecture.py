"""Rules of the house, as tests: import direction, no side effects at import, no pickle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "deeptarget"

# data <- nn <- evaluation <- training <- models <- runs/marketing <- {viz, cli, service}
# Estimators own a Trainer and stop early on a validation metric, so the model-agnostic training engine and the
# metrics (which score any object with ``score_indices``) sit below models; neither imports a model.
LAYER = {
    "data": 0,
    "nn": 1,
    "evaluation": 2,
    "training": 3,
    "models": 4,
    "runs": 5,
    "loading": 5,
    "marketing": 5,
    "viz": 6,
    "cli": 6,
    "service": 6,
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _layer_of(module_path: Path) -> str | None:
    parts = module_path.relative_to(SRC).with_suffix("").parts
    return parts[0] if parts and parts[0] in LAYER else None


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_only_point_inwards(path: Path) -> None:
    own = _layer_of(path)
    if own is None:
        return
    for name in _imports(path):
        if not name.startswith("deeptarget."):
            continue
        target = name.split(".")[1]
        if target not in LAYER or target == own:
            continue
        assert LAYER[target] <= LAYER[own], (
            f"{path.relative_to(SRC)} ({own}) imports {name} ({target}): the core must not import outer layers"
        )


def test_no_pickle_in_the_package() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if any(n.split(".")[0] in {"pickle", "cloudpickle", "joblib", "dill"} for n in _imports(p))
    ]
    assert offenders == []


def test_import_has_no_heavy_or_outer_dependencies() -> None:
    code = (
        "import sys, deeptarget; "
        "bad = [m for m in ('fastapi', 'uvicorn', 'matplotlib', 'deeptarget.cli', 'deeptarget.service', "
        "'deeptarget.viz') if m in sys.modules]; print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
    assert result.stderr.strip() == ""  # nothing printed or warned at import
