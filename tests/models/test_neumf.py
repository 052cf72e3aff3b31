"""NeuMF: the towers and their fusion, vectorised chunked scoring, BCE / BPR training, pre-training."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from deeptarget.config import TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError
from deeptarget.models.recommend.neumf import NeuMF, NeuMFConfig
from deeptarget.nn.ncf import GMFTower, MLPTower, NeuMFNetwork

N_GROUPS, USERS_PER_GROUP, BLOCK = 3, 10, 6


def tiny_train(**changes: object) -> TrainConfig:
    config = TrainConfig(epochs=20, batch_size=32, lr=0.02, l2=0.02, device="cpu", progress=False, num_threads=1)
    return config.replace(**changes)


def planted() -> tuple[Interactions, pd.DataFrame]:
    """Each group of users buys from its own block of items; every user's one missing block item is held out."""
    rows, held = [], []
    for g in range(N_GROUPS):
        for u in range(USERS_PER_GROUP):
            user, missing = f"g{g}u{u}", g * BLOCK + u % BLOCK
            held.append({"user": user, "item": missing})
            rows += [{"user": user, "item": g * BLOCK + j} for j in range(BLOCK) if g * BLOCK + j != missing]
    return Interactions.from_frame(pd.DataFrame(rows), source="planted"), pd.DataFrame(held)


@pytest.fixture(scope="module")
def data() -> tuple[Interactions, pd.DataFrame]:
    return planted()


def neumf_config(**changes: object) -> NeuMFConfig:
    return NeuMFConfig(embedding_dim=8, mlp_layers=(16, 8), n_negatives=2, train=tiny_train()).replace(**changes)


@pytest.fixture(scope="module")
def bce_model(data: tuple[Interactions, pd.DataFrame]) -> NeuMF:
    return NeuMF(neumf_config()).fit(data[0])


def hits(model: NeuMF, held: pd.DataFrame) -> float:
    ids, _ = model.recommend(held["user"].to_numpy(), k=1)
    return float(np.mean(ids[:, 0] == held["item"].to_numpy()))


# ------------------------------------------------------------------ the modules
def test_mlp_tower_equals_the_mlp_of_the_concatenated_embeddings() -> None:
    torch.manual_seed(0)
    tower = MLPTower(n_users=5, n_items=7, embedding_dim=4, layers=(8, 6, 3)).eval()
    users, items = torch.tensor([0, 4, 2]), torch.tensor([[6, 0], [1, 1], [3, 5]])
    concatenated = torch.cat(
        [tower.user_embedding(users)[:, None, :].expand(-1, 2, -1), tower.item_embedding(items)], dim=-1
    )
    with torch.no_grad():
        torch.testing.assert_close(tower(users, items), tower.mlp(concatenated))
        torch.testing.assert_close(tower(users, items[:, 0]), tower.mlp(concatenated[:, 0]))


def test_gmf_tower_is_the_elementwise_product() -> None:
    tower = GMFTower(n_users=3, n_items=4, embedding_dim=5)
    users, items = torch.tensor([2, 0]), torch.tensor([1, 3])
    expected = tower.user_embedding.weight[users] * tower.item_embedding.weight[items]
    torch.testing.assert_close(tower(users, items), expected)


@pytest.mark.parametrize("towers", ["neumf", "gmf", "mlp"])
def test_score_all_equals_the_pairwise_logits(towers: Any) -> None:
    torch.manual_seed(1)
    net = NeuMFNetwork(n_users=9, n_items=13, embedding_dim=4, mlp_embedding_dim=6, mlp_layers=(10, 5), towers=towers)
    net.eval()
    users = torch.tensor([8, 0, 3, 3, 5])
    every_item = torch.arange(13).expand(len(users), -1)
    with torch.no_grad():
        torch.testing.assert_close(net.score_all(users), net(users, every_item))


