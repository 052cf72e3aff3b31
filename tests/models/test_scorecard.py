"""The WOE binner and the logistic scorecard on applicants whose default risk is planted (label 1 = default)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.evaluation.classification import roc_auc
from deeptarget.models.credit.scorecard import LogisticScorecard, ScorecardConfig, WOEBinner
from deeptarget.registry import CLASSIFIERS

REGION_SHARES = {"north": 0.40, "south": 0.35, "east": 0.22, "islands": 0.03}  # islands: rare -> "other"
REGION_LOGIT = {"north": -0.6, "south": 0.0, "east": 0.6, "islands": 0.0}


def _planted_logit(frame: pd.DataFrame) -> np.ndarray:
    """Default log-odds: rises with utilisation, falls with income (missing income is riskier), by region."""
    income = frame["income"].to_numpy(dtype=float)
    income_term = np.where(np.isnan(income), 0.5, -0.8 * np.log(np.nan_to_num(income, nan=30.0) / 30.0))
    return np.asarray(
        -1.6 + 3.0 * (frame["utilization"].to_numpy() - 0.5) + income_term + frame["region"].map(REGION_LOGIT),
        dtype=float,
    )


def _applicants(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Applicants, their 0/1 default labels and their true probabilities of default."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(np.log(30.0), 0.5, n)
    frame = pd.DataFrame(
        {
            "utilization": rng.uniform(0.0, 1.0, n),
            "income": np.where(rng.random(n) < 0.1, np.nan, income),
            "region": rng.choice(list(REGION_SHARES), n, p=list(REGION_SHARES.values())),
            "noise": rng.normal(size=n),
        }
    )
    pd_true = 1.0 / (1.0 + np.exp(-_planted_logit(frame)))
    return frame, (rng.random(n) < pd_true).astype(np.int64), pd_true


TRAIN = _applicants(6000, 0)
TEST = _applicants(4000, 1)


@pytest.fixture(scope="module")
def binner() -> WOEBinner:
    return WOEBinner().fit(TRAIN[0], TRAIN[1])


@pytest.fixture(scope="module")
def model() -> LogisticScorecard:
    return LogisticScorecard().fit(TRAIN[0], TRAIN[1], valid=(TEST[0], TEST[1]))


# ---------------------------------------------------------------------------------------------------- binning
def test_planted_monotone_features_get_monotone_woe_and_sizeable_bins(binner: WOEBinner) -> None:
    n = len(TRAIN[0])
    for feature, direction in (("utilization", "increasing"), ("income", "decreasing")):
        assert binner.bins_[feature].direction == direction
        table = binner.table(feature)
        intervals = table[table["bin"] != "missing"]
        assert len(intervals) >= 4, table
        woe = intervals["woe"].to_numpy()
        # a bad rate rising with the value means a WOE falling with it
        assert np.all(np.diff(woe) < 0) if direction == "increasing" else np.all(np.diff(woe) > 0)
        assert (intervals["count"] >= 0.05 * n).all()
        assert ((intervals["bads"] > 0) & (intervals["bads"] < intervals["count"])).all()
    assert binner.table("utilization")["bin"].iloc[0].startswith("[-inf, ")
    assert binner.table("utilization")["bin"].iloc[-2].endswith(", inf)")


def test_woe_and_iv_follow_the_documented_formulas(binner: WOEBinner) -> None:
    table = binner.table("region")
    populated = table[table["count"] > 0]
    goods = populated["count"] - populated["bads"] + 0.5
    bads = populated["bads"] + 0.5
    good_share, bad_share = goods / goods.sum(), bads / bads.sum()
    np.testing.assert_allclose(populated["woe"], np.log(good_share / bad_share))
    np.testing.assert_allclose(binner.iv_["region"], ((good_share - bad_share) * np.log(good_share / bad_share)).sum())
    # the riskiest region has the lowest WOE
    assert populated.set_index("bin")["woe"].idxmin() == "east"


def test_forced_and_switched_off_directions() -> None:
    X, y, _ = TRAIN
    forced = WOEBinner(monotonic={"noise": "increasing", "utilization": "none"}).fit(X, y)
    noise = forced.table("noise")
    assert forced.bins_["noise"].direction == "increasing"
    assert np.all(np.diff(noise["woe"].to_numpy()[:-1]) < 0)  # the missing bin (last) aside
    assert forced.bins_["utilization"].direction == "none"
    unconstrained = WOEBinner(default_direction="none").fit(X, y)
    assert all(unconstrained.bins_[f].direction == "none" for f in ("utilization", "income", "noise"))


def test_rare_category_is_pooled_into_other_and_unseen_ones_go_there(binner: WOEBinner) -> None:
    X = TRAIN[0]
    table = binner.table("region")
    assert table["bin"].tolist() == ["east", "north", "south", "other", "missing"]
    other = table.set_index("bin").loc["other"]
    assert other["count"] == (X["region"] == "islands").sum() > 0
    odd = pd.DataFrame({"region": ["islands", "atlantis", None, "north"]})
    labels = binner.bin_labels(odd, ["region"])["region"].tolist()
    assert labels == ["other", "other", "missing", "north"]
    woe = binner.transform(odd, ["region"])["region"].to_numpy()
    assert woe[0] == woe[1] == other["woe"] and woe[2] == 0.0  # no missing region in training: neutral


def test_missing_values_get_their_own_bin_and_unbinned_missing_is_neutral(binner: WOEBinner) -> None:
    X = TRAIN[0]
    income = binner.table("income")
    is_missing = income["bin"] == "missing"
    missing_count, missing_woe = int(income["count"][is_missing].sum()), float(income["woe"][is_missing].sum())
    assert missing_count == X["income"].isna().sum() > 0
    assert missing_woe < 0  # missing income is planted riskier
    odd = pd.DataFrame({"utilization": [np.nan, np.inf], "income": [np.nan, 10.0]})
    woe = binner.transform(odd, ["utilization", "income"])
    assert woe["utilization"].tolist() == [0.0, 0.0]  # no missing utilisation in training
    assert woe["income"].iloc[0] == missing_woe
    assert binner.bin_labels(odd, ["utilization"])["utilization"].tolist() == ["missing", "missing"]


def test_numbers_written_as_text_are_binned_as_numbers() -> None:
    X, y, _ = TRAIN
    as_text = X.assign(utilization=X["utilization"].map(lambda v: f"{v:.6f}"))
    binner = WOEBinner().fit(as_text, y)
    assert binner.bins_["utilization"].kind == "numeric"
    assert binner.table("utilization")["bin"].iloc[0].startswith("[-inf, ")


def test_binner_round_trips_through_json(binner: WOEBinner) -> None:
    again = WOEBinner.from_dict(json.loads(json.dumps(binner.to_dict())))
    pd.testing.assert_frame_equal(again.transform(TEST[0]), binner.transform(TEST[0]))
    pd.testing.assert_frame_equal(again.bin_labels(TEST[0]), binner.bin_labels(TEST[0]))


# ---------------------------------------------------------------------------------------------------- scorecard
def test_noise_feature_has_small_iv_and_is_dropped(model: LogisticScorecard, caplog: pytest.LogCaptureFixture) -> None:
    iv = model.information_values()
    assert iv.index[-1] == "noise" and iv["noise"] < 0.02 and iv["utilization"] > 0.3
    assert iv.is_monotonic_decreasing
    assert set(model.features_) == {"utilization", "income", "region"}
    with caplog.at_level(logging.INFO, logger="deeptarget.models.credit.scorecard"):
        LogisticScorecard().fit(*TRAIN[:2])
    assert "noise" in caplog.text and "IV < 0.02" in caplog.text


def test_scorecard_ranks_held_out_applicants_nearly_as_well_as_the_truth(model: LogisticScorecard) -> None:
    X, y, pd_true = TEST
    probs = model.predict_proba(X)
    assert probs.shape == (len(X),) and np.all((probs > 0) & (probs < 1))
    # the planted probabilities are the best any model can do; WOE steps of a smooth logit lose a little
    ceiling = roc_auc(y, pd_true)
    auc = roc_auc(y, probs)
    assert ceiling > 0.7 and auc > ceiling - 0.02, (auc, ceiling)
    assert model.valid_auc_ == pytest.approx(auc)
    assert abs(probs.mean() - y.mean()) < 0.02  # logistic regression matches the base rate
    np.testing.assert_array_equal(model.predict(X), (probs >= 0.5).astype(np.int8))
    assert model.fit_seconds_ > 0


def test_points_of_a_row_add_up_to_its_score(model: LogisticScorecard) -> None:
    X = pd.concat([TEST[0].head(500), pd.DataFrame({"utilization": [np.nan], "income": [1e9], "region": ["?"]})])
    points = model.points(X)
    np.testing.assert_allclose(points.sum(axis=1).to_numpy(), model.score(X), rtol=0, atol=1e-9)
    # ...and the published table gives the same points
    table = model.points_table().set_index(["feature", "bin"])["points"]
    labels = model.binner_.bin_labels(X, model.features_)
    for feature in model.features_:
        looked_up = table.loc[feature].reindex(labels[feature]).to_numpy()
        np.testing.assert_allclose(looked_up, points[feature].to_numpy(), rtol=0, atol=1e-9)
    assert list(model.points_table().columns) == ["feature", "bin", "woe", "points"]


def test_pdo_scaling(model: LogisticScorecard) -> None:
    cfg = model.config
    assert model.score_from_proba([1.0 / (1.0 + cfg.base_odds)])[0] == pytest.approx(cfg.base_score)
    pd_a = 0.2  # odds good:bad 4
    pd_b = 1.0 / (1.0 + 2.0 * (1.0 - pd_a) / pd_a)  # odds 8: doubled
    a, b = model.score_from_proba([pd_a, pd_b])
    assert b - a == pytest.approx(cfg.pdo)
    # the score of applicants is the scaling of their PD; twice the odds is pdo more points
    X = TEST[0].head(200)
    scores, probs = model.score(X), model.predict_proba(X)
    np.testing.assert_allclose(scores, model.score_from_proba(probs), atol=1e-8)
    odds = (1.0 - probs) / probs
    np.testing.assert_allclose(scores - scores[0], cfg.pdo * np.log2(odds / odds[0]), atol=1e-8)
    custom = LogisticScorecard(ScorecardConfig(pdo=50.0, base_score=500.0, base_odds=1.0))
    assert custom.score_from_proba([0.5])[0] == pytest.approx(500.0)
    assert custom.factor == pytest.approx(50.0 / math.log(2.0)) and custom.offset == pytest.approx(500.0)
    with pytest.raises(DataError, match="proba"):
        model.score_from_proba([0.0])


def _best_and_worst(model: LogisticScorecard) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An applicant in every feature's best bin, and the same one with the worst utilisation."""
    table = model.points_table()
    region = table[table["feature"] == "region"]
    best_region = str(region["bin"].iloc[int(np.argmax(region["points"].to_numpy()))])
    assert best_region == "north"
    best = pd.DataFrame({"utilization": [0.001], "income": [1e6], "region": [best_region], "noise": [0.0]})
    return best, best.assign(utilization=[0.999])


