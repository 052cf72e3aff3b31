"""Losses of the recommenders and CTR models: pure functions of score tensors, each returning a scalar.

Shapes: ``pos_scores`` is ``(batch,)``; ``neg_scores`` is ``(batch,)`` (one negative per positive) or
``(batch, n_neg)`` (several sampled negatives per positive).

Scores in a lower precision (bfloat16 / float16 from ``torch.autocast``, see ``TrainConfig.precision``) are
upcast to float32 first, so the loss and its reductions are always computed in float32.
"""

from __future__ import annotations

import torch
from torch.nn.functional import log_softmax, logsigmoid

__all__ = [
    "bce_with_negatives",
    "bpr_loss",
    "kl_normal",
    "mse_loss",
    "multinomial_log_likelihood",
    "sampled_softmax_loss",
]


def _f32(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as float32 when it is a lower-precision float (bf16 / fp16 under autocast); else as is."""
    return tensor.float() if tensor.dtype in (torch.bfloat16, torch.float16) else tensor


def _pair(pos_scores: torch.Tensor, neg_scores: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive scores as ``(batch, 1)`` and negative scores as ``(batch, n_neg)``."""
    if pos_scores.ndim == 2 and pos_scores.shape[1] == 1:
        pos_scores = pos_scores[:, 0]
    if pos_scores.ndim != 1:
        raise ValueError(f"{name}: pos_scores must have shape (batch,), got {tuple(pos_scores.shape)}")
    if neg_scores.ndim == 1:
        neg_scores = neg_scores[:, None]
    if neg_scores.ndim != 2 or neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError(
            f"{name}: neg_scores must have shape (batch,) or (batch, n_neg) with batch = "
            f"{pos_scores.shape[0]}, got {tuple(neg_scores.shape)}"
        )
    return _f32(pos_scores)[:, None], _f32(neg_scores)


def mse_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error, or the weighted mean ``sum(w * (pred - target)**2) / sum(w)``.

    Parameters
    ----------
    pred, target
        Tensors of the same shape.
    weights
        Optional non-negative weights of the same shape (e.g. confidence of an interaction).

    Examples
    --------
    >>> mse_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])).item()
    2.5
    >>> mse_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]), torch.tensor([3.0, 1.0])).item()
    1.75
    """
    if pred.shape != target.shape:
        raise ValueError(f"mse_loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    squared = (_f32(pred) - _f32(target)).square()
    if weights is None:
        return squared.mean()
    if weights.shape != pred.shape:
        raise ValueError(f"mse_loss: weights {tuple(weights.shape)} and pred {tuple(pred.shape)} differ in shape")
    return (weights * squared).sum() / weights.sum().clamp_min(torch.finfo(squared.dtype).tiny)


def bce_with_negatives(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits: positives have label 1, sampled negatives label 0 (NCF's loss).

    Every positive and every negative is one example, so this equals
    ``binary_cross_entropy_with_logits`` over the concatenation of all scores:
    ``-(sum log σ(pos) + sum log σ(-neg)) / (batch * (1 + n_neg))``. Computed with ``logsigmoid``
    (stable for large scores).

    Examples
    --------
    >>> round(bce_with_negatives(torch.tensor([0.0]), torch.tensor([0.0])).item(), 4)  # log 2
    0.6931

    References
    ----------
    He et al. (2017), "Neural Collaborative Filtering", WWW.
    """
    pos, neg = _pair(pos_scores, neg_scores, "bce_with_negatives")
    total = -(logsigmoid(pos).sum() + logsigmoid(-neg).sum())
    return total / (pos.numel() + neg.numel())


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking: the mean of ``-log σ(pos - neg)`` over every (positive, negative) pair.

    Uses ``logsigmoid``, so a large negative margin gives a large finite loss, never ``inf``.

    Examples
    --------
    >>> # (log(1 + e^-1) + log 2) / 2
    >>> round(bpr_loss(torch.tensor([2.0]), torch.tensor([[1.0, 2.0]])).item(), 4)
    0.5032

    References
    ----------
    Rendle et al. (2009), "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI.
    """
    pos, neg = _pair(pos_scores, neg_scores, "bpr_loss")
    return -logsigmoid(pos - neg).mean()


def sampled_softmax_loss(
    pos_scores: torch.Tensor,
    neg_scores: torch.Tensor,
    log_q: torch.Tensor | None = None,
    pos_log_q: torch.Tensor | None = None,
) -> torch.Tensor:
    """Softmax cross-entropy of the positive against its sampled negatives, with optional logQ correction.

    ``mean(-log softmax([pos, neg_1, ..., neg_n])[0])``. Negatives drawn from a non-uniform proposal ``Q``
    (e.g. popularity) bias the softmax towards popular items; subtracting ``log Q(item)`` from each
    candidate's logit corrects it.

    Parameters
    ----------
    pos_scores, neg_scores
        ``(batch,)`` and ``(batch, n_neg)`` (or ``(batch,)``) logits.
    log_q
        Log-probability of drawing each negative, broadcastable to ``neg_scores`` (e.g. ``(batch, n_neg)`` or
        ``(n_neg,)``); subtracted from the negative logits.
    pos_log_q
        Log-probability of the positive item under the same proposal, ``(batch,)``; subtracted from the
        positive logit (TensorFlow's ``sampled_softmax_loss`` corrects both). With both given, a uniform
        proposal changes nothing.

    Examples
    --------
    >>> round(sampled_softmax_loss(torch.tensor([0.0]), torch.tensor([[0.0, 0.0]])).item(), 4)  # log 3
    1.0986

    References
    ----------
    Jean et al. (2015), "On Using Very Large Target Vocabulary for Neural Machine Translation", ACL.
    Yi et al. (2019), "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations", RecSys.
    """
    pos, neg = _pair(pos_scores, neg_scores, "sampled_softmax_loss")
    if log_q is not None:
        if log_q.ndim == 1 and log_q.shape[0] == neg.shape[0] and neg.shape[1] == 1:
            log_q = log_q[:, None]
        neg = neg - log_q
    if pos_log_q is not None:
        pos = pos - pos_log_q.reshape(-1, 1)
    logits = torch.cat([pos, neg], dim=1)
    return -(pos[:, 0] - torch.logsumexp(logits, dim=1)).mean()


def multinomial_log_likelihood(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Negative multinomial log-likelihood of users' item counts under a softmax over all items (Mult-VAE).

    ``mean over users of -sum_i log_softmax(logits)_i * x_i``: a loss to minimise.

    Parameters
    ----------
    logits
        ``(n_users_in_batch, n_items)`` unnormalised scores.
    targets
        Same shape: the users' (binary or count) interaction rows; a sparse tensor is densified.

    Examples
    --------
    >>> round(multinomial_log_likelihood(torch.zeros(1, 4), torch.tensor([[1.0, 1.0, 0.0, 0.0]])).item(), 4)
    2.7726

    References
    ----------
    Liang et al. (2018), "Variational Autoencoders for Collaborative Filtering", WWW.
    """
    if targets.is_sparse:
        targets = targets.to_dense()
    if logits.shape != targets.shape or logits.ndim != 2:
        raise ValueError(
            "multinomial_log_likelihood: logits and targets must both be (batch, n_items), got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    return -(log_softmax(_f32(logits), dim=1) * _f32(targets)).sum(dim=1).mean()


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence of ``N(mu, exp(logvar))`` from the standard normal, summed over latent dimensions and
    averaged over the batch: ``mean(-0.5 * sum(1 + logvar - mu**2 - exp(logvar)))``.

    Examples
    --------
    >>> kl_normal(torch.zeros(3, 2), torch.zeros(3, 2)).item()
    0.0
    >>> kl_normal(torch.ones(1, 2), torch.zeros(1, 2)).item()  # 0.5 * |mu|^2
    1.0
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"kl_normal: mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} differ in shape")
    mu, logvar = _f32(mu), _f32(logvar)
    per_dim = 1.0 + logvar - mu.square() - logvar.exp()
    if mu.ndim == 1:
        return -0.5 * per_dim.sum()
    return (-0.5 * per_dim.sum(dim=-1)).mean()
