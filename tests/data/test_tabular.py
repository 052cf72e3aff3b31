"""Tabular feature pipeline: train-only fitting, hand-computed transforms, stable hashing, JSON round trips."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deeptarget.data.tabular import (
    OOV_INDEX,
    PADDING_INDEX,
    CategoricalField,
    EncodedBatch,
    NumericField,
    TabularEncoder,
    TabularSchema,
    TextField,
    infer_schema,
)
from deeptarget.errors import ConfigError, DataError, NotFittedError

MIXED_SCHEMA = TabularSchema(
    fields=(
        CategoricalField(name="city", min_count=10),
        CategoricalField(name="vip"),
        CategoricalField(name="user_id", hash_buckets=512),
        CategoricalField(name="genres", multi_valued=True),
        TextField(name="review", max_length=5),
        NumericField(name="age"),
        NumericField(name="income", transform="log"),
        NumericField(name="score", transform="quantile", n_bins=8, missing_indicator=False),
    ),
    label="clicked",
)


def _mixed_frame(n_rows: int = 1000, seed: int = 7) -> pd.DataFrame:
    """A realistic customer table: skewed categories, missing values, multi-valued and free-text columns."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 31)
    city = rng.choice([f"city_{i}" for i in range(30)], size=n_rows, p=weights / weights.sum()).astype(object)
    city[rng.random(n_rows) < 0.05] = None
    genre_pool = np.array(["news", "sport", "music", "tech", "travel"])
    genres = ["|".join(rng.choice(genre_pool, size=k, replace=False)) for k in rng.integers(0, 4, n_rows)]
    words = np.array(["great", "offer", "late", "delivery", "refund", "thanks", "price", "quality"])
    reviews = [" ".join(rng.choice(words, size=k)).capitalize() + "!" for k in rng.integers(0, 9, n_rows)]
    age = rng.normal(40.0, 12.0, n_rows)
    age[rng.random(n_rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "city": city,
            "vip": rng.random(n_rows) < 0.2,
            "user_id": [f"u{i}" for i in rng.integers(0, 10**6, n_rows)],
            "genres": genres,
            "review": reviews,
            "age": age,
            "income": rng.lognormal(10.0, 1.0, n_rows),
            "score": rng.uniform(300.0, 850.0, n_rows),
            "clicked": (rng.random(n_rows) < 0.3).astype(np.int64),
        }
    )


@pytest.fixture(scope="module")
def mixed() -> tuple[pd.DataFrame, pd.DataFrame, TabularEncoder]:
    frame = _mixed_frame()
    train, test = frame.iloc[:800], frame.iloc[800:]  # test keeps its index 800..999
    return train, test, TabularEncoder(MIXED_SCHEMA).fit(train)