def test_reason_codes_name_the_features_that_lost_most_points(model: LogisticScorecard) -> None:
    best, worst_utilization = _best_and_worst(model)
    reasons = model.reason_codes(pd.concat([best, worst_utilization], ignore_index=True), n=2)
    assert list(reasons.columns) == ["reason_1", "points_lost_1", "reason_2", "points_lost_2"]
    assert reasons["reason_1"].tolist() == ["", "utilization"]
    assert reasons["points_lost_1"].iloc[1] > 0 and reasons["points_lost_1"].iloc[0] == 0
    assert reasons["reason_2"].tolist() == ["", ""]
    # points lost = best points minus the applicant's, largest first, across many applicants
    X = TEST[0].head(300)
    full = model.reason_codes(X, n=5)  # more reasons asked than features: padded
    assert (full["reason_4"] == "").all() and (full["points_lost_5"] == 0).all()
    lost = np.column_stack([full[f"points_lost_{i}"] for i in range(1, 4)])
    assert np.all(np.diff(lost, axis=1) <= 1e-12)
    best_points = model.points_table().groupby("feature")["points"].max()
    points = model.points(X)
    row = 7
    expected = (best_points[list(model.features_)] - points.iloc[row]).sort_values(ascending=False)
    assert full["reason_1"].iloc[row] == expected.index[0]
    assert full["points_lost_1"].iloc[row] == pytest.approx(expected.iloc[0])
    with pytest.raises(ConfigError, match="n must be"):
        model.reason_codes(X, n=0)


