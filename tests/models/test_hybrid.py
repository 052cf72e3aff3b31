"""The hybrid two-tower model: feature encoding, cold-start items from categories / text / images, new users from
features and request-time histories, persistence and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from deeptarget.config import TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError, DataError
from deeptarget.loading import load_model
from deeptarget.models.recommend.hybrid import CategoryEncoder, Hybrid, HybridConfig
from deeptarget.nn.hybrid import ItemTower, TwoTowerNetwork, UserTower

N_GROUPS, ITEMS_PER_GROUP, COLD_PER_GROUP = 4, 10, 2
GROUP_WORDS = ["crimson", "azure", "olive", "amber"]
COLOURS = [(200, 30, 30), (30, 30, 200), (30, 160, 30), (230, 180, 20)]


def catalogue() -> pd.DataFrame:
    """40 items in 4 groups: the group shows in the category, a title word, and the image colour."""
    rng = np.random.default_rng(0)
    rows = []
    for g in range(N_GROUPS):
        for j in range(ITEMS_PER_GROUP):
            noise = ["plain", "classic", "new", "soft", "big"][int(rng.integers(5))]
            rows.append(
                {"item": f"i{g}{j:02d}", "kind": f"k{g}", "tags": f"t{g}|shared", "title": f"{noise} {GROUP_WORDS[g]}"}
            )
    return pd.DataFrame(rows).set_index("item")


def is_cold(item: str) -> bool:
    return int(item[2:]) >= ITEMS_PER_GROUP - COLD_PER_GROUP


def interactions(n_users: int = 160, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Users of group g buy 5 warm items of group g; their segment feature is g."""
    rng = np.random.default_rng(seed)
    rows, users = [], []
    warm = ITEMS_PER_GROUP - COLD_PER_GROUP
    for u in range(n_users):
        g = u % N_GROUPS
        users.append({"user": f"u{u:03d}", "segment": f"s{g}"})
        for j in rng.choice(warm, size=5, replace=False):
            rows.append({"user": f"u{u:03d}", "item": f"i{g}{j:02d}"})
    return pd.DataFrame(rows), pd.DataFrame(users).set_index("user")


def train_config(**changes: Any) -> TrainConfig:
    return TrainConfig(epochs=25, batch_size=64, lr=0.01, patience=None, device="cpu", num_threads=1, seed=3).replace(
        **changes
    )


def config(**changes: Any) -> HybridConfig:
    return HybridConfig(
        embedding_dim=16, dropout=0.0, id_dropout=0.5, n_negatives=16, temperature=0.2, train=train_config()
    ).replace(**changes)


@pytest.fixture(scope="module")
def data() -> tuple[Interactions, pd.DataFrame, pd.DataFrame]:
    frame, users = interactions()
    return Interactions.from_frame(frame, source="groups"), catalogue(), users


def cold_hit_rate(model: Hybrid, train: Interactions, items: pd.DataFrame) -> float:
    """Share of users whose best cold item belongs to their own group."""
    cold = items[[is_cold(i) for i in items.index]]
    model.add_items(cold)
    users = train.user_encoder.raw_ids
    scores = model.score(users, item_ids=cold.index.to_numpy())
    best = cold.index.to_numpy()[scores.argmax(1)]
    groups = np.array([int(u[1:]) % N_GROUPS for u in users])
    return float(np.mean([int(item[1]) == g for item, g in zip(best, groups, strict=True)]))


@pytest.mark.parametrize(
    "features",
    [
        {"item_categorical": ("kind",)},
        {"item_categorical": ("tags",)},  # multi-valued: the shared tag carries no signal
        {"item_text": ("title",), "text_min_count": 1},
        {"item_text": ("title",), "text_min_count": 1, "text_encoder": "bigru"},
    ],
    ids=["category", "multi-valued", "text-cnn", "text-bigru"],
)
def test_cold_items_are_recommended_from_their_features(
    features: dict[str, Any], data: tuple[Interactions, pd.DataFrame, pd.DataFrame]
) -> None:
    train, items, _ = data
    warm = items[[not is_cold(i) for i in items.index]]
    model = Hybrid(config(**features)).fit(train, item_features=warm)
    assert cold_hit_rate(model, train, items) > 0.9


