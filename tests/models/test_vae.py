"""Mult-VAE and Mult-DAE: the networks, the KL annealing, training and scoring behaviour, persistence."""

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
from deeptarget.evaluation.ranking import evaluate_ranking
from deeptarget.models.recommend.vae import (
    MultDAE,
    MultDAEConfig,
    MultVAE,
    MultVAEConfig,
    kl_anneal_beta,
    user_row_batches,
)
from deeptarget.nn.vae import AutoEncoderEnsemble, MultDAENetwork, MultVAENetwork

N_ITEMS = 40


def clustered_frame(seed: int = 0) -> pd.DataFrame:
    """60 users in 3 taste groups; each user buys ~8 of the 10 items of their group and 1 random item."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(60):
        group = u % 3
        block = np.arange(10) + 10 * group
        items = [*rng.choice(block, size=8, replace=False).tolist(), int(rng.integers(30, N_ITEMS))]
        rows += [{"user": f"u{u}", "item": int(i)} for i in items]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def train() -> Interactions:
    return Interactions.from_frame(clustered_frame(), source="clustered")


def tiny_train(epochs: int = 40, **changes: object) -> TrainConfig:
    config = TrainConfig(epochs=epochs, batch_size=16, lr=0.01, device="cpu", progress=False, num_threads=1)
    return config.replace(**changes)


def small_vae(**changes: object) -> MultVAEConfig:
    return MultVAEConfig(
        hidden_sizes=(32,), latent_dim=8, total_anneal_steps=50, anneal_cap=0.2, train=tiny_train()
    ).replace(**changes)


@pytest.fixture(scope="module")
def vae(train: Interactions) -> MultVAE:
    return MultVAE(small_vae()).fit(train)


# ------------------------------------------------------------------ schedule and batches
def test_kl_annealing_schedule_values() -> None:
    assert kl_anneal_beta(0, 100, 0.2) == 0.0
    assert kl_anneal_beta(10, 100, 0.2) == pytest.approx(0.1)
    assert kl_anneal_beta(20, 100, 0.2) == pytest.approx(0.2)
    assert kl_anneal_beta(10_000, 100, 0.2) == pytest.approx(0.2)  # capped
    assert kl_anneal_beta(50, 100, 1.0) == pytest.approx(0.5)
    assert kl_anneal_beta(3, 0, 0.3) == pytest.approx(0.3)  # no annealing


def test_training_logs_the_annealed_beta(vae: MultVAE, train: Interactions) -> None:
    # 60 users / batch 16 = 4 updates per epoch; the epoch mean of beta = step / 50 over that epoch's steps
    betas = vae.history_["train/beta"]
    steps_per_epoch = 4
    for epoch in (0, 3, 10, 20):
        steps = np.arange(epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch)
        sizes = np.array([16, 16, 16, 12])
        expected = float((np.minimum(0.2, steps / 50) * sizes).sum() / sizes.sum())
        assert betas[epoch] == pytest.approx(expected)
    assert betas[-1] == pytest.approx(0.2)
    assert np.all(np.diff(betas) >= 0)


def test_user_row_batches_cover_every_user_once_with_their_rows() -> None:
    matrix = sp.csr_matrix(sp.random(30, 12, density=0.3, random_state=1, dtype=np.float32))
    users = np.array([0, 2, 5, 7, 11, 13, 29])
    batches = list(user_row_batches(matrix, users, batch_size=3, seed=4, epoch=2))
    seen = np.concatenate([b.users.numpy() for b in batches])
    assert sorted(seen.tolist()) == users.tolist()
    dense = matrix.toarray()
    for b in batches:
        np.testing.assert_array_equal(b.rows.numpy(), dense[b.users.numpy()])
    assert [int(b.step) for b in batches] == [6, 7, 8]  # 3 batches per epoch, epoch 2
    for b in batches:  # the non-zero cells, for the dropout
        assert b.nonzero is not None
        cells = set(zip(*(t.tolist() for t in b.nonzero), strict=True))
        assert cells == set(zip(*(t.tolist() for t in b.rows.nonzero(as_tuple=True)), strict=True))
    again = list(user_row_batches(matrix, users, batch_size=3, seed=4, epoch=2))
    assert all(torch.equal(a.users, b.users) for a, b in zip(batches, again, strict=True))
    other = np.concatenate([b.users.numpy() for b in user_row_batches(matrix, users, 3, seed=4, epoch=3)])
    assert not np.array_equal(other, seen)  # each epoch has its own shuffle


# ------------------------------------------------------------------ networks
def test_input_dropout_only_in_training_mode() -> None:
    torch.manual_seed(0)
    net = MultDAENetwork(N_ITEMS, hidden_sizes=(), latent_dim=6, dropout=0.5)
    rows = torch.bernoulli(torch.full((8, N_ITEMS), 0.4))
    net.train()
    assert not torch.equal(net(rows).logits, net(rows).logits)  # a different dropout mask each call
    net.eval()
    assert torch.equal(net(rows).logits, net(rows).logits)
    # in eval mode the encoder sees the L2-normalised row itself
    normalised = rows / rows.norm(dim=1, keepdim=True)
    assert torch.allclose(net.encode(rows), net.encoder(normalised))


@pytest.mark.parametrize("cls", [MultDAENetwork, MultVAENetwork])
def test_dropout_over_the_non_zero_cells_matches_dense_dropout(cls: type) -> None:
    torch.manual_seed(0)
    net = cls(400, hidden_sizes=(), latent_dim=4, dropout=0.3).train()
    rows = torch.bernoulli(torch.full((64, 400), 0.2))
    nonzero = rows.nonzero(as_tuple=True)
    normalised = rows / rows.norm(dim=1, keepdim=True)
    for cells in (None, nonzero):
        x = net._encoder_input(rows, cells)
        kept = x != 0
        assert not kept[rows == 0].any()  # zeros stay zero
        torch.testing.assert_close(x[kept], normalised[kept] / 0.7)  # survivors are rescaled by 1 / (1 - p)
        dropped = 1.0 - kept.sum().item() / (rows != 0).sum().item()
        assert abs(dropped - 0.3) < 0.03  # ~5,000 cells: the rate is p within 4 standard errors
    assert torch.equal(net.eval()._encoder_input(rows, nonzero), normalised)  # no dropout in eval mode


def test_vae_network_samples_in_training_and_decodes_mu_in_eval() -> None:
    torch.manual_seed(0)
    net = MultVAENetwork(N_ITEMS, hidden_sizes=(16,), latent_dim=4, dropout=0.0)
    rows = torch.bernoulli(torch.full((5, N_ITEMS), 0.4))
    net.train()
    first, second = net(rows), net(rows)
    assert torch.equal(first.mu, second.mu)  # no dropout: the same code ...
    assert not torch.equal(first.logits, second.logits)  # ... but a different sample of it
    net.eval()
    out = net(rows)
    assert torch.equal(out.logits, net.decode(out.mu))


def test_network_input_is_scale_free() -> None:
    net = MultVAENetwork(N_ITEMS, hidden_sizes=(16,), latent_dim=4).eval()
    rows = torch.bernoulli(torch.full((3, N_ITEMS), 0.4))
    assert torch.allclose(net(rows).logits, net(3.0 * rows).logits, atol=1e-6)


# ------------------------------------------------------------------ training and scoring
@pytest.mark.parametrize("kind", ["vae", "dae"])
def test_loss_decreases(kind: str, vae: MultVAE, train: Interactions) -> None:
    if kind == "vae":
        nll = vae.history_["train/nll"]
    else:
        model = MultDAE(MultDAEConfig(latent_dim=8, train=tiny_train(epochs=15, l2=1e-4))).fit(train)
        nll = model.history_["train/loss"]
    assert nll[-1] < 0.9 * nll[0]


def test_scores_recover_the_taste_groups(vae: MultVAE, train: Interactions) -> None:
    users = np.arange(train.n_users)
    ids, _ = vae.recommend_indices(users, k=1)
    group_of_user = train.user_encoder.raw_ids.astype("U")
    groups = np.array([int(u[1:]) % 3 for u in group_of_user])
    item_block = train.item_encoder.raw_ids[ids[:, 0]].astype(int) // 10
    assert np.mean(item_block == groups) > 0.9


def test_scoring_uses_mu_and_is_deterministic(vae: MultVAE, train: Interactions) -> None:
    users = np.arange(10)
    first = vae.score_indices(users)
    second = vae.score_indices(users)
    assert torch.equal(first, second)
    rows = torch.from_numpy(vae.seen_[users].toarray())
    with torch.no_grad():
        mu, _ = vae.network_.eval().encode(rows)
        expected = vae.network_.decode(mu)
    torch.testing.assert_close(first, expected)
    assert vae.network_.training is False


def test_scoring_does_not_leave_the_network_in_training_mode(vae: MultVAE) -> None:
    vae.network_.train()
    try:
        a = vae.score_indices(np.arange(5))
        b = vae.score_indices(np.arange(5))
        assert torch.equal(a, b)
        assert vae.network_.training  # restored
    finally:
        vae.network_.eval()


def test_same_seed_same_scores_and_different_seed_differs(vae: MultVAE, train: Interactions) -> None:
    again = MultVAE(small_vae()).fit(train)
    users = np.arange(train.n_users)
    torch.testing.assert_close(again.score_indices(users), vae.score_indices(users), rtol=0, atol=0)
    other = MultVAE(small_vae(train=tiny_train(seed=7))).fit(train)
    assert not torch.equal(other.score_indices(users), vae.score_indices(users))


@pytest.mark.parametrize("kind", ["vae", "dae"])
def test_save_load_gives_identical_scores(kind: str, vae: MultVAE, train: Interactions, tmp_path: Path) -> None:
    dae = MultDAE(MultDAEConfig(latent_dim=8, train=tiny_train(epochs=3)))
    model: MultVAE | MultDAE = vae if kind == "vae" else dae.fit(train)
    path = model.save(tmp_path / kind)
    loaded = type(model).load(path)
    users = train.user_encoder.raw_ids
    np.testing.assert_array_equal(loaded.score(users), model.score(users))
    assert loaded.config == model.config
    # no second copy of the training rows: the base class's seen matrix is the input
    from safetensors.numpy import load_file

    names = set(load_file(str(path / "weights.safetensors")))
    assert {n for n in names if not n.startswith("net.")} == {"seen.indptr", "seen.indices"}


def test_fit_without_valid_trains_every_epoch_despite_patience(train: Interactions) -> None:
    config = small_vae(train=tiny_train(epochs=4, patience=1))
    model = MultVAE(config).fit(train)
    assert len(model.history_) == 4


def test_early_stopping_restores_the_best_valid_epoch() -> None:
    full = Interactions.from_frame(clustered_frame(), source="clustered")
    is_valid = np.random.default_rng(0).random(len(full)) < 0.2
    fit_rows, valid = full.subset(np.flatnonzero(~is_valid)), full.subset(np.flatnonzero(is_valid))
    model = MultVAE(small_vae(train=tiny_train(epochs=25, patience=3))).fit(fit_rows, valid)
    history = model.history_["valid/ndcg@10"]
    result = evaluate_ranking(model, valid, exclude=(fit_rows,), ks=(10,), metrics=("ndcg",))
    assert result.metrics["ndcg@10"] == pytest.approx(max(history))


@pytest.mark.parametrize(
    "changes",
    [{"latent_dim": 0}, {"hidden_sizes": (0,)}, {"dropout": -0.1}, {"anneal_cap": -1.0}, {"total_anneal_steps": -1}],
)
def test_bad_configs_raise(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        MultVAEConfig(**changes)  # type: ignore[arg-type]


def test_configs_round_trip_through_dicts() -> None:
    config = small_vae()
    assert MultVAEConfig.from_dict(config.to_dict()) == config
    dae = MultDAEConfig(hidden_sizes=(20,), train=tiny_train())
    assert MultDAEConfig.from_dict(dae.to_dict()) == dae


# ------------------------------------------------------------------ deep ensemble
def test_dae_ensemble_members_are_single_models_with_their_own_seeds(train: Interactions, tmp_path: Path) -> None:
    config = MultDAEConfig(latent_dim=8, n_members=3, train=tiny_train(epochs=6, seed=11))
    ensemble = MultDAE(config).fit(train, run_dir=tmp_path / "run")
    assert isinstance(ensemble.network_, AutoEncoderEnsemble) and len(ensemble.network_.members) == 3
    users = np.arange(train.n_users)
    # member i is exactly the single model trained with seed 11 + i
    for i, member in enumerate(ensemble.network_.members):
        single = MultDAE(config.replace(n_members=1, train=config.train.replace(seed=11 + i))).fit(train)
        for (name, a), (_, b) in zip(member.state_dict().items(), single.network_.state_dict().items(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    # the ensemble's score is the members' mean log-softmax
    x = torch.from_numpy(train.to_csr().toarray().astype(np.float32))
    with torch.no_grad():
        parts = [torch.log_softmax(m(x).logits, dim=1) for m in ensemble.network_.members]
    torch.testing.assert_close(ensemble.score_indices(users), torch.stack(parts).mean(0))
    assert sorted({r["member"] for r in ensemble.history_}) == [0.0, 1.0, 2.0]
    assert all((tmp_path / "run" / "members" / str(i) / "history.csv").is_file() for i in range(3))
    # persisted like any model, no pickle
    loaded = MultDAE.load(ensemble.save(tmp_path / "model"))
    raw = train.user_encoder.raw_ids
    np.testing.assert_array_equal(loaded.score(raw), ensemble.score(raw))


def test_dae_ensemble_config_errors() -> None:
    with pytest.raises(ConfigError, match="n_members must be >= 1"):
        MultDAEConfig(n_members=0)
    with pytest.raises(ConfigError, match="checkpoint"):
        MultDAEConfig(n_members=2, train=tiny_train(checkpoint=True))
