"""Uplift runs: the stratified split, the config's checks and clear errors on bad campaign files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deeptarget.errors import ConfigError, DataError
from deeptarget.marketing.uplift import UpliftRunConfig, is_uplift_run, stratified_split, train_uplift_run


def test_stratified_split_keeps_every_arm_and_outcome_share() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"arm": rng.choice(["a", "b", "c"], 5000, p=[0.6, 0.3, 0.1]), "y": rng.random(5000) < 0.1})
    test = stratified_split(frame, ["arm", "y"], 0.3, seed=7)
    for _, group in frame.groupby(["arm", "y"]):
        assert test[group.index].sum() == round(len(group) * 0.3)
    np.testing.assert_array_equal(test, stratified_split(frame, ["arm", "y"], 0.3, seed=7))
    assert not np.array_equal(test, stratified_split(frame, ["arm", "y"], 0.3, seed=8))


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="treatment"):
        UpliftRunConfig.from_dict({"task": "uplift", "data": {"path": "x.csv", "label": "y"}})
    with pytest.raises(ConfigError, match="learner"):
        UpliftRunConfig.from_dict({"task": "uplift", "learner": "s-learner"})
    with pytest.raises(ConfigError, match="test_share"):
        UpliftRunConfig.from_dict({"task": "uplift", "split": {"test_share": 1.5}})


def test_bad_outcome_is_named_with_its_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "arm": ["t", "c", "t", "c"], "y": ["1", "0", "yes", "0"]})
    frame.to_csv(tmp_path / "test.csv", index=False)
    data = {"path": str(tmp_path / "test.csv"), "label": "y", "treatment": "arm", "control": "c"}
    config = UpliftRunConfig.from_dict({"task": "uplift", "data": data})
    with pytest.raises(DataError, match=r"outcome must be 0 or 1.*'yes'"):
        train_uplift_run(config, tmp_path / "run")
    assert not is_uplift_run(tmp_path / "run")
