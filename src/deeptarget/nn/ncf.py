"""Neural collaborative filtering (He et al. 2017): the GMF and MLP towers and the NeuMF network fusing them.

Every module scores ``(user, item)`` pairs; :meth:`NeuMFNetwork.score_all` scores a batch of users against the
whole catalogue without a Python loop over users: the GMF part is one matrix product, and the MLP part evaluates
its first layer once per user and once per item (a linear layer of a concatenation is the sum of two linear
layers) and the rest of the MLP on ``users x items`` in chunks that bound the memory.

References
----------
He, X., Liao, L., Zhang, H., Nie, L., Hu, X., Chua, T.-S. (2017), "Neural Collaborative Filtering", WWW.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

import torch
from torch import nn

from deeptarget.nn.embedding import gather_rows
from deeptarget.nn.mlp import MLP

__all__ = ["GMFTower", "MLPTower", "NeuMFNetwork", "Towers"]

Towers = Literal["neumf", "gmf", "mlp"]

DEFAULT_MAX_FLOATS = 1_000_000
"""Largest ``users x items x width`` activation :meth:`NeuMFNetwork.score_all` builds at once (4 MB): chunks
that stay in the CPU cache are faster than large ones (all of ML-100K's 939 x 1,016 pairs through a
128-64-32 MLP: 0.28 s with 1M, 0.45 s with 4M floats, 2 cores)."""


def _per_pair(user_rows: torch.Tensor, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Per-user rows ``(batch, d)`` shaped to broadcast against per-pair rows of ``items`` (``(batch,)`` or
    ``(batch, n)``)."""
    if items.ndim == users.ndim + 1:
        return user_rows.unsqueeze(-2)
    if items.shape != users.shape:
        raise ValueError(
            f"items must have shape (batch,) or (batch, n) with batch = {users.shape[0]}, got {tuple(items.shape)}"
        )
    return user_rows


