"""Networks for response / click-through-rate prediction on tabular rows: field embeddings, FM, CrossNet-v2.

A row arrives as the arrays of :class:`~deeptarget.data.tabular.EncodedBatch`: one index per single-valued
categorical field, a padded index matrix per multi-valued (or text) field, and a float vector of numeric columns.
:class:`FieldEmbedding` turns them into one ``dim``-wide vector per field, ``(batch, n_fields, dim)``; the
networks combine those vectors into one logit per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from deeptarget.nn.mlp import MLP

__all__ = ["Architecture", "CTRNetwork", "CrossNetV2", "FieldEmbedding", "fm_interaction"]

Architecture = Literal["logreg", "fm", "wide_deep", "deepfm", "dcnv2", "mlp"]


class FieldEmbedding(nn.Module):
    """One vector per field: categorical fields look theirs up, multi-valued fields average the vectors of their
    values (padding 0 excluded), numeric columns scale a learned vector by their value.

    All single-valued categorical fields share one table (each field's indices shifted by an offset), so the
    lookup is a single gather.

    Parameters
    ----------
    categorical_cardinalities
        Table size of each single-valued categorical field (index 0 = missing, 1 = out of vocabulary).
    multi_cardinalities
        Table size of each multi-valued / text field (index 0 is padding).
    n_numeric
        Number of numeric columns.
    dim
        Width of every field vector (1 gives the first-order weights of a linear model).
    init_std
        Standard deviation of the normal initialisation.

    Examples
    --------
    >>> emb = FieldEmbedding([5, 3], [4], n_numeric=2, dim=8)
    >>> cat = torch.tensor([[2, 1], [4, 0]])
    >>> multi = [torch.tensor([[2, 3], [0, 0]])]
    >>> emb(cat, multi, torch.randn(2, 2)).shape  # 2 categorical + 1 multi-valued + 2 numeric fields
    torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        categorical_cardinalities: Sequence[int],
        multi_cardinalities: Sequence[int],
        n_numeric: int,
        dim: int,
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        cards = [int(c) for c in categorical_cardinalities]
        offsets = torch.tensor([0, *cards[:-1]], dtype=torch.int64).cumsum(0) if cards else torch.zeros(0)
        self.register_buffer("offsets", offsets.to(torch.int64), persistent=False)
        self.table = nn.Embedding(max(1, sum(cards)), dim)
        bags = [nn.EmbeddingBag(int(c), dim, mode="mean", padding_idx=0) for c in multi_cardinalities]
        self.numeric = nn.Parameter(torch.empty(n_numeric, dim))
        for weight in (self.table.weight, self.numeric, *(bag.weight for bag in bags)):
            nn.init.normal_(weight, std=init_std)
        self.bags = nn.ModuleList(bags)
        self.n_fields = len(cards) + len(self.bags) + n_numeric
        self.dim = dim

    def forward(self, categorical: torch.Tensor, multi: Sequence[torch.Tensor], numeric: torch.Tensor) -> torch.Tensor:
        """``(batch, n_fields, dim)``: categorical fields, then multi-valued ones, then numeric columns."""
        parts: list[torch.Tensor] = []
        if categorical.shape[1]:
            offsets: torch.Tensor = self.offsets  # type: ignore[assignment]
            parts.append(self.table(categorical + offsets))
        for bag, indices in zip(self.bags, multi, strict=True):
            parts.append(bag(indices).unsqueeze(1))
        if numeric.shape[1]:
            parts.append(numeric.unsqueeze(-1) * self.numeric)
        return torch.cat(parts, dim=1)


def fm_interaction(fields: torch.Tensor) -> torch.Tensor:
    """Second-order factorisation-machine term ``sum_{i<j} <v_i, v_j>`` of ``(batch, n_fields, dim)``, in
    ``O(n_fields * dim)``: ``0.5 * sum_d ((sum_i v_id)^2 - sum_i v_id^2)``.

    References
    ----------
    Rendle, S. (2010), "Factorization Machines", ICDM.

    Examples
    --------
    >>> v = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    >>> fm_interaction(v).item()  # (1*3 + 2*4) + (1*5 + 2*6) + (3*5 + 4*6)
    67.0
    """
    square_of_sum = fields.sum(dim=1).square()
    sum_of_squares = fields.square().sum(dim=1)
    return 0.5 * (square_of_sum - sum_of_squares).sum(dim=1)


class CrossNetV2(nn.Module):
    """DCN-v2's cross network: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` (full-rank ``W_l``).

    References
    ----------
    Wang, R. et al. (2021), "DCN V2: Improved Deep & Cross Network and Practical Lessons for Web-scale Learning
    to Rank Systems", The Web Conference (WWW).

    Examples
    --------
    >>> cross = CrossNetV2(width=6, n_layers=2)
    >>> cross(torch.randn(4, 6)).shape
    torch.Size([4, 6])
    """

    def __init__(self, width: int, n_layers: int) -> None:
        super().__init__()
        layers = [nn.Linear(width, width) for _ in range(n_layers)]
        for layer in layers:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.layers = nn.ModuleList(layers)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class CTRNetwork(nn.Module):
    """One logit per row, by ``architecture``:

    - ``logreg``: first-order weights only (logistic regression on one-hot / bag / numeric features);
    - ``fm``: first order + FM pairwise interactions (Rendle 2010);
    - ``wide_deep``: first order (wide) + an MLP over the concatenated field vectors (Cheng et al. 2016);
    - ``deepfm``: first order + FM + MLP sharing the field vectors (Guo et al. 2017);
    - ``dcnv2``: a cross network and an MLP in parallel over the field vectors, then one linear layer (Wang et
      al. 2021);
    - ``mlp``: an MLP over the field vectors and the raw numeric columns.

    Parameters
    ----------
    architecture
        One of the above.
    categorical_cardinalities, multi_cardinalities, n_numeric
        The input fields (see :class:`FieldEmbedding`).
    embedding_dim
        Width of the field vectors.
    hidden_sizes
        MLP widths (deep parts).
    dropout
        Dropout after each hidden layer.
    n_cross_layers
        Cross layers of ``dcnv2``.

    Examples
    --------
    >>> net = CTRNetwork("deepfm", [5, 3], [4], n_numeric=2, embedding_dim=4, hidden_sizes=(8,))
    >>> net(torch.tensor([[2, 1], [4, 0]]), [torch.tensor([[2, 3], [0, 0]])], torch.randn(2, 2)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        architecture: Architecture,
        categorical_cardinalities: Sequence[int],
        multi_cardinalities: Sequence[int],
        n_numeric: int,
        *,
        embedding_dim: int = 10,
        hidden_sizes: Sequence[int] = (256, 128),
        dropout: float = 0.0,
        n_cross_layers: int = 3,
    ) -> None:
        super().__init__()
        self.architecture = architecture
        self.bias = nn.Parameter(torch.zeros(()))
        self.linear: FieldEmbedding | None = None
        if architecture in ("logreg", "fm", "wide_deep", "deepfm"):  # first-order weights
            self.linear = FieldEmbedding(
                categorical_cardinalities, multi_cardinalities, n_numeric, dim=1, init_std=1e-4
            )
        self.embedding: FieldEmbedding | None = None
        self.deep: MLP | None = None
        self.cross: CrossNetV2 | None = None
        self.head: nn.Linear | None = None
        if architecture == "logreg":
            return
        self.embedding = FieldEmbedding(categorical_cardinalities, multi_cardinalities, n_numeric, embedding_dim)
        width = self.embedding.n_fields * embedding_dim + (n_numeric if architecture == "mlp" else 0)
        if architecture in ("wide_deep", "deepfm", "mlp"):
            self.deep = MLP(width, [*hidden_sizes, 1], dropout=dropout)
        elif architecture == "dcnv2":
            self.cross = CrossNetV2(width, n_cross_layers)
            self.deep = MLP(width, list(hidden_sizes), dropout=dropout, final_activation=True)
            self.head = nn.Linear(width + self.deep.out_features, 1, bias=False)
        elif architecture != "fm":
            raise ValueError(f"unknown architecture {architecture!r}")

    def field_vectors(
        self, categorical: torch.Tensor, multi: Sequence[torch.Tensor], numeric: torch.Tensor
    ) -> torch.Tensor | None:
        """The ``(batch, n_fields, embedding_dim)`` field vectors (``None`` for ``logreg``)."""
        return None if self.embedding is None else self.embedding(categorical, multi, numeric)

    def forward(
        self,
        categorical: torch.Tensor,
        multi: Sequence[torch.Tensor],
        numeric: torch.Tensor,
        fields: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``(batch,)``; pass ``fields`` (from :meth:`field_vectors`) to reuse a lookup."""
        logit = self.bias.expand(categorical.shape[0])
        if self.linear is not None:
            logit = logit + self.linear(categorical, multi, numeric).sum(dim=(1, 2))
        if self.embedding is None:
            return logit
        if fields is None:
            fields = self.embedding(categorical, multi, numeric)
        flat = fields.flatten(1)
        if self.architecture in ("fm", "deepfm"):
            logit = logit + fm_interaction(fields)
        if self.cross is not None and self.head is not None and self.deep is not None:  # dcnv2
            combined: torch.Tensor = self.head(torch.cat([self.cross(flat), self.deep(flat)], dim=1))
            return logit + combined[:, 0]
        if self.deep is not None:
            deep_input = torch.cat([flat, numeric], dim=1) if self.architecture == "mlp" else flat
            logit = logit + self.deep(deep_input)[:, 0]
        return logit
