"""Matrix factorisation: BPR and BCE training, sampled negatives, the L2 penalty, early stopping, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from deeptarget.config import TrainConfig
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError
from deeptarget.models.recommend.mf import MatrixFactorization, MFConfig, SampledPairs, pairwise_loss
from deeptarget.nn.embedding import MFNetwork
from deeptarget.training.losses import bce_with_negatives, bpr_loss

N_GROUPS, USERS_PER_GROUP, BLOCK = 3, 10, 6


def tiny_train(**changes: object) -> TrainConfig:
    # the L2 penalty keeps the held-out item (a sampled negative of its user) from being memorised as one
    config = TrainConfig(epochs=20, batch_size=32, lr=0.05, l2=0.02, device="cpu", progress=False, num_threads=1)
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


def mf_config(**changes: object) -> MFConfig:
    return MFConfig(embedding_dim=8, train=tiny_train()).replace(**changes)


@pytest.fixture(scope="module")
def bpr_model(data: tuple[Interactions, pd.DataFrame]) -> MatrixFactorization:
    return MatrixFactorization(mf_config()).fit(data[0])


def hits(model: MatrixFactorization, held: pd.DataFrame) -> float:
    ids, _ = model.recommend(held["user"].to_numpy(), k=1)
    return float(np.mean(ids[:, 0] == held["item"].to_numpy()))


# ------------------------------------------------------------------ training
def test_bpr_loss_decreases_and_planted_items_are_recovered(
    bpr_model: MatrixFactorization, data: tuple[Interactions, pd.DataFrame]
) -> None:
    losses = bpr_model.history_["train/loss"]
    assert len(losses) == 20
    assert losses[-1] < 0.3 * losses[0]
    assert hits(bpr_model, data[1]) == 1.0


@pytest.mark.parametrize("loss", ["bce", "bpr"])
@pytest.mark.parametrize("sampler", ["uniform", "popularity"])
def test_both_losses_and_samplers_learn(loss: str, sampler: str, data: tuple[Interactions, pd.DataFrame]) -> None:
    model = MatrixFactorization(mf_config(loss=loss, sampler=sampler, n_negatives=3, item_bias=True)).fit(data[0])
    losses = model.history_["train/loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert hits(model, data[1]) == 1.0


def test_an_untrained_model_does_not_recover_the_planted_items(data: tuple[Interactions, pd.DataFrame]) -> None:
    # the planted check can fail: one epoch at a tiny learning rate is no better than chance
    model = MatrixFactorization(mf_config(train=tiny_train(epochs=1, lr=1e-5))).fit(data[0])
    assert hits(model, data[1]) < 0.5


def test_step_computes_the_chosen_loss_from_the_dot_products(bpr_model: MatrixFactorization) -> None:
    net = bpr_model.network_
    batch = next(iter(bpr_model._batches(0)))
    p = net.user_embedding.weight[batch.users]
    pos = (p * net.item_embedding.weight[batch.items]).sum(1)
    neg = torch.einsum("bd,bnd->bn", p, net.item_embedding.weight[batch.negatives])
    with torch.no_grad():
        out = bpr_model._step(net, batch)
        assert out.loss.item() == pytest.approx(bpr_loss(pos, neg).item(), rel=1e-5)
        assert pairwise_loss("bce", pos, neg).item() == pytest.approx(bce_with_negatives(pos, neg).item())
    # the rows to penalise are the looked-up ones, scaled to a batch mean
    total = out.penalty_scale * sum(float(t.square().sum()) for t in out.regularize)
    with torch.no_grad():
        expected = float(p.square().sum() + net.item_embedding.weight[batch.items].square().sum())
        expected += float(net.item_embedding.weight[batch.negatives].square().sum())
    assert total == pytest.approx(expected / len(batch.users), rel=1e-5)


def test_l2_penalty_shrinks_the_embeddings(data: tuple[Interactions, pd.DataFrame]) -> None:
    plain = MatrixFactorization(mf_config(train=tiny_train(l2=0.0))).fit(data[0])
    penalised = MatrixFactorization(mf_config(train=tiny_train(l2=0.05))).fit(data[0])
    assert "train/penalty" in penalised.history_.columns and "train/penalty" not in plain.history_.columns

    def norm(model: MatrixFactorization) -> float:
        net = model.network_
        return float(net.user_embedding.weight.detach().norm() + net.item_embedding.weight.detach().norm())

    assert norm(penalised) < 0.7 * norm(plain)


def test_scores_are_the_dot_products(bpr_model: MatrixFactorization) -> None:
    net = bpr_model.network_
    scores = bpr_model.score_indices(np.arange(bpr_model.n_users)).numpy()
    expected = (net.user_embedding.weight @ net.item_embedding.weight.T).detach().numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_item_bias_is_added_to_the_scores() -> None:
    net = MFNetwork(n_users=2, n_items=3, embedding_dim=2, item_bias=True)
    assert net.item_bias is not None
    with torch.no_grad():
        net.item_bias.weight[:, 0] = torch.tensor([1.0, 2.0, 3.0])
    users = torch.tensor([0, 1])
    without = (net.user_embedding.weight @ net.item_embedding.weight.T).detach()
    torch.testing.assert_close(net(users).detach(), without + torch.tensor([1.0, 2.0, 3.0]))
    items = torch.tensor([2, 0])
    torch.testing.assert_close(net.score_pairs(users, items).detach(), net(users).detach()[[0, 1], [2, 0]])


# ------------------------------------------------------------------ negatives and batches
def test_sampled_negatives_are_never_positives_and_every_pair_appears_once() -> None:
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 12)) < 0.6).astype(np.float32)
    dense[:, 0] = 0  # every user has a negative
    seen = sp.csr_matrix(dense)
    for sampler in ("uniform", "popularity"):
        pairs = SampledPairs(seen, sampler, n_negatives=5, seed=3)
        batches = list(pairs.batches(epoch=2, batch_size=17))
        users = torch.cat([b.users for b in batches]).numpy()
        items = torch.cat([b.items for b in batches]).numpy()
        negatives = torch.cat([b.negatives for b in batches]).numpy()
        assert negatives.shape == (int(dense.sum()), 5)
        assert (dense[users, items] == 1).all()
        assert (dense[users[:, None], negatives] == 0).all()
        # each positive pair exactly once per epoch
        keys = users * 12 + items
        assert len(np.unique(keys)) == len(keys) == int(dense.sum())


def test_duplicate_interactions_are_one_training_pair() -> None:
    frame = pd.DataFrame({"user": [1, 1, 1, 2], "item": ["a", "a", "b", "c"]})
    train = Interactions.from_frame(frame)
    pairs = SampledPairs(train.to_csr(), "uniform", n_negatives=1, seed=0)
    assert len(pairs) == 3


def test_an_epochs_batches_depend_only_on_seed_and_epoch() -> None:
    seen = sp.csr_matrix((np.random.default_rng(1).random((20, 15)) < 0.3).astype(np.float32))
    first = SampledPairs(seen, "uniform", n_negatives=2, seed=7)
    second = SampledPairs(seen, "uniform", n_negatives=2, seed=7)
    list(first.batches(epoch=0, batch_size=8))  # consuming epoch 0 first changes nothing for epoch 1
    a = list(first.batches(epoch=1, batch_size=8))
    b = list(second.batches(epoch=1, batch_size=8))
    for x, y in zip(a, b, strict=True):
        for tx, ty in zip(x, y, strict=True):
            assert torch.equal(tx, ty)
    other = list(second.batches(epoch=2, batch_size=8))
    assert not torch.equal(torch.cat([x.negatives for x in a]), torch.cat([x.negatives for x in other]))


# ------------------------------------------------------------------ early stopping, persistence, config
def test_patience_applies_only_with_validation_data(data: tuple[Interactions, pd.DataFrame]) -> None:
    train, held = data
    config = mf_config(train=tiny_train(epochs=60, patience=2))
    without = MatrixFactorization(config).fit(train)
    assert len(without.history_) == 60  # no valid: trained the configured epochs
    valid = Interactions.from_frame(held, source="held").reencode(train.user_encoder, train.item_encoder)[0]
    with_valid = MatrixFactorization(config).fit(train, valid=valid)
    ndcg = with_valid.history_["valid/ndcg@10"]
    # valid NDCG reaches its maximum (every held-out item first) long before epoch 60, then stops improving
    assert len(ndcg) < 60
    assert max(ndcg) == pytest.approx(1.0)
    assert int(np.argmax(ndcg)) == len(ndcg) - 3  # stopped after `patience` epochs without a gain


def test_save_and_load_give_identical_scores(bpr_model: MatrixFactorization, tmp_path: Path) -> None:
    path = bpr_model.save(tmp_path / "mf")
    loaded = MatrixFactorization.load(path)
    users = np.arange(bpr_model.n_users)
    np.testing.assert_array_equal(loaded.score_indices(users).numpy(), bpr_model.score_indices(users).numpy())
    assert loaded.config == bpr_model.config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"n_negatives": 0}, "n_negatives"),
        ({"loss": "hinge"}, "loss"),
        ({"sampler": "adversarial"}, "sampler"),
        ({"init_std": 0.0}, "init_std"),
    ],
)
def test_invalid_config_raises(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MFConfig.from_dict(changes)


def test_defaults_are_the_tuned_ml100k_values() -> None:
    config = MFConfig()
    assert (config.embedding_dim, config.loss, config.n_negatives) == (64, "bpr", 1)
    assert config.train.patience == 10 and config.train.batch_size == 4096