class GMFTower(nn.Module):
    """Generalised matrix factorisation: the element-wise product ``p_u * q_i`` of a user and an item vector.

    Parameters
    ----------
    n_users, n_items
        Sizes of the embedding tables.
    embedding_dim
        Width of the vectors (and of the output).
    init_std
        Standard deviation of the normal initialisation (the paper's 0.01).

    Examples
    --------
    >>> tower = GMFTower(n_users=3, n_items=5, embedding_dim=4)
    >>> tower(torch.tensor([0, 2]), torch.tensor([[1, 4, 0], [2, 2, 3]])).shape  # 3 items per user
    torch.Size([2, 3, 4])
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int, init_std: float = 0.01) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(n_users, embedding_dim)
        self.item_embedding = nn.Embedding(n_items, embedding_dim)
        nn.init.normal_(self.user_embedding.weight, std=init_std)
        nn.init.normal_(self.item_embedding.weight, std=init_std)
        self.out_features = embedding_dim

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``p_u * q_i`` for each pair, shape ``items.shape + (embedding_dim,)``."""
        p = _per_pair(gather_rows(self.user_embedding.weight, users), users, items)
        return p * gather_rows(self.item_embedding.weight, items)

    def lookups(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The user and item rows the pairs look up (what an L2 penalty on a batch applies to)."""
        return self.user_embedding(users), self.item_embedding(items)


class MLPTower(nn.Module):
    """The MLP tower: ``[p_u, q_i]`` (concatenated) through ``Linear -> ReLU`` layers.

    Parameters
    ----------
    n_users, n_items
        Sizes of the embedding tables.
    embedding_dim
        Width of the user and item vectors (the MLP's input is twice that).
    layers
        Output width of each layer, e.g. ``(128, 64, 32)``; every layer is followed by a ReLU.
    dropout
        Dropout after each layer but the last (training only).
    init_std
        Standard deviation of the embeddings' normal initialisation.

    Examples
    --------
    >>> tower = MLPTower(n_users=3, n_items=5, embedding_dim=4, layers=(8, 2)).eval()
    >>> users, items = torch.tensor([0, 2]), torch.tensor([[1, 4, 0], [2, 2, 3]])
    >>> tower(users, items).shape
    torch.Size([2, 3, 2])
    >>> every_item = tower.score_all(users)  # (users, n_items, 2)
    >>> torch.allclose(every_item[torch.arange(2)[:, None], items], tower(users, items), atol=1e-6)
    True
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        embedding_dim: int,
        layers: Sequence[int] = (128, 64, 32),
        dropout: float = 0.0,
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        if not layers:
            raise ValueError("MLPTower needs at least one layer")
        self.user_embedding = nn.Embedding(n_users, embedding_dim)
        self.item_embedding = nn.Embedding(n_items, embedding_dim)
        nn.init.normal_(self.user_embedding.weight, std=init_std)
        nn.init.normal_(self.item_embedding.weight, std=init_std)
        self.mlp = MLP(2 * embedding_dim, [int(w) for w in layers], dropout=dropout, final_activation=True)
        self.embedding_dim = embedding_dim
        self.widths = tuple(int(w) for w in layers)
        self.out_features = self.widths[-1]

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The last layer's output for each pair, shape ``items.shape + (layers[-1],)``.

        The first layer is applied to each user row once, not once per pair (see :meth:`score_all`).
        """
        first, rest = self._split_first_layer()
        user_part = self._first_layer_part(self.user_embedding, users, first, user=True) + first.bias
        item_part = self._first_layer_part(self.item_embedding, items, first, user=False)
        return rest(_per_pair(user_part, users, items) + item_part)  # type: ignore[no-any-return]

    def _first_layer_part(
        self, table: nn.Embedding, index: torch.Tensor, first: nn.Linear, *, user: bool
    ) -> torch.Tensor:
        """``W_u p_u`` (``user=True``) or ``W_i q_i`` for every index: projecting the whole table and gathering
        when the batch looks up more rows than the table has (identical values, far fewer multiplications)."""
        d = self.embedding_dim
        weight = first.weight[:, :d] if user else first.weight[:, d:]
        if index.numel() > table.num_embeddings:
            return gather_rows(table.weight @ weight.T, index)
        return gather_rows(table.weight, index) @ weight.T

    def _split_first_layer(self) -> tuple[nn.Linear, nn.Sequential]:
        """The MLP's first ``Linear`` (of ``[p_u, q_i]``) and the layers after it."""
        first = self.mlp.layers[0]
        if not isinstance(first, nn.Linear):  # pragma: no cover - MLP always starts with a Linear
            raise TypeError("MLPTower expects its MLP to start with a Linear layer")
        return first, cast(nn.Sequential, self.mlp.layers[1:])

    def lookups(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The user and item rows the pairs look up."""
        return self.user_embedding(users), self.item_embedding(items)

    def score_all(
        self, users: torch.Tensor, max_floats: int = DEFAULT_MAX_FLOATS, project: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The last layer's output for every ``(user, item)``: ``(batch, n_items, layers[-1])``, or, with
        ``project`` (a ``(layers[-1],)`` vector), that output times ``project``: ``(batch, n_items)``.

        The first layer of ``[p_u, q_i]`` is ``W_u p_u + W_i q_i + b``: computed once per user and once per
        item, then summed for every pair. The remaining layers run on chunks of users such that a chunk's
        ``users x n_items x width`` stays under ``max_floats`` (small enough to stay in the CPU cache);
        without gradients, ReLUs run in place.
        """
        first, rest = self._split_first_layer()
        d = self.embedding_dim
        user_part = self.user_embedding(users) @ first.weight[:, :d].T + first.bias  # (batch, w1)
        item_part = self.item_embedding.weight @ first.weight[:, d:].T  # (n_items, w1)
        n_items, width = item_part.shape
        chunk = max(1, max_floats // max(1, n_items * max(self.widths)))
        in_place = not torch.is_grad_enabled()
        outputs: list[torch.Tensor] = []
        for start in range(0, len(users), chunk):
            h = (user_part[start : start + chunk, None, :] + item_part[None, :, :]).reshape(-1, width)
            for layer in rest:
                if isinstance(layer, nn.Linear):
                    h = torch.addmm(layer.bias, h, layer.weight.T)
                elif in_place and isinstance(layer, nn.ReLU):
                    h = torch.relu_(h)
                else:
                    h = layer(h)
            h = h.view(-1, n_items, h.shape[-1])
            outputs.append(h if project is None else h @ project)
        if not outputs:
            shape = (0, n_items) if project is not None else (0, n_items, self.out_features)
            return torch.zeros(shape, dtype=item_part.dtype, device=item_part.device)
        return torch.cat(outputs, dim=0)


class NeuMFNetwork(nn.Module):
    """NeuMF: a GMF tower and an MLP tower, their outputs concatenated into one linear layer (the logit).

    ``towers="gmf"`` or ``"mlp"`` builds one tower with its own output layer: the models the paper pre-trains
    before initialising NeuMF from them with :meth:`load_pretrained_`.

    Parameters
    ----------
    n_users, n_items
        Sizes of the embedding tables.
    embedding_dim
        Width of the GMF vectors.
    mlp_embedding_dim
        Width of the MLP tower's user and item vectors.
    mlp_layers
        Widths of the MLP tower's layers.
    dropout
        Dropout in the MLP tower.
    towers
        ``neumf`` (both), ``gmf`` or ``mlp``.
    init_std
        Standard deviation of the embeddings' normal initialisation.

    Examples
    --------
    >>> net = NeuMFNetwork(n_users=4, n_items=6, embedding_dim=4, mlp_embedding_dim=4, mlp_layers=(8, 4)).eval()
    >>> users = torch.tensor([0, 3])
    >>> items = torch.tensor([[5, 0], [1, 1]])
    >>> net(users, items).shape  # one logit per pair
    torch.Size([2, 2])
    >>> scores = net.score_all(users)  # every item, vectorised
    >>> scores.shape, torch.allclose(scores.gather(1, items), net(users, items), atol=1e-6)
    (torch.Size([2, 6]), True)

    Initialising NeuMF from pre-trained towers (``alpha`` weighs the GMF part of the output layer):

    >>> gmf = NeuMFNetwork(4, 6, embedding_dim=4, towers="gmf")
    >>> mlp = NeuMFNetwork(4, 6, mlp_embedding_dim=4, mlp_layers=(8, 4), towers="mlp")
    >>> _ = net.load_pretrained_(gmf, mlp, alpha=0.5)
    >>> torch.equal(net.gmf.user_embedding.weight, gmf.gmf.user_embedding.weight)
    True
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        embedding_dim: int = 64,
        mlp_embedding_dim: int = 64,
        mlp_layers: Sequence[int] = (128, 64, 32),
        dropout: float = 0.0,
        towers: Towers = "neumf",
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        if towers not in ("neumf", "gmf", "mlp"):
            raise ValueError(f"towers must be 'neumf', 'gmf' or 'mlp', got {towers!r}")
        self.towers = towers
        self.gmf = GMFTower(n_users, n_items, embedding_dim, init_std) if towers != "mlp" else None
        self.mlp = (
            MLPTower(n_users, n_items, mlp_embedding_dim, mlp_layers, dropout, init_std) if towers != "gmf" else None
        )
        self.gmf_width = 0 if self.gmf is None else self.gmf.out_features
        mlp_width = 0 if self.mlp is None else self.mlp.out_features
        self.output = nn.Linear(self.gmf_width + mlp_width, 1)
        # the paper's initialisation of the prediction layer (LeCun uniform); the bias starts at 0
        nn.init.kaiming_uniform_(self.output.weight, nonlinearity="linear")
        nn.init.zeros_(self.output.bias)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The logit of each ``(user, item)`` pair; ``items`` is ``(batch,)`` or ``(batch, n)``, same shape out."""
        parts = []
        if self.gmf is not None:
            parts.append(self.gmf(users, items))
        if self.mlp is not None:
            parts.append(self.mlp(users, items))
        features = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return self.output(features)[..., 0]  # type: ignore[no-any-return]

    def lookups(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every embedding row the pairs look up, in both towers (what an L2 penalty on a batch applies to)."""
        rows: tuple[torch.Tensor, ...] = ()
        if self.gmf is not None:
            rows += self.gmf.lookups(users, items)
        if self.mlp is not None:
            rows += self.mlp.lookups(users, items)
        return rows

    def score_all(self, users: torch.Tensor, max_floats: int = DEFAULT_MAX_FLOATS) -> torch.Tensor:
        """Logits of every item for each user, ``(batch, n_items)``.

        The GMF part ``h_g . (p_u * q_i) = (h_g * p_u) . q_i`` is one matrix product; the MLP part is
        :meth:`MLPTower.score_all`, chunked so that no activation exceeds ``max_floats`` floats.
        """
        weight = self.output.weight[0]
        scores: torch.Tensor = self.output.bias
        if self.gmf is not None:
            gmf_user = self.gmf.user_embedding(users) * weight[: self.gmf_width]
            scores = scores + gmf_user @ self.gmf.item_embedding.weight.T
        if self.mlp is not None:
            scores = scores + self.mlp.score_all(users, max_floats, project=weight[self.gmf_width :])
        return scores

    @torch.no_grad()
    def load_pretrained_(self, gmf: NeuMFNetwork, mlp: NeuMFNetwork, alpha: float = 0.5) -> NeuMFNetwork:
        """Initialise this NeuMF network from a pre-trained GMF network and a pre-trained MLP network.

        The towers' weights are copied; the output layer becomes ``[alpha * h_gmf, (1 - alpha) * h_mlp]`` and
        its bias ``alpha * b_gmf + (1 - alpha) * b_mlp`` (He et al. 2017, section 3.4.1). Returns ``self``.
        """
        if self.gmf is None or self.mlp is None:
            raise ValueError(f"load_pretrained_ needs a 'neumf' network, this one has towers={self.towers!r}")
        if gmf.towers != "gmf" or gmf.gmf is None or mlp.towers != "mlp" or mlp.mlp is None:
            raise ValueError(
                f"load_pretrained_ needs a 'gmf' and an 'mlp' network, got {gmf.towers!r} and {mlp.towers!r}"
            )
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.gmf.load_state_dict(gmf.gmf.state_dict())
        self.mlp.load_state_dict(mlp.mlp.state_dict())
        weight = torch.cat([alpha * gmf.output.weight, (1.0 - alpha) * mlp.output.weight], dim=1)
        self.output.weight.copy_(weight)
        self.output.bias.copy_(alpha * gmf.output.bias + (1.0 - alpha) * mlp.output.bias)
        return self