def _crc32(data: bytes) -> int:
    """CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit: the reference for the hashing trick."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _encode(field: CategoricalField | NumericField | TextField, train: list, test: list) -> EncodedBatch:
    encoder = TabularEncoder(TabularSchema(fields=(field,))).fit(pd.DataFrame({field.name: train}))
    return encoder.transform(pd.DataFrame({field.name: test}))


def _assert_same_batch(a: EncodedBatch, b: EncodedBatch) -> None:
    assert np.array_equal(a.categorical, b.categorical) and a.categorical.dtype == b.categorical.dtype
    assert np.array_equal(a.numeric, b.numeric) and a.numeric.dtype == b.numeric.dtype
    assert a.multi.keys() == b.multi.keys()
    for name in a.multi:
        assert np.array_equal(a.multi[name], b.multi[name])
    assert (a.label is None) == (b.label is None)
    if a.label is not None and b.label is not None:
        assert np.array_equal(a.label, b.label)
    assert (a.categorical_names, a.numeric_names, a.cardinalities) == (
        b.categorical_names,
        b.numeric_names,
        b.cardinalities,
    )


# -- categorical fields -------------------------------------------------------------------------------------------


def test_vocabulary_comes_from_training_rows_only() -> None:
    field = CategoricalField(name="city")
    batch = _encode(field, ["paris", "lyon", "paris", None], ["rome", "lyon", "paris", None, "  "])
    assert batch.categorical[:, 0].tolist() == [OOV_INDEX, 3, 2, PADDING_INDEX, PADDING_INDEX]
    assert batch.cardinalities == {"city": 4}


def test_min_count_and_max_vocab_keep_the_most_frequent_values() -> None:
    train = ["a"] * 5 + ["c"] * 3 + ["b"] * 3 + ["d"]
    test = ["a", "b", "c", "d"]
    assert _encode(CategoricalField(name="x"), train, test).categorical[:, 0].tolist() == [2, 3, 4, 5]
    assert _encode(CategoricalField(name="x", min_count=2), train, test).categorical[:, 0].tolist() == [2, 3, 4, 1]
    # ties (b, c: 3 each) are broken in sorted order, so max_vocab=2 keeps a and b
    assert _encode(CategoricalField(name="x", max_vocab=2), train, test).categorical[:, 0].tolist() == [2, 3, 1, 1]
    batch = _encode(CategoricalField(name="x", min_count=6), train, test)
    assert batch.categorical[:, 0].tolist() == [1, 1, 1, 1] and batch.cardinalities == {"x": 2}


def test_integers_floats_and_categoricals_are_one_value() -> None:
    """A missing value turns an integer column into floats; 3.0 must still be the category 3."""
    field = CategoricalField(name="n")
    expected = [3, 0, 1, 2]
    assert _encode(field, [1, 2, 2], [1.0, np.nan, 7.0, 2.0]).categorical[:, 0].tolist() == expected
    categories = pd.Categorical([1, None, 7, 2])
    assert _encode(field, [1, 2, 2], categories).categorical[:, 0].tolist() == expected
    assert _encode(field, [True, False, False], [True, None, "maybe", False]).categorical[:, 0].tolist() == expected


def test_hash_buckets_match_a_hand_computed_crc32() -> None:
    # 0xCBF43926 is the published CRC-32 check value of b"123456789": 3421780262 % 1000 = 262, + 2 reserved
    assert _crc32(b"123456789") == 0xCBF43926
    field = CategoricalField(name="id", hash_buckets=1000)
    assert _encode(field, ["x"], ["123456789", None]).categorical[:, 0].tolist() == [264, 0]
    assert _encode(field, ["x"], [123456789]).categorical[:, 0].tolist() == [264]
    assert _encode(field, ["x"], [123456789.0, np.nan]).categorical[:, 0].tolist() == [264, 0]
    values = ["apple", "u42", "Paris", "zürich"]
    expected = [2 + _crc32(v.encode("utf-8")) % 1000 for v in values]
    assert _encode(field, ["x"], values).categorical[:, 0].tolist() == expected


def test_hash_buckets_are_in_range_and_need_no_vocabulary() -> None:
    ids = [f"user-{i}" for i in np.random.default_rng(0).integers(0, 10**9, 2000)]
    encoder = TabularEncoder(TabularSchema(fields=(CategoricalField(name="id", hash_buckets=64),)))
    encoder.fit(pd.DataFrame({"id": ids[:1000]}))
    indices = encoder.transform(pd.DataFrame({"id": ids[1000:]})).categorical[:, 0]
    assert indices.min() >= 2 and indices.max() < 66 and len(np.unique(indices)) > 50
    assert encoder.cardinalities == {"id": 66}
    assert encoder.to_dict()["vocabularies"] == {}


def test_hash_buckets_are_stable_across_processes() -> None:
    code = textwrap.dedent(
        """
        import pandas as pd
        from deeptarget.data.tabular import CategoricalField, TabularEncoder, TabularSchema
        schema = TabularSchema(fields=(CategoricalField(name="id", hash_buckets=1000),))
        encoder = TabularEncoder(schema).fit(pd.DataFrame({"id": ["x"]}))
        print(encoder.transform(pd.DataFrame({"id": ["123456789", "apple", "u42"]})).categorical[:, 0].tolist())
        """
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    here = _encode(CategoricalField(name="id", hash_buckets=1000), ["x"], ["123456789", "apple", "u42"])
    assert result.stdout.strip() == str(here.categorical[:, 0].tolist())
    assert here.categorical[0, 0] == 264


def test_multi_valued_strings_and_lists() -> None:
    field = CategoricalField(name="genres", multi_valued=True)
    train = ["news|sport", "sport", None, "", "music| sport "]  # sport 3, music 1, news 1
    batch = _encode(field, train, ["news|jazz", "sport|sport|music", None])
    assert batch.multi["genres"].tolist() == [[4, 1, 0], [2, 2, 3], [0, 0, 0]]
    assert batch.cardinalities == {"genres": 5} and batch.categorical.shape == (3, 0)
    lists = pd.Series([["news", "sport"], [], None], dtype=object)
    assert _encode(field, train, lists).multi["genres"].tolist() == [[4, 2], [0, 0], [0, 0]]
    assert _encode(field, train, [None, None]).multi["genres"].tolist() == [[0], [0]]
    semicolons = CategoricalField(name="genres", multi_valued=True, separator=";")
    assert _encode(semicolons, ["a;b", "b"], ["b;a;c"]).multi["genres"].tolist() == [[2, 3, 1]]


def test_text_fields_are_bags_of_lowercase_words() -> None:
    train = ["Great offer, GREAT price!", "late delivery", None]  # great 2, then delivery late offer price
    test = ["Price: great!!", "unknown words", ""]
    batch = _encode(TextField(name="review"), train, test)
    assert batch.multi["review"].tolist() == [[6, 2], [1, 1], [0, 0]]
    assert batch.cardinalities == {"review": 7}
    assert _encode(TextField(name="review", max_tokens=2), train, test).multi["review"].tolist() == [
        [1, 2],
        [1, 1],
        [0, 0],
    ]
    assert _encode(TextField(name="review", min_count=2), train, test).multi["review"].tolist() == [
        [1, 2],
        [1, 1],
        [0, 0],
    ]
    # max_length applies to the training rows too: the vocabulary is their first words, great and late
    assert _encode(TextField(name="review", max_length=1), train, test).multi["review"].tolist() == [[1], [1], [0]]


# -- numeric fields -----------------------------------------------------------------------------------------------

TRAIN_X = [1.0, 2.0, 3.0, 4.0, np.nan]
TEST_X = [0.0, 2.5, 10.0, np.nan]
FILLED = np.array([0.0, 2.5, 10.0, 2.5])  # the missing value takes the training median, 2.5


def _log_expected() -> list[float]:
    logs = [math.log1p(x) for x in (1.0, 2.0, 3.0, 4.0)]
    mean, std = statistics.fmean(logs), statistics.pstdev(logs)
    return [(math.log1p(max(x, 0.0)) - mean) / std for x in FILLED]


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        ("standard", list((FILLED - 2.5) / math.sqrt(1.25))),
        ("minmax", list((FILLED - 1.0) / 3.0)),
        ("log", _log_expected()),
        ("none", list(FILLED)),
        # quantiles of 1..4 at 0, .25, .5, .75, 1 are 1, 1.75, 2.5, 3.25, 4: bins 0, 2, 3, 2 of 0..3
        ("quantile", [0.0, 2 / 3, 1.0, 2 / 3]),
    ],
)
def test_numeric_transforms_match_hand_computations(transform: str, expected: list[float]) -> None:
    field = NumericField.from_dict({"name": "x", "transform": transform, "n_bins": 4})
    batch = _encode(field, TRAIN_X, TEST_X)
    assert batch.numeric_names == ("x", "x__missing") and batch.numeric.dtype == np.float32
    np.testing.assert_allclose(batch.numeric[:, 0], expected, rtol=1e-6, atol=1e-7)
    assert batch.numeric[:, 1].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_quantile_edges_and_monotone_bins() -> None:
    encoder = TabularEncoder(TabularSchema(fields=(NumericField(name="x", transform="quantile", n_bins=4),)))
    encoder.fit(pd.DataFrame({"x": TRAIN_X}))
    assert encoder.numeric_stats_ is not None
    assert encoder.numeric_stats_["x"].edges == (1.0, 1.75, 2.5, 3.25, 4.0)

    values = np.random.default_rng(3).lognormal(0.0, 2.0, 1000)
    field = NumericField(name="x", transform="quantile", n_bins=10, missing_indicator=False)
    encoder = TabularEncoder(TabularSchema(fields=(field,))).fit(pd.DataFrame({"x": values}))
    grid = np.linspace(-10.0, values.max() * 2, 500)
    binned = encoder.transform(pd.DataFrame({"x": grid})).numeric[:, 0]
    assert np.all(np.diff(binned) >= 0) and binned[0] == 0.0 and binned[-1] == 1.0
    _, counts = np.unique(encoder.transform(pd.DataFrame({"x": values})).numeric[:, 0], return_counts=True)
    assert len(counts) == 10 and counts.min() >= 99 and counts.max() <= 101  # equal-frequency bins


def test_clip_constant_columns_and_no_indicator() -> None:
    clipped = _encode(NumericField(name="x", transform="none", clip=(0.0, 3.0)), TRAIN_X, TEST_X)
    assert clipped.numeric[:, 0].tolist() == [0.0, 2.5, 3.0, 2.5]  # train clipped to 1, 2, 3, 3: median 2.5
    constant = _encode(NumericField(name="x", missing_indicator=False), [5.0, 5.0, 5.0], [5.0, 7.0, None])
    assert constant.numeric.tolist() == [[0.0], [2.0], [0.0]] and constant.numeric_names == ("x",)


def test_numeric_text_at_predict_time_is_parsed_or_named() -> None:
    field = NumericField(name="age")
    batch = _encode(field, [10.0, 20.0, 30.0], ["20", " 30 ", "", None, "inf"])
    assert batch.numeric[:, 0].tolist() == pytest.approx([0.0, 1.224745, 0.0, 0.0, 0.0], abs=1e-6)
    assert batch.numeric[:, 1].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    with pytest.raises(DataError, match=r"column 'age': expected a number, got 'abc'.*'row': 2"):
        _encode(field, [10.0, 20.0], ["20", "abc", "x"])
    with pytest.raises(DataError, match=r"column 'age': expected a number, got '12,5'"):
        _encode(field, ["1", "12,5"], [1.0])


# -- the whole table ----------------------------------------------------------------------------------------------


def test_statistics_are_the_training_frames(mixed: tuple[pd.DataFrame, pd.DataFrame, TabularEncoder]) -> None:
    train, test, encoder = mixed
    stats = encoder.numeric_stats_
    assert stats is not None and encoder.n_train_rows_ == 800
    age = train["age"].to_numpy()
    assert stats["age"].shift == pytest.approx(np.nanmean(age), rel=1e-12)
    assert stats["age"].scale == pytest.approx(np.nanstd(age), rel=1e-12)
    assert stats["age"].fill == pytest.approx(np.nanmedian(age), rel=1e-12)
    log_income = np.log1p(train["income"].to_numpy())
    assert (stats["income"].shift, stats["income"].scale) == pytest.approx((log_income.mean(), log_income.std()))
    assert stats["score"].edges == pytest.approx(tuple(np.quantile(train["score"], np.linspace(0, 1, 9))))

    batch = encoder.transform(test)
    test_age = test["age"].to_numpy()
    expected = (np.where(np.isnan(test_age), np.nanmedian(age), test_age) - np.nanmean(age)) / np.nanstd(age)
    np.testing.assert_allclose(batch.numeric[:, 0], expected, rtol=1e-5, atol=1e-6)
    assert batch.numeric[:, 1].tolist() == np.isnan(test_age).astype(float).tolist()


def test_realistic_mixed_frame(mixed: tuple[pd.DataFrame, pd.DataFrame, TabularEncoder]) -> None:
    train, test, encoder = mixed
    batch = encoder.transform(test)
    assert len(batch) == 200 and batch.categorical.dtype == np.int64 and batch.numeric.dtype == np.float32
    assert batch.categorical_names == ("city", "vip", "user_id")
    assert batch.numeric_names == ("age", "age__missing", "income", "income__missing", "score")
    assert batch.categorical.shape == (200, 3) and batch.numeric.shape == (200, 5)
    assert list(batch.multi) == ["genres", "review"] and batch.multi["review"].shape[1] == 5
    assert batch.feature_names == encoder.feature_names
    assert np.isfinite(batch.numeric).all() and batch.label is not None
    assert batch.label.dtype == np.float32 and batch.label.tolist() == test["clicked"].tolist()
    for j, name in enumerate(batch.categorical_names):
        assert batch.categorical[:, j].min() >= 0 and batch.categorical[:, j].max() < batch.cardinalities[name]
    for name, matrix in batch.multi.items():
        assert matrix.dtype == np.int64 and matrix.min() >= 0 and matrix.max() < batch.cardinalities[name]

    # city against an independent implementation: count, keep >= 10, most frequent first, ties sorted
    counts = Counter(v for v in train["city"] if isinstance(v, str))
    kept = sorted((v for v, c in counts.items() if c >= 10), key=lambda v: (-counts[v], v))
    index = {v: i + 2 for i, v in enumerate(kept)}
    expected_city = [0 if not isinstance(v, str) else index.get(v, 1) for v in test["city"]]
    assert batch.categorical[:, 0].tolist() == expected_city
    assert batch.cardinalities["city"] == len(kept) + 2 < 32  # rare cities fell out of the vocabulary

    genre_vocab = encoder.vocabularies_["genres"] if encoder.vocabularies_ else ()
    width = batch.multi["genres"].shape[1]
    expected_genres = [
        [genre_vocab.index(g) + 2 for g in (cell.split("|") if cell else [])] + [0] * width for cell in test["genres"]
    ]
    assert batch.multi["genres"].tolist() == [row[:width] for row in expected_genres]

    bins = batch.numeric[:, 4]
    order = np.argsort(test["score"].to_numpy())
    assert np.all(np.diff(bins[order]) >= 0) and bins.min() >= 0.0 and bins.max() <= 1.0

    empty = encoder.transform(test.iloc[:0])
    assert empty.categorical.shape == (0, 3) and empty.numeric.shape == (0, 5) and empty.multi["genres"].shape == (0, 1)


def test_unseen_and_missing_values_never_crash(mixed: tuple[pd.DataFrame, pd.DataFrame, TabularEncoder]) -> None:
    _, test, encoder = mixed
    strange = test.head(4).copy()
    strange.index = ["a", "b", "c", "d"]
    strange["city"] = ["atlantis", None, "", 42]
    strange["vip"] = [None, None, None, None]
    strange["genres"] = ["opera|news", None, "", "|||"]
    strange["review"] = [None, "", "Ünïcode wörds", "!!!"]
    strange["age"] = [np.nan, np.inf, -np.inf, 1e12]
    strange["income"] = [-5.0, 0.0, np.nan, 1e300]
    strange["score"] = [-1e9, 1e9, np.nan, 500.0]
    strange = strange.drop(columns="clicked")
    batch = encoder.transform(strange)
    assert batch.categorical[:, 0].tolist() == [1, 0, 0, 1] and batch.categorical[:, 1].tolist() == [0, 0, 0, 0]
    assert batch.multi["genres"][:, 0].tolist() == [1, 0, 0, 0] and batch.multi["review"][:2].max() == 0
    assert np.isfinite(batch.numeric).all() and batch.label is None
    assert batch.numeric[:, 1].tolist() == [1.0, 1.0, 1.0, 0.0]  # infinities count as missing


def test_json_round_trip_gives_identical_arrays(
    mixed: tuple[pd.DataFrame, pd.DataFrame, TabularEncoder], tmp_path: Path
) -> None:
    _, test, encoder = mixed
    data = encoder.to_dict()
    from_json = TabularEncoder.from_dict(json.loads(json.dumps(data)))
    assert from_json.to_dict() == data and from_json.schema == encoder.schema
    _assert_same_batch(from_json.transform(test), encoder.transform(test))

    path = encoder.save(tmp_path / "model" / "tabular.json")
    assert sorted(p.name for p in path.parent.iterdir()) == ["tabular.json"]  # atomic write: no temporary left
    loaded = TabularEncoder.load(path)
    _assert_same_batch(loaded.transform(test), encoder.transform(test))
    assert json.loads(path.read_text(encoding="utf-8"))["schema"]["fields"][0]["kind"] == "categorical"


def test_saved_state_errors_name_the_field(
    mixed: tuple[pd.DataFrame, pd.DataFrame, TabularEncoder], tmp_path: Path
) -> None:
    _, _, encoder = mixed
    data = encoder.to_dict()
    del data["vocabularies"]["city"]
    with pytest.raises(DataError, match=r"column 'city': no vocabulary"):
        TabularEncoder.from_dict(data)
    data = encoder.to_dict()
    data["numeric"]["age"] = {"shift": 1.0}
    with pytest.raises(DataError, match=r"column 'age': malformed statistics"):
        TabularEncoder.from_dict(data)
    with pytest.raises(DataError, match="not found"):
        TabularEncoder.load(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match=r"broken.json: not valid JSON"):
        TabularEncoder.load(tmp_path / "broken.json")


def test_fit_and_transform_errors_name_the_column() -> None:
    schema = TabularSchema(fields=(CategoricalField(name="city"), NumericField(name="age")), label="clicked")
    encoder = TabularEncoder(schema)
    with pytest.raises(NotFittedError):
        encoder.transform(pd.DataFrame({"city": ["a"], "age": [1.0]}))
    with pytest.raises(DataError, match="empty frame"):
        encoder.fit(pd.DataFrame({"city": [], "age": []}))
    with pytest.raises(DataError, match=r"column 'age': no number in the training rows"):
        encoder.fit(pd.DataFrame({"city": ["a", "b"], "age": [None, np.nan]}))
    with pytest.raises(DataError, match=r"column 'city': no value in the training rows"):
        encoder.fit(pd.DataFrame({"city": [None, " "], "age": [1.0, 2.0]}))
    encoder.fit(pd.DataFrame({"city": ["a", "b"], "age": [1.0, 2.0]}))
    with pytest.raises(DataError, match=r"column 'city': not in the frame"):
        encoder.transform(pd.DataFrame({"age": [1.0]}))
    with pytest.raises(DataError, match=r"column 'clicked': the label is missing"):
        encoder.transform(pd.DataFrame({"city": ["a", "b"], "age": [1.0, 2.0], "clicked": [1, None]}))
    assert encoder.transform(pd.DataFrame({"city": ["a"], "age": [1.0], "clicked": [True]})).label.tolist() == [1.0]


# -- configs and schema inference ---------------------------------------------------------------------------------


def test_field_configs_validate_and_round_trip() -> None:
    with pytest.raises(ConfigError, match="hash_buckets replaces the vocabulary"):
        CategoricalField(name="id", hash_buckets=10, max_vocab=5)
    with pytest.raises(ConfigError, match=r"NumericField.transform: expected one of"):
        NumericField.from_dict({"name": "x", "transform": "cube"})
    with pytest.raises(ConfigError, match="clip must be"):
        NumericField(name="x", clip=(3.0, 1.0))
    with pytest.raises(ConfigError, match="max_length must be >= 1"):
        TextField(name="t", max_length=0)
    with pytest.raises(ConfigError, match="label: 'x' is also a feature"):
        TabularSchema(fields=(NumericField(name="x"),), label="x")
    with pytest.raises(ConfigError, match="clash with missing-indicator"):
        TabularSchema(fields=(NumericField(name="x"), CategoricalField(name="x__missing")))
    with pytest.raises(ConfigError):
        TabularSchema()
    schema = TabularSchema.from_dict(
        {"fields": [{"name": "city"}, {"kind": "text", "name": "review"}, {"kind": "numeric", "name": "age"}]}
    )
    assert [type(f) for f in schema.fields] == [CategoricalField, TextField, NumericField]
    assert TabularSchema.from_dict(json.loads(json.dumps(MIXED_SCHEMA.to_dict()))) == MIXED_SCHEMA
    with pytest.raises(ConfigError):
        TabularSchema.from_dict({"fields": [{"kind": "image", "name": "photo"}]})


def test_infer_schema_from_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "plan": ["a", "b", "c", "a"],
            "vip": [True, False, True, True],
            "segment": pd.Categorical(["x", "y", "x", "y"]),
            "age": [30, 40, 50, 60],
            "income": [1.0, 2.0, np.nan, 4.0],
            "signup": pd.to_datetime(["2024-01-01"] * 4),
            "clicked": [0, 1, 0, 1],
        }
    )
    schema = infer_schema(frame, label="clicked", max_categories=2)
    kinds = {f.name: type(f).__name__ for f in schema.fields}
    assert kinds == {
        "plan": "CategoricalField",
        "vip": "CategoricalField",
        "segment": "CategoricalField",
        "age": "NumericField",
        "income": "NumericField",
    }
    hashed = {f.name: f.hash_buckets for f in schema.fields if isinstance(f, CategoricalField)}
    assert hashed == {"plan": 2, "vip": None, "segment": None} and schema.label == "clicked"
    batch = TabularEncoder(schema).fit_transform(frame)
    assert batch.categorical.shape == (4, 3) and batch.label is not None and batch.label.tolist() == [0, 1, 0, 1]
    with pytest.raises(DataError, match=r"column 'churned': label column not in the frame"):
        infer_schema(frame, label="churned")


def test_infer_schema_reads_numbers_in_text_columns_but_keeps_codes() -> None:
    # what read_table gives for a CSV: every column as text
    frame = pd.DataFrame(
        {
            "spend": ["12.5", " 3", None, "", "-1e3"],
            "zip": ["02134", "10001", "94105", "02139", "60601"],
            "plan": ["1", "2", "gold", "1", "2"],
        }
    )
    kinds = {f.name: type(f).__name__ for f in infer_schema(frame).fields}
    assert kinds == {"spend": "NumericField", "zip": "CategoricalField", "plan": "CategoricalField"}
    batch = TabularEncoder(infer_schema(frame)).fit_transform(frame)
    assert batch.numeric.shape[0] == 5 and np.isfinite(batch.numeric).all()