def test_without_features_cold_items_are_guesswork(data: tuple[Interactions, pd.DataFrame, pd.DataFrame]) -> None:
    train, items, _ = data
    model = Hybrid(config()).fit(train)
    cold = items[[is_cold(i) for i in items.index]]
    model.add_items(cold[[]])  # no feature columns: every cold item gets the same vector
    scores = model.score(train.user_encoder.raw_ids[:5], item_ids=cold.index.to_numpy())
    np.testing.assert_allclose(scores, scores[:, :1].repeat(scores.shape[1], axis=1), rtol=1e-5)


def test_cold_items_from_images(tmp_path: Path, data: tuple[Interactions, pd.DataFrame, pd.DataFrame]) -> None:
    train, items, _ = data
    rng = np.random.default_rng(0)
    paths = []
    for item in items.index:
        colour = np.array(COLOURS[int(item[1])], dtype=np.int16)
        pixels = np.clip(colour + rng.integers(-25, 26, size=(20, 16, 3)), 0, 255).astype(np.uint8)
        path = tmp_path / f"{item}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    with_images = items.assign(image=paths)
    warm = with_images[[not is_cold(i) for i in items.index]]
    cfg = config(item_image="image", image_size=16, image_channels=(8, 16), augment=True)
    model = Hybrid(cfg).fit(train, item_features=warm)
    assert cold_hit_rate(model, train, with_images) > 0.9


def test_new_users_are_served_from_features_and_histories(
    data: tuple[Interactions, pd.DataFrame, pd.DataFrame],
) -> None:
    train, items, users = data
    warm = items[[not is_cold(i) for i in items.index]]
    model = Hybrid(config(item_categorical=("kind",), user_categorical=("segment",))).fit(
        train, item_features=warm, user_features=users
    )
    # from features alone: segment s2 gets group-2 items
    ids, scores = model.recommend_new_users(pd.DataFrame({"segment": ["s2", "s0"]}), k=3)
    assert ids.shape == scores.shape == (2, 3)
    assert all(item.startswith("i2") for item in ids[0]) and all(item.startswith("i0") for item in ids[1])
    # unseen feature values never fail
    ids, _ = model.recommend_new_users(pd.DataFrame({"segment": ["never-seen"]}), k=2)
    assert ids.shape == (1, 2)
    # from a history passed at request time (unknown ids ignored); its items are not recommended back
    model = Hybrid(config(item_categorical=("kind",))).fit(train, item_features=warm)
    history = ["i300", "i301", "nope"]
    ids, _ = model.recommend_new_users(histories=[history, []], k=4)
    assert ids[0][0].startswith("i3") and sum(item.startswith("i3") for item in ids[0]) >= 3
    assert not set(ids[0]) & set(history)
    assert not ids[1][0].startswith("i3")  # an empty history does not give the same answer
    with pytest.raises(ConfigError, match="needs user_features, histories"):
        model.recommend_new_users(k=2)
    with pytest.raises(ConfigError, match="not the string"):
        model.recommend_new_users(histories=["i300"], k=2)


def test_save_load_keeps_scores_cold_items_and_vocabularies(
    tmp_path: Path, data: tuple[Interactions, pd.DataFrame, pd.DataFrame]
) -> None:
    train, items, _ = data
    warm = items[[not is_cold(i) for i in items.index]]
    cold = items[[is_cold(i) for i in items.index]]
    model = Hybrid(config(item_categorical=("kind",), item_text=("title",), text_min_count=1)).fit(
        train, item_features=warm
    )
    model.add_items(cold.iloc[:4])
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, Hybrid) and loaded.n_items == model.n_items == len(warm) + 4
    users = train.user_encoder.raw_ids[:10]
    np.testing.assert_allclose(loaded.score(users), model.score(users), rtol=1e-5, atol=1e-5)
    # the loaded model encodes further cold items exactly as the original
    loaded.add_items(cold.iloc[4:])
    model.add_items(cold.iloc[4:])
    np.testing.assert_allclose(loaded.score(users), model.score(users), rtol=1e-5, atol=1e-5)
    assert (tmp_path / "m" / "encoders.json").read_text().count("crimson") == 1


def test_same_seed_same_scores(data: tuple[Interactions, pd.DataFrame, pd.DataFrame]) -> None:
    train, items, _ = data
    cfg = config(item_categorical=("kind",), train=train_config(epochs=3))
    a = Hybrid(cfg).fit(train, item_features=items).score(["u000", "u001"])
    b = Hybrid(cfg).fit(train, item_features=items).score(["u000", "u001"])
    np.testing.assert_array_equal(a, b)


