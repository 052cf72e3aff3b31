"""Small trained runs (a few seconds in all) and a registry built from them, shared by the service tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from deeptarget.config import TrainConfig
from deeptarget.data.synthetic import SyntheticConfig, SyntheticRetailer, generate_retailer
from deeptarget.models.recommend import EASE, EASEConfig
from deeptarget.models.recommend.mf import MatrixFactorization, MFConfig
from deeptarget.models.recommend.sequential import SASRec, SASRecConfig
from deeptarget.service.app import ServiceSettings, create_app
from deeptarget.service.registry import ModelRegistry

API_KEY = "test-key-123456"


@pytest.fixture(scope="session")
def retailer() -> SyntheticRetailer:
    return generate_retailer(SyntheticConfig(n_users=300, n_items=120, seed=3))


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, retailer: SyntheticRetailer) -> dict[str, Path]:
    """Run directories: ``ease``, ``ease2`` (another l2), ``mf``, ``sasrec``, ``response``, ``credit``, and the
    item-category table ``items``."""
    root = tmp_path_factory.mktemp("runs")
    train = retailer.to_interactions()
    quiet = TrainConfig(epochs=3, batch_size=256, lr=0.01, progress=False, seed=0)
    EASE(EASEConfig(l2=50.0)).fit(train).save(root / "ease" / "model")
    EASE(EASEConfig(l2=500.0)).fit(train).save(root / "ease2" / "model")
    MatrixFactorization(MFConfig(embedding_dim=8, item_bias=True, train=quiet)).fit(train).save(root / "mf" / "model")
    sasrec = SASRecConfig(embedding_dim=16, num_blocks=1, max_len=20, n_negatives=32, train=quiet)
    SASRec(sasrec).fit(train).save(root / "sasrec" / "model")
    retailer.items[["item", "category"]].to_csv(root / "items.csv", index=False)
    paths = {name: root / name for name in ("ease", "ease2", "mf", "sasrec")}
    paths["items"] = root / "items.csv"
    paths["response"] = _response_run(root)
    paths["credit"] = _credit_run(root)
    return paths


def _response_run(root: Path) -> Path:
    from deeptarget.marketing.campaigns import ResponseRunConfig, train_response_run

    rng = np.random.default_rng(0)
    n = 1500
    tenure = rng.integers(0, 10, n)
    plan = rng.choice(["basic", "gold"], n)
    p = 0.05 + 0.5 * (plan == "gold") * (tenure > 5)
    frame = pd.DataFrame({"tenure": tenure, "plan": plan, "bought": (rng.random(n) < p).astype(int)})
    frame.to_csv(root / "customers.csv", index=False)
    config = ResponseRunConfig.from_dict(
        {
            "task": "response",
            "name": "svc-response",
            "data": {"path": str(root / "customers.csv"), "label": "bought"},
            "split": {"method": "random", "ratios": [0.7, 0.15, 0.15], "seed": 1},
            "model": {"name": "logreg", "params": {"train": {"epochs": 10, "lr": 0.05, "progress": False}}},
        }
    )
    train_response_run(config, root / "response")
    return root / "response"


def _credit_run(root: Path) -> Path:
    from deeptarget.marketing.credit import CreditRunConfig, train_credit_run

    rng = np.random.default_rng(0)
    n = 2000
    late = rng.integers(0, 5, n)
    income = rng.lognormal(8, 0.5, n).round(0)
    logit = -2.5 + 0.8 * late - 0.8 * (np.log(income) - 8)
    frame = pd.DataFrame(
        {"late": late, "income": income, "defaulted": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)}
    )
    frame.to_csv(root / "loans.csv", index=False)
    config = CreditRunConfig.from_dict(
        {
            "task": "credit",
            "name": "svc-credit",
            "data": {"path": str(root / "loans.csv"), "label": "defaulted"},
            "split": {"test_share": 0.25, "valid_share": 0.1, "seed": 3},
            "model": {"name": "scorecard"},
            "pricing": {"lgd": 0.5, "pd_cutoff": 0.3},
        }
    )
    train_credit_run(config, root / "credit")
    return root / "credit"


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory, runs: dict[str, Path]) -> Path:
    """A registry with every kind promoted (version 1); copy it before changing it."""
    root = tmp_path_factory.mktemp("registry-template") / "registry"
    registry = ModelRegistry(root)
    for name in ("ease", "mf", "sasrec", "response", "credit"):
        items = runs["items"] if name in ("ease", "mf", "sasrec") else None
        version = registry.add(name, runs[name], items_file=items)
        registry.promote(name, version.version)
    return root


@pytest.fixture
def registry_dir(tmp_path: Path, registry_template: Path) -> Path:
    target = tmp_path / "registry"
    shutil.copytree(registry_template, target)
    return target


@pytest.fixture
def client(registry_dir: Path) -> Iterator[TestClient]:
    settings = ServiceSettings(registry=registry_dir, api_key=API_KEY, poll_seconds=0)
    with TestClient(create_app(settings)) as test_client:
        yield test_client
