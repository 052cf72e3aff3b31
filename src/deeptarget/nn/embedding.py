"""Embedding-table scorers: matrix factorisation, a user and an item vector whose dot product is the score."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MFNetwork", "gather_rows"]


def gather_rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` as ``index.shape + (width,)``: the same values as ``nn.Embedding``, but through
    ``index_select``, whose backward (an ``index_add_``) runs about 2.5x faster on CPU than the embedding's.

    Examples
    --------
    >>> table = torch.arange(6.0).view(3, 2)
    >>> gather_rows(table, torch.tensor([[2, 0]])).tolist()
    [[[4.0, 5.0], [0.0, 1.0]]]
    """
    return table.index_select(0, index.reshape(-1)).view(*index.shape, table.shape[-1])


class MFNetwork(nn.Module):
    """Matrix factorisation: ``score(u, i) = <p_u, q_i> (+ b_i)``.

    Parameters
    ----------
    n_users, n_items
        Sizes of the user and item tables.
    embedding_dim
        Width of every user and item vector.
    item_bias
        Learn a scalar bias per item (its popularity, roughly).
    init_std
        Standard deviation of the normal initialisation of the embeddings (biases start at 0).

    Examples
    --------
    >>> net = MFNetwork(n_users=3, n_items=5, embedding_dim=4)
    >>> users = torch.tensor([0, 2])
    >>> net(users).shape  # every item for each user
    torch.Size([2, 5])
    >>> items = torch.tensor([[1, 4], [0, 0]])  # two items per user
    >>> torch.allclose(net.score_pairs(users, items), net(users).gather(1, items))
    True
    """

    def __init__(
        self, n_users: int, n_items: int, embedding_dim: int = 64, item_bias: bool = True, init_std: float = 0.03
    ) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(n_users, embedding_dim)
        self.item_embedding = nn.Embedding(n_items, embedding_dim)
        nn.init.normal_(self.user_embedding.weight, std=init_std)
        nn.init.normal_(self.item_embedding.weight, std=init_std)
        self.item_bias: nn.Embedding | None = None
        if item_bias:
            self.item_bias = nn.Embedding(n_items, 1)
            nn.init.zeros_(self.item_bias.weight)

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of every item for each user, ``(batch, n_items)``: one matrix product."""
        scores: torch.Tensor = self.user_embedding(users) @ self.item_embedding.weight.T
        if self.item_bias is not None:
            scores = scores + self.item_bias.weight[:, 0]
        return scores

    def score_pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of ``(user, item)`` pairs: ``items`` is ``(batch,)`` or ``(batch, n)``; same shape out."""
        p = self.user_embedding(users)
        q = self.item_embedding(items)
        scores: torch.Tensor = (q * p[:, None, :]).sum(-1) if items.ndim == 2 else (q * p).sum(-1)
        if self.item_bias is not None:
            scores = scores + self.item_bias(items)[..., 0]
        return scores
