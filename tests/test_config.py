"""Typed configs: round trips, coercion at the edges, clear errors naming the field."""

from __future__ import annotations

import dataclasses

import pytest

from deeptarget.config import CleaningConfig, Config, DataConfig, RunConfig, SplitConfig, TrainConfig
from deeptarget.errors import ConfigError
from deeptarget.runs import with_overrides


def test_round_trip_through_dict() -> None:
    config = RunConfig.from_dict({"split": {"method": "leave_one_out"}, "data": {"dataset": "movielens-100k"}})
    again = RunConfig.from_dict(config.to_dict())
    assert again == config
    assert again.split.method == "leave_one_out"


def test_strings_from_the_edge_are_coerced() -> None:
    split = SplitConfig.from_dict({"ratios": ["0.75", "0", "0.25"], "seed": "7"})
    assert split.ratios == (0.75, 0.0, 0.25)
    assert split.seed == 7


@pytest.mark.parametrize(
    ("cls", "data", "fragment"),
    [
        (SplitConfig, {"method": "shuffle"}, "SplitConfig.method"),
        (SplitConfig, {"ratios": [0.5, 0.2, 0.2]}, "sum to 1"),
        (SplitConfig, {"seeed": 1}, "unknown field(s) ['seeed']"),
        (CleaningConfig, {"k_core": -1}, "k_core"),
        (CleaningConfig, {"k_core": 2.5}, "expected an integer"),
        (DataConfig, {"dataset": "x", "path": "y.csv"}, "exactly one"),
    ],
)
def test_bad_values_raise_config_error_naming_the_field(cls: type, data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        cls.from_dict(data)
    assert fragment in str(info.value)


def test_configs_are_frozen() -> None:
    config = SplitConfig()
    with pytest.raises(AttributeError):
        config.seed = 3  # type: ignore[misc]


def test_dotted_overrides() -> None:
    config = with_overrides(RunConfig(), {"model.params.l2": 100, "split.seed": 5, "model.name": "itemknn"})
    assert config.model.params == {"l2": 100}
    assert config.split.seed == 5
    assert config.model.name == "itemknn"
    with pytest.raises(ConfigError, match=r"split\.seed"):
        with_overrides(RunConfig(), {"split.seed.x": 1})


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ModelConfig(Config):
    train: TrainConfig = dataclasses.field(default_factory=lambda: TrainConfig(lr=3e-3, batch_size=256))


def test_partial_nested_section_overrides_the_field_default_not_the_class_default() -> None:
    config = _ModelConfig.from_dict({"train": {"epochs": 7}})
    assert config.train.epochs == 7
    assert config.train.lr == 3e-3  # kept from the model's tuned default
    assert config.train.batch_size == 256


def test_a_data_section_replaces_the_default_source() -> None:
    config = RunConfig.from_dict({"data": {"path": "x.csv"}})
    assert config.data.path == "x.csv"
    assert config.data.dataset is None