def test_chunked_scoring_equals_unchunked_scoring() -> None:
    torch.manual_seed(2)
    net = NeuMFNetwork(n_users=40, n_items=30, embedding_dim=4, mlp_embedding_dim=4, mlp_layers=(12, 6)).eval()
    users = torch.arange(40)
    with torch.no_grad():
        whole = net.score_all(users, max_floats=10**9)  # one chunk
        one_user_at_a_time = net.score_all(users, max_floats=1)  # 40 chunks
        seven_users = net.score_all(users, max_floats=7 * 30 * 12)  # 6 chunks, the last one smaller
    torch.testing.assert_close(one_user_at_a_time, whole)
    torch.testing.assert_close(seven_users, whole)
    assert whole.shape == (40, 30)


def test_load_pretrained_copies_the_towers_and_weighs_the_output_layer() -> None:
    torch.manual_seed(3)
    kwargs: dict[str, Any] = {"n_users": 5, "n_items": 6, "embedding_dim": 4, "mlp_embedding_dim": 3}
    gmf = NeuMFNetwork(**kwargs, mlp_layers=(8, 4), towers="gmf")
    mlp = NeuMFNetwork(**kwargs, mlp_layers=(8, 4), towers="mlp")
    net = NeuMFNetwork(**kwargs, mlp_layers=(8, 4))
    assert gmf.gmf is not None and mlp.mlp is not None and net.gmf is not None and net.mlp is not None
    net.load_pretrained_(gmf, mlp, alpha=0.3)
    for name, value in gmf.gmf.state_dict().items():
        assert torch.equal(net.gmf.state_dict()[name], value), name
    for name, value in mlp.mlp.state_dict().items():
        assert torch.equal(net.mlp.state_dict()[name], value), name
    torch.testing.assert_close(net.output.weight[:, :4], 0.3 * gmf.output.weight)
    torch.testing.assert_close(net.output.weight[:, 4:], 0.7 * mlp.output.weight)
    torch.testing.assert_close(net.output.bias, 0.3 * gmf.output.bias + 0.7 * mlp.output.bias)
    # hence NeuMF's logit is the alpha-weighted sum of the two towers' logits
    users, items = torch.tensor([0, 4]), torch.tensor([5, 2])
    with torch.no_grad():
        torch.testing.assert_close(net(users, items), 0.3 * gmf(users, items) + 0.7 * mlp(users, items))
    with pytest.raises(ValueError, match="'gmf' and an 'mlp'"):
        net.load_pretrained_(mlp, gmf)


# ------------------------------------------------------------------ training
@pytest.mark.parametrize("loss", ["bce", "bpr"])
def test_loss_decreases_and_planted_items_are_recovered(loss: str, data: tuple[Interactions, pd.DataFrame]) -> None:
    model = NeuMF(neumf_config(loss=loss)).fit(data[0])
    losses = model.history_["train/loss"]
    assert len(losses) == 20
    assert losses[-1] < 0.5 * losses[0]
    assert hits(model, data[1]) == 1.0


def test_an_untrained_model_does_not_recover_the_planted_items(data: tuple[Interactions, pd.DataFrame]) -> None:
    model = NeuMF(neumf_config(train=tiny_train(epochs=1, lr=1e-5))).fit(data[0])
    assert hits(model, data[1]) < 0.5


