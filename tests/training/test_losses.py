"""Losses against hand calculations and independent torch references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as nnf

from deeptarget.training.losses import (
    bce_with_negatives,
    bpr_loss,
    kl_normal,
    mse_loss,
    multinomial_log_likelihood,
    sampled_softmax_loss,
)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# ---------------------------------------------------------------------------------------------------- mse
def test_mse_by_hand() -> None:
    pred = torch.tensor([1.0, 2.0, 4.0])
    target = torch.tensor([0.0, 2.0, 1.0])
    assert mse_loss(pred, target).item() == pytest.approx((1 + 0 + 9) / 3)
    assert mse_loss(pred, target).item() == pytest.approx(nnf.mse_loss(pred, target).item())


def test_weighted_mse_is_the_weighted_mean() -> None:
    pred = torch.tensor([1.0, 2.0, 4.0])
    target = torch.tensor([0.0, 2.0, 1.0])
    weights = torch.tensor([2.0, 1.0, 1.0])
    assert mse_loss(pred, target, weights).item() == pytest.approx((2 * 1 + 0 + 9) / 4)
    # integer weights = repeating rows
    repeated = mse_loss(torch.tensor([1.0, 1.0, 2.0, 4.0]), torch.tensor([0.0, 0.0, 2.0, 1.0]))
    assert mse_loss(pred, target, weights).item() == pytest.approx(repeated.item())


def test_mse_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        mse_loss(torch.zeros(3), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="weights"):
        mse_loss(torch.zeros(3), torch.zeros(3), torch.ones(2))


# ---------------------------------------------------------------------------------------------------- bce
def test_bce_with_negatives_by_hand() -> None:
    pos = torch.tensor([2.0, -1.0])
    neg = torch.tensor([[0.5, -3.0], [1.0, 0.0]])
    expected = (
        -(
            math.log(_sigmoid(2.0))
            + math.log(_sigmoid(-1.0))
            + math.log(1 - _sigmoid(0.5))
            + math.log(1 - _sigmoid(-3.0))
            + math.log(1 - _sigmoid(1.0))
            + math.log(1 - _sigmoid(0.0))
        )
        / 6
    )
    assert bce_with_negatives(pos, neg).item() == pytest.approx(expected, rel=1e-6)


def test_bce_with_negatives_matches_torch_on_concatenated_labels() -> None:
    gen = torch.Generator().manual_seed(0)
    pos = torch.randn(7, generator=gen)
    neg = torch.randn(7, 4, generator=gen)
    logits = torch.cat([pos, neg.reshape(-1)])
    labels = torch.cat([torch.ones(7), torch.zeros(28)])
    reference = nnf.binary_cross_entropy_with_logits(logits, labels)
    assert bce_with_negatives(pos, neg).item() == pytest.approx(reference.item(), rel=1e-6)
    # one negative per positive, given as (batch,)
    one = nnf.binary_cross_entropy_with_logits(torch.cat([pos, neg[:, 0]]), torch.cat([torch.ones(7), torch.zeros(7)]))
    assert bce_with_negatives(pos, neg[:, 0]).item() == pytest.approx(one.item(), rel=1e-6)


# ---------------------------------------------------------------------------------------------------- bpr
def test_bpr_by_hand_with_several_negatives() -> None:
    pos = torch.tensor([1.0, 0.0])
    neg = torch.tensor([[0.0, 2.0], [-1.0, 0.0]])
    diffs = [1.0, -1.0, 1.0, 0.0]
    expected = sum(-math.log(_sigmoid(d)) for d in diffs) / 4
    assert bpr_loss(pos, neg).item() == pytest.approx(expected, rel=1e-6)


def test_bpr_is_stable_for_large_margins() -> None:
    pos = torch.tensor([-500.0, 500.0], requires_grad=True)
    neg = torch.tensor([500.0, -500.0])
    loss = bpr_loss(pos, neg)
    assert math.isfinite(loss.item())
    assert loss.item() == pytest.approx(500.0, rel=1e-6)  # (1000 + 0) / 2
    loss.backward()
    assert pos.grad is not None and torch.isfinite(pos.grad).all()
    assert pos.grad.tolist() == pytest.approx([-0.5, 0.0], abs=1e-6)


def test_bpr_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="neg_scores"):
        bpr_loss(torch.zeros(3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="pos_scores"):
        bpr_loss(torch.zeros(3, 2), torch.zeros(3, 2))


# ---------------------------------------------------------------------------------------------------- sampled softmax
def test_sampled_softmax_matches_cross_entropy_with_the_positive_first() -> None:
    gen = torch.Generator().manual_seed(1)
    pos = torch.randn(5, generator=gen)
    neg = torch.randn(5, 3, generator=gen)
    logits = torch.cat([pos[:, None], neg], dim=1)
    reference = nnf.cross_entropy(logits, torch.zeros(5, dtype=torch.long))
    assert sampled_softmax_loss(pos, neg).item() == pytest.approx(reference.item(), rel=1e-6)


def test_sampled_softmax_by_hand() -> None:
    # pos 1, negatives 0 and 2: -log(e / (e + 1 + e^2))
    expected = -math.log(math.e / (math.e + 1 + math.e**2))
    assert sampled_softmax_loss(torch.tensor([1.0]), torch.tensor([[0.0, 2.0]])).item() == pytest.approx(expected)


def test_logq_correction_subtracts_log_q_from_the_negatives() -> None:
    pos = torch.tensor([1.0])
    neg = torch.tensor([[0.0, 2.0]])
    log_q = torch.log(torch.tensor([[0.5, 0.1]]))
    expected = -math.log(math.e / (math.e + math.exp(0.0 - math.log(0.5)) + math.exp(2.0 - math.log(0.1))))
    assert sampled_softmax_loss(pos, neg, log_q=log_q).item() == pytest.approx(expected, rel=1e-6)
    # a (n_neg,) log_q broadcasts over the batch
    assert sampled_softmax_loss(pos, neg, log_q=log_q[0]).item() == pytest.approx(expected, rel=1e-6)


def test_uniform_logq_on_both_sides_changes_nothing() -> None:
    gen = torch.Generator().manual_seed(2)
    pos = torch.randn(4, generator=gen)
    neg = torch.randn(4, 6, generator=gen)
    constant = math.log(1 / 100)
    corrected = sampled_softmax_loss(pos, neg, log_q=torch.full((4, 6), constant), pos_log_q=torch.full((4,), constant))
    assert corrected.item() == pytest.approx(sampled_softmax_loss(pos, neg).item(), rel=1e-6)


def test_logq_correction_penalises_popular_negatives_less() -> None:
    pos = torch.tensor([0.0])
    neg = torch.tensor([[0.0]])
    popular = sampled_softmax_loss(pos, neg, log_q=torch.tensor([[math.log(0.9)]]))
    rare = sampled_softmax_loss(pos, neg, log_q=torch.tensor([[math.log(0.01)]]))
    assert popular.item() < rare.item()


# ---------------------------------------------------------------------------------------------------- Mult-VAE
def test_multinomial_log_likelihood_by_hand() -> None:
    logits = torch.tensor([[0.0, math.log(2.0), math.log(5.0)], [0.0, 0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    user_0 = -(1 * math.log(1 / 8) + 2 * math.log(5 / 8))
    user_1 = -math.log(1 / 3)
    assert multinomial_log_likelihood(logits, targets).item() == pytest.approx((user_0 + user_1) / 2, rel=1e-6)


def test_multinomial_log_likelihood_matches_cross_entropy_for_one_hot_rows() -> None:
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 10, generator=gen)
    labels = torch.randint(0, 10, (6,), generator=gen)
    targets = nnf.one_hot(labels, 10).float()
    assert multinomial_log_likelihood(logits, targets).item() == pytest.approx(
        nnf.cross_entropy(logits, labels).item(), rel=1e-6
    )
    assert multinomial_log_likelihood(logits, targets.to_sparse()).item() == pytest.approx(
        nnf.cross_entropy(logits, labels).item(), rel=1e-6
    )


def test_multinomial_log_likelihood_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="batch, n_items"):
        multinomial_log_likelihood(torch.zeros(2, 3), torch.zeros(2, 4))


# ---------------------------------------------------------------------------------------------------- KL
def test_kl_normal_matches_torch_distributions() -> None:
    gen = torch.Generator().manual_seed(4)
    mu = torch.randn(5, 3, generator=gen)
    logvar = torch.randn(5, 3, generator=gen)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(5, 3), torch.ones(5, 3))
    reference = torch.distributions.kl_divergence(q, p).sum(dim=1).mean()
    assert kl_normal(mu, logvar).item() == pytest.approx(reference.item(), rel=1e-5)


def test_kl_normal_by_hand() -> None:
    # mu = 2, var = e: 0.5 * (e + 4 - 1 - 1)
    expected = 0.5 * (math.e + 4 - 1 - 1)
    assert kl_normal(torch.tensor([[2.0]]), torch.tensor([[1.0]])).item() == pytest.approx(expected, rel=1e-6)
    assert kl_normal(torch.zeros(4, 2), torch.zeros(4, 2)).item() == 0.0


# ------------------------------------------------------------------------------------------------ precision
def test_losses_compute_in_float32_from_bf16_scores() -> None:
    gen = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(64, generator=gen), torch.randn(64, 5, generator=gen)
    logits = torch.randn(8, 300, generator=gen) * 3
    rows = torch.bernoulli(torch.full((8, 300), 0.1), generator=gen)
    mu, logvar = torch.randn(8, 4, generator=gen), torch.randn(8, 4, generator=gen)
    cases = [
        (bce_with_negatives, (pos, neg)),
        (bpr_loss, (pos, neg)),
        (sampled_softmax_loss, (pos, neg)),
        (mse_loss, (pos, neg[:, 0])),
        (multinomial_log_likelihood, (logits, rows)),
        (kl_normal, (mu, logvar)),
    ]
    for loss, args in cases:
        low = tuple(a.bfloat16() for a in args)
        value = loss(*low)
        assert value.dtype == torch.float32, loss.__name__
        # the same as the float32 loss of the (rounded) bf16 inputs, not a bf16-rounded result
        assert torch.allclose(value, loss(*(a.float() for a in low)), rtol=1e-6, atol=1e-6), loss.__name__