def test_unseen_and_missing_values_never_crash_but_missing_columns_do(model: LogisticScorecard) -> None:
    odd = pd.DataFrame({"utilization": [np.nan, 5.0], "income": [None, -1.0], "region": ["atlantis", None]})
    probs = model.predict_proba(odd)  # the dropped "noise" column is not needed
    assert probs.shape == (2,) and np.isfinite(probs).all()
    assert model.reason_codes(odd).shape == (2, 8)
    with pytest.raises(DataError, match="region"):
        model.predict_proba(odd.drop(columns=["region"]))
    with pytest.raises(DataError, match="DataFrame"):
        model.predict_proba(odd.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(DataError, match="utilization"):
        model.predict_proba(odd.assign(utilization=["high", "low"]))


def test_save_load_round_trip_gives_identical_predictions(model: LogisticScorecard, tmp_path: Path) -> None:
    path = model.save(tmp_path / "scorecard")
    assert not list(path.glob("*.pkl")) and (path / "weights.safetensors").is_file()
    assert "binner" in json.loads((path / "encoders.json").read_text())
    loaded = LogisticScorecard.load(path)
    X = TEST[0]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.score(X), model.score(X))
    pd.testing.assert_frame_equal(loaded.points_table(), model.points_table())
    pd.testing.assert_frame_equal(loaded.reason_codes(X.head(50)), model.reason_codes(X.head(50)))
    assert loaded.config == model.config and loaded.features_ == model.features_
    from deeptarget.loading import load_model

    assert type(load_model(path)) is LogisticScorecard
    assert CLASSIFIERS.get("scorecard") is LogisticScorecard