def test_category_encoder_handles_multi_values_unknowns_and_missing() -> None:
    frame = pd.DataFrame({"g": ["a|b", "b", None, "a| c "], "h": [1, 2, 2, np.nan]})
    enc = CategoryEncoder.fit(frame, ["g", "h"], min_count=2)
    assert enc.tokens == ["g=a", "g=b", "h=2"]
    out = enc.transform(pd.DataFrame({"g": ["c|b|a", "zzz"], "h": [2, 7]}))
    assert out.shape == (2, enc.width)
    assert enc.width == 3  # the widest training row: "a|b" and h=1
    assert sorted(out[0][out[0] > 0].tolist()) == [1, 2, 3]
    assert out[1].tolist() == [0] * enc.width
    assert CategoryEncoder.from_dict(enc.to_dict()).tokens == enc.tokens
    with pytest.raises(DataError, match="no column"):
        enc.transform(pd.DataFrame({"g": ["a"]}))


def test_fit_refuses_missing_features_and_bad_frames(data: tuple[Interactions, pd.DataFrame, pd.DataFrame]) -> None:
    train, items, _ = data
    with pytest.raises(DataError, match="pass item_features"):
        Hybrid(config(item_categorical=("kind",))).fit(train)
    with pytest.raises(DataError, match="no column"):
        Hybrid(config(item_categorical=("colour",))).fit(train, item_features=items)
    with pytest.raises(DataError, match="duplicates"):
        Hybrid(config(item_categorical=("kind",))).fit(train, item_features=pd.concat([items, items.iloc[:1]]))
    model = Hybrid(config(train=train_config(epochs=1))).fit(train)
    with pytest.raises(DataError, match="already in the catalogue"):
        model.add_items(items.iloc[:2])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id_dropout": -0.1}, "id_dropout"),
        ({"temperature": 0.0}, "temperature"),
        ({"text_encoder": "lstm"}, "text_encoder"),
        ({"item_categorical": ("a",), "item_text": ("a",)}, "named twice"),
    ],
)
def test_invalid_configs_raise(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HybridConfig(**fields)


def test_towers_mask_padding_and_the_missing_id() -> None:
    torch.manual_seed(0)
    items = ItemTower(5, 8, n_categories=4).eval()
    a = items(torch.tensor([0]), categories=torch.tensor([[2, 3, 0]]))
    b = items(torch.tensor([0]), categories=torch.tensor([[2, 3, 0, 0, 0]]))
    torch.testing.assert_close(a, b)
    users = UserTower(3, 5, 8).eval()
    torch.testing.assert_close(
        users(torch.tensor([1]), torch.tensor([[0, 2]])), users(torch.tensor([1]), torch.tensor([[2]]))
    )
    net = TwoTowerNetwork(users, items, temperature=0.5)
    u, v = net.finish(torch.randn(2, 8)), net.finish(torch.randn(3, 8))
    assert net.logits(u, v).abs().max() <= 2.0 + 1e-5  # unit vectors / 0.5
    with pytest.raises(ValueError, match="pass categories"):
        items(torch.tensor([1]))


def test_a_run_passes_the_datasets_side_features(tmp_path: Path) -> None:
    from deeptarget.config import DataConfig, ModelSpec, RunConfig, SplitConfig
    from deeptarget.runs import train_run

    params = config(
        item_categorical=("category",),
        item_text=("description",),
        user_categorical=("segment", "region"),
        train=train_config(epochs=2, batch_size=256),
    ).to_dict()
    run = RunConfig(
        data=DataConfig(dataset="synthetic", params={"n_users": 150, "n_items": 60, "seed": 0}),
        split=SplitConfig(method="random", ratios=(0.8, 0.1, 0.1)),
        model=ModelSpec(name="hybrid", params=params),
    )
    result = train_run(run, tmp_path / "run")
    model = result.model
    assert isinstance(model, Hybrid)
    assert any(t.startswith("category=") for t in model.item_categories_.tokens)
    assert any(t.startswith("segment=") for t in model.user_category_encoder_.tokens)
    assert model.text_vocabulary_ is not None and len(model.text_vocabulary_) > 2
    assert 0.0 <= result.metrics["test"]["ndcg@10"] <= 1.0
    assert isinstance(load_model(tmp_path / "run" / "model"), Hybrid)
