"""The classic neural recommender: a user embedding through an MLP to one score per item."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deeptarget.nn.mlp import MLP

__all__ = ["MLPRecNetwork"]


class MLPRecNetwork(nn.Module):
    """``user embedding -> [Linear -> ReLU -> dropout] per hidden size -> Linear(n_items)``.

    Parameters
    ----------
    n_users, n_items
        Sizes of the user embedding table and of the output layer.
    embedding_dim
        Width of the user embedding.
    hidden_sizes
        Hidden widths (``()``: the embedding feeds the output layer directly, a matrix factorisation).
    dropout
        Dropout after each hidden layer (in ``train()`` mode only).

    Examples
    --------
    >>> net = MLPRecNetwork(n_users=5, n_items=7, embedding_dim=4, hidden_sizes=(8,)).eval()
    >>> users = torch.tensor([0, 3])
    >>> tuple(net(users).shape)
    (2, 7)
    >>> items = torch.tensor([6, 1])
    >>> torch.allclose(net.score_pairs(users, items), net(users)[torch.arange(2), items])
    True
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        embedding_dim: int = 64,
        hidden_sizes: Sequence[int] = (256,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(n_users, embedding_dim)
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        hidden = [int(h) for h in hidden_sizes]
        self.hidden = MLP(embedding_dim, hidden, activation="relu", dropout=dropout, final_activation=True)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.hidden.out_features, n_items)

    def user_representation(self, users: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's output for each user, ``(batch, width)``."""
        return self.dropout(self.hidden(self.user_embedding(users)))  # type: ignore[no-any-return]

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of every item, ``(batch, n_items)``."""
        return self.output(self.user_representation(users))  # type: ignore[no-any-return]

    def score_pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of the given ``(user, item)`` pairs only, ``(batch,)``: no ``n_items``-wide output."""
        h = self.user_representation(users)
        return (h * self.output.weight[items]).sum(dim=1) + self.output.bias[items]