def test_label_column_by_name_and_same_data_same_model() -> None:
    X, y, _ = TRAIN
    by_name = LogisticScorecard().fit(X.assign(default=y), "default")
    by_array = LogisticScorecard().fit(X, y)
    np.testing.assert_array_equal(by_name.predict_proba(TEST[0]), by_array.predict_proba(TEST[0]))
    assert "default" not in by_name.binner_.features_


def test_bad_labels_and_unfitted_use_raise_clear_errors() -> None:
    X, y, _ = TRAIN
    with pytest.raises(NotFittedError):
        LogisticScorecard().predict_proba(X)
    with pytest.raises(NotFittedError):
        WOEBinner().transform(X)
    with pytest.raises(DataError, match="0 or 1"):
        LogisticScorecard().fit(X, np.where(y == 1, 2, 0))
    with pytest.raises(DataError, match="every training label is 0"):
        LogisticScorecard().fit(X, np.zeros(len(X)))
    with pytest.raises(DataError, match="label column not in X"):
        LogisticScorecard().fit(X, "default")
    with pytest.raises(DataError, match="information value >= min_iv"):
        LogisticScorecard(ScorecardConfig(min_iv=5.0)).fit(X, y)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pdo": 0}, "pdo must be > 0"),
        ({"base_odds": -1}, "base_odds must be > 0"),
        ({"min_bin_share": 0.0}, r"min_bin_share must be in \(0, 0.5\]"),
        ({"max_prebins": 1}, "max_prebins must be >= 2"),
        ({"C": 0}, "C must be > 0"),
        ({"min_iv": -0.1}, "min_iv must be >= 0"),
        ({"monotone_increasing": ("a",), "monotone_decreasing": ("a",)}, "'a' is in both"),
        ({"monotone_default": "sideways"}, "monotone_default"),
        ({"pdq": 20}, "unknown field"),
    ],
)
def test_config_errors_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ScorecardConfig.from_dict(fields)


def test_config_round_trips_and_monotone_settings_are_checked_against_the_data() -> None:
    config = ScorecardConfig(monotone_decreasing=("income",), not_monotone=("noise",), pdo=40.0)
    assert ScorecardConfig.from_dict(config.to_dict()) == config
    assert config.monotonic == {"income": "decreasing", "noise": "none"}
    X, y, _ = TRAIN
    with pytest.raises(ConfigError, match="categorical"):
        LogisticScorecard(ScorecardConfig(monotone_increasing=("region",))).fit(X, y)
    with pytest.raises(ConfigError, match="not columns of X"):
        LogisticScorecard(ScorecardConfig(monotone_increasing=("salary",))).fit(X, y)
    with pytest.raises(ConfigError, match="takes a ScorecardConfig"):
        LogisticScorecard(config=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="directions must be one of"):
        WOEBinner(monotonic={"income": "up"})  # type: ignore[dict-item]
