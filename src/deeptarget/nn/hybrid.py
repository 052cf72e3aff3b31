"""The two towers of the hybrid recommender: items from their id and content, users from id, history and features.

Index conventions (shared with :mod:`deeptarget.models.recommend.hybrid`):

- item and user ids are stored as ``index + 1``; ``0`` is "no id" (a cold item or a new user, and the value
  id-dropout swaps in during training);
- categorical features of one entity are a right-padded row of global token indices into one table, ``0`` =
  padding; several fields and multi-valued fields simply contribute several tokens, which are averaged;
- text is a right-padded row of token indices (:class:`~deeptarget.nn.text.Vocabulary`), images are
  normalised ``float (batch, 3, size, size)`` tensors (:func:`~deeptarget.nn.image.preprocess`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn.functional import normalize as l2_normalize

from deeptarget.nn.image import ImageEncoder
from deeptarget.nn.mlp import MLP
from deeptarget.nn.text import TextEncoder

__all__ = ["ItemTower", "TwoTowerNetwork", "UserTower", "masked_mean"]


def masked_mean(embedded: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Mean of ``embedded (batch, n, dim)`` over the positions where ``indices (batch, n)`` is not ``0``; rows
    with no such position give zeros.

    Examples
    --------
    >>> e = torch.arange(8.0).reshape(1, 4, 2)
    >>> masked_mean(e, torch.tensor([[3, 5, 0, 0]])).tolist()
    [[1.0, 2.0]]
    """
    mask = (indices != 0).unsqueeze(-1).to(embedded.dtype)
    total = (embedded * mask).sum(dim=1)
    return total / mask.sum(dim=1).clamp_min(1.0)


def _table(rows: int, dim: int) -> nn.Embedding:
    """An embedding table whose row 0 (padding / "none") is a fixed zero vector; the rest N(0, 0.05)."""
    table = nn.Embedding(rows, dim, padding_idx=0)
    nn.init.normal_(table.weight, std=0.05)
    with torch.no_grad():
        table.weight[0].zero_()
    return table


class ItemTower(nn.Module):
    """Item vector = MLP(concat(id embedding, mean categorical embedding, text encoding, image encoding)).

    Parts with size ``0`` (no categorical vocabulary, no text vocabulary, no images) are left out.
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        *,
        n_categories: int = 0,
        text_vocab_size: int = 0,
        text_kind: Literal["bigru", "cnn"] = "cnn",
        image_size: int | None = None,
        image_channels: Sequence[int] = (16, 32, 64),
        hidden_sizes: Sequence[int] = (),
        dropout: float = 0.0,
        augment: bool = True,
    ) -> None:
        super().__init__()
        self.ids = _table(n_items + 1, dim)
        width = dim
        self.categories: nn.Embedding | None = None
        if n_categories > 0:
            self.categories = _table(n_categories + 1, dim)
            width += dim
        self.text: TextEncoder | None = None
        if text_vocab_size > 0:
            self.text = TextEncoder(text_vocab_size, dim, kind=text_kind, embedding_dim=dim, hidden_size=dim)
            width += dim
        self.image: ImageEncoder | None = None
        if image_size is not None:
            self.image = ImageEncoder(dim, image_size=image_size, channels=image_channels, augment=augment)
            width += dim
        self.mlp = MLP(width, [*hidden_sizes, dim], dropout=dropout, final_activation=False)

    def forward(
        self,
        ids: torch.Tensor,
        categories: torch.Tensor | None = None,
        tokens: torch.Tensor | None = None,
        images: torch.Tensor | None = None,
    ) -> torch.Tensor:
        parts = [self.ids(ids)]
        if self.categories is not None:
            if categories is None:
                raise ValueError("ItemTower: this tower has categorical features; pass categories")
            parts.append(masked_mean(self.categories(categories), categories))
        if self.text is not None:
            if tokens is None:
                raise ValueError("ItemTower: this tower has a text encoder; pass tokens")
            parts.append(self.text(tokens))
        if self.image is not None:
            if images is None:
                raise ValueError("ItemTower: this tower has an image encoder; pass images")
            parts.append(self.image(images))
        out: torch.Tensor = self.mlp(torch.cat(parts, dim=1))
        return out


class UserTower(nn.Module):
    """User vector = MLP(concat(id embedding, mean embedding of the recent history, mean categorical embedding)).

    The history reads item *ids* through a table of its own (``index + 1``, ``0`` = padding or an item unknown to
    the table), so a user's vector never needs the item tower's text or image encoders.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        *,
        n_categories: int = 0,
        hidden_sizes: Sequence[int] = (),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.ids = _table(n_users + 1, dim)
        self.history = _table(n_items + 1, dim)
        width = 2 * dim
        self.categories: nn.Embedding | None = None
        if n_categories > 0:
            self.categories = _table(n_categories + 1, dim)
            width += dim
        self.mlp = MLP(width, [*hidden_sizes, dim], dropout=dropout, final_activation=False)

    def forward(self, ids: torch.Tensor, history: torch.Tensor, categories: torch.Tensor | None = None) -> torch.Tensor:
        parts = [self.ids(ids), masked_mean(self.history(history), history)]
        if self.categories is not None:
            if categories is None:
                raise ValueError("UserTower: this tower has categorical features; pass categories")
            parts.append(masked_mean(self.categories(categories), categories))
        out: torch.Tensor = self.mlp(torch.cat(parts, dim=1))
        return out


class TwoTowerNetwork(nn.Module):
    """The user and item towers; scores are (optionally L2-normalised) dot products divided by a temperature."""

    def __init__(self, users: UserTower, items: ItemTower, *, normalize: bool = True, temperature: float = 0.1):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"TwoTowerNetwork: temperature must be > 0, got {temperature}")
        self.users = users
        self.items = items
        self.normalize = normalize
        self.temperature = temperature

    def finish(self, vectors: torch.Tensor) -> torch.Tensor:
        """The final form of tower outputs: L2-normalised when ``normalize``."""
        return l2_normalize(vectors, dim=-1) if self.normalize else vectors

    def logits(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
        """``(n_users, n_items)`` scores of finished vectors."""
        return user_vectors @ item_vectors.T / self.temperature