def test_pretraining_initialises_neumf_from_the_trained_towers(
    data: tuple[Interactions, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    original = NeuMFNetwork.load_pretrained_

    def spy(self: NeuMFNetwork, gmf: NeuMFNetwork, mlp: NeuMFNetwork, alpha: float = 0.5) -> NeuMFNetwork:
        seen["fresh"] = {k: v.clone() for k, v in self.state_dict().items()}
        result = original(self, gmf, mlp, alpha)
        seen.update(gmf=gmf, mlp=mlp, alpha=alpha, initial={k: v.clone() for k, v in self.state_dict().items()})
        return result

    monkeypatch.setattr(NeuMFNetwork, "load_pretrained_", spy)
    pretrain = tiny_train(epochs=8, lr=0.03)
    config = neumf_config(pretrain=True, pretrain_train=pretrain, alpha=0.4, train=tiny_train(epochs=3))
    model = NeuMF(config).fit(data[0])

    assert set(model.pretrain_history_) == {"gmf", "mlp"}
    for history in model.pretrain_history_.values():
        assert len(history) == 8
        assert history["train/loss"][-1] < history["train/loss"][0]
    assert len(model.history_) == 3
    gmf, mlp, initial = seen["gmf"], seen["mlp"], seen["initial"]
    assert seen["alpha"] == 0.4
    # NeuMF started from the trained towers (which differ from a fresh initialisation) ...
    for name, value in gmf.gmf.state_dict().items():
        assert torch.equal(initial[f"gmf.{name}"], value), name
        assert not torch.equal(seen["fresh"][f"gmf.{name}"], value), name
    for name, value in mlp.mlp.state_dict().items():
        assert torch.equal(initial[f"mlp.{name}"], value), name
    torch.testing.assert_close(initial["output.weight"][:, :8], 0.4 * gmf.output.weight)
    torch.testing.assert_close(initial["output.weight"][:, 8:], 0.6 * mlp.output.weight)
    # ... and was trained further from there
    final = model.network_.state_dict()
    assert not torch.equal(final["gmf.user_embedding.weight"], initial["gmf.user_embedding.weight"])
    assert hits(model, data[1]) == 1.0


def test_pretraining_with_validation_writes_the_tower_histories(
    data: tuple[Interactions, pd.DataFrame], tmp_path: Path
) -> None:
    train, held = data
    valid = Interactions.from_frame(held, source="held").reencode(train.user_encoder, train.item_encoder)[0]
    config = neumf_config(pretrain=True, train=tiny_train(epochs=2, optimizer="sgd", lr=0.01))
    model = NeuMF(config).fit(train, valid=valid, run_dir=tmp_path)
    for towers in ("gmf", "mlp"):
        assert "valid/ndcg@10" in model.pretrain_history_[towers].columns
        assert (tmp_path / f"pretrain-{towers}" / "history.csv").is_file()
    assert (tmp_path / "history.csv").is_file()


def test_the_l2_penalty_covers_both_towers(bce_model: NeuMF) -> None:
    batch = next(iter(bce_model._batches(0)))
    out = bce_model._step(bce_model.network_, batch)
    assert len(out.regularize) == 4  # GMF user and item rows, MLP user and item rows
    n = len(batch.users)
    assert out.regularize[0].shape == (n, 8) and out.regularize[1].shape == (n, 1 + 2, 8)
    assert "train/penalty" in bce_model.history_.columns


# ------------------------------------------------------------------ persistence and config
def test_save_and_load_give_identical_scores(bce_model: NeuMF, tmp_path: Path) -> None:
    loaded = NeuMF.load(bce_model.save(tmp_path / "neumf"))
    users = np.arange(bce_model.n_users)
    np.testing.assert_array_equal(loaded.score_indices(users).numpy(), bce_model.score_indices(users).numpy())


def test_scores_do_not_depend_on_the_chunk_size(bce_model: NeuMF) -> None:
    users = np.arange(bce_model.n_users)
    small_chunks = copy.copy(bce_model)  # the same network, scored one user at a time
    small_chunks.config = bce_model.config.replace(score_max_floats=1)
    np.testing.assert_allclose(
        small_chunks.score_indices(users).numpy(), bce_model.score_indices(users).numpy(), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"mlp_layers": []}, "mlp_layers"),
        ({"mlp_layers": [8, 0]}, "mlp_layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"n_negatives": 0}, "n_negatives"),
        ({"loss": "mse"}, "loss"),
        ({"alpha": -0.1}, "alpha"),
        ({"score_max_floats": 0}, "score_max_floats"),
    ],
)
def test_invalid_config_raises(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NeuMFConfig.from_dict(changes)


def test_config_round_trips_with_a_pretraining_loop() -> None:
    config = NeuMFConfig(pretrain=True, pretrain_train=TrainConfig(epochs=5, optimizer="adam"))
    assert NeuMFConfig.from_dict(config.to_dict()) == config
    assert NeuMFConfig().pretrain_train is None
