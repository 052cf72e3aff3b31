"""Protocol cards: round trips, JSON, Markdown and validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deeptarget.errors import ConfigError
from deeptarget.evaluation import DEFAULT_CANDIDATES, ProtocolCard


def card(**changes: object) -> ProtocolCard:
    fields: dict[str, object] = {
        "dataset": "movielens-100k",
        "source": "/data/movielens-100k/u.data",
        "filters": {
            "cleaning": {"min_value": 3.0, "k_core": 10, "dedupe_user_item": True, "user_core": None},
            "removed": {"below_min_value": np.int64(17480), "k_core": 2127, "duplicates": 0},
        },
        "split": {"method": "random", "ratios": [0.8, 0.1, 0.1], "seed": 2020, "n_last": None},
        "ks": (5, 10, 20),
        "seed": 2020,
        "n_users": 939,
        "n_items": 1016,
        "n_train": 64000,
        "n_valid": 8000,
        "n_test": 8393,
    }
    fields.update(changes)
    return ProtocolCard(**fields)  # type: ignore[arg-type]


def test_round_trip_through_json() -> None:
    original = card()
    data = original.to_dict()
    text = json.dumps(data)  # numpy scalars became Python numbers
    back = ProtocolCard.from_dict(json.loads(text))
    assert back.to_dict() == data
    assert back.ks == (5, 10, 20)
    assert data["filters"]["removed"]["below_min_value"] == 17480
    assert data["candidates"] == DEFAULT_CANDIDATES
    assert "min(n_rel, k)" in data["metric_definitions"]


def test_markdown_names_the_protocol() -> None:
    lines = card().to_markdown().splitlines()
    assert lines[0] == (
        "**Protocol** movielens-100k (`/data/movielens-100k/u.data`): 939 users x 1,016 items; "
        "train / valid / test = 64,000 / 8,000 / 8,393 interactions"
    )
    filters = next(line for line in lines if line.startswith("- filters:"))
    assert "k_core=10" in filters and "dedupe_user_item=true" in filters
    assert "below_min_value=17,480" in filters and "duplicates" not in filters  # zero removals are left out
    assert "user_core" not in filters  # unset options are left out
    split = next(line for line in lines if line.startswith("- split:"))
    assert split == "- split: random 80/10/10 seed 2020"
    assert any(line.endswith("cut-offs k = 5, 10, 20") for line in lines)
    other_seed = card(seed=7).to_markdown()
    assert "run seed 7" in other_seed


def test_minimal_card() -> None:
    minimal = ProtocolCard(dataset="demo", n_users=2, n_items=3, n_train=4, n_test=2)
    text = minimal.to_markdown()
    assert "- filters" not in text and "- split" not in text
    assert "train / valid / test = 4 / 0 / 2" in text


def test_validation() -> None:
    with pytest.raises(ConfigError, match="n_test must be >= 0"):
        card(n_test=-1)
    with pytest.raises(ConfigError, match="ks"):
        card(ks=(0, 10))
    with pytest.raises(ConfigError, match=r"missing field\(s\) \['n_users'"):
        ProtocolCard.from_dict({"dataset": "demo", "n_items": 1, "n_train": 1, "n_test": 1})
    with pytest.raises(ConfigError, match="unknown field"):
        ProtocolCard.from_dict({**card().to_dict(), "colour": "red"})
    with pytest.raises(ConfigError, match="n_users: expected an integer"):
        ProtocolCard.from_dict({**card().to_dict(), "n_users": "many"})
