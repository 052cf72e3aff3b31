"""Networks for probability-of-default models: categorical embeddings + MLP, with optional monotone features.

:class:`PDNetwork` computes one default logit per applicant:

``bias + MLP([categorical field vectors, free numeric columns]) + sum_j s_j * g_j(x_j)``

where each *monotone* numeric feature ``x_j`` enters only through ``g_j``, a non-decreasing piecewise-linear
function (a positive slope plus non-negative hinges at fixed knots), and ``s_j = +1`` (risk rises with the
feature) or ``-1`` (risk falls with it). The logit is therefore monotone in those features by construction, for
every applicant, whatever the weights; the price is that monotone features do not interact with the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.functional import softplus

from deeptarget.nn.ctr import FieldEmbedding
from deeptarget.nn.mlp import MLP

__all__ = ["MonotoneTerms", "PDNetwork"]


class MonotoneTerms(nn.Module):
    """``sum_j s_j * (softplus(a_j) * x_j + sum_k softplus(w_jk) * relu(x_j - t_jk))`` over monotone features.

    Parameters
    ----------
    signs
        ``+1`` or ``-1`` per feature: the direction of the logit in that feature.
    knots
        ``(n_features, n_knots)`` hinge positions (in the encoded feature's units), fixed.

    Examples
    --------
    >>> terms = MonotoneTerms([1.0, -1.0], torch.linspace(-1, 1, 4).repeat(2, 1))
    >>> x = torch.linspace(-3, 3, 50).unsqueeze(1).repeat(1, 2)
    >>> out = terms(torch.stack([x[:, 0], torch.zeros(50)], dim=1))
    >>> bool((out.diff() >= 0).all())  # rises with the increasing feature
    True
    """

    def __init__(self, signs: Sequence[float], knots: torch.Tensor) -> None:
        super().__init__()
        n = len(signs)
        if knots.shape[0] != n:
            raise ValueError(f"knots must have one row per feature ({n}), got {tuple(knots.shape)}")
        self.register_buffer("signs", torch.tensor(list(signs), dtype=torch.float32))
        self.register_buffer("knots", knots.to(torch.float32).clone())
        # a moderate start (slope 0.5, hinges 0.1 each, in encoded units); PDNetwork.parameter_groups gives these
        # parameters a larger learning rate, or the MLP outruns them (Adam moves a softplus parameter by about the
        # learning rate per step, too slowly for the several logits a strong credit feature spans)
        self.slope = nn.Parameter(torch.full((n,), math.log(math.expm1(0.5))))
        self.hinges = nn.Parameter(torch.full((n, knots.shape[1]), math.log(math.expm1(0.1))))

    def contributions(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_features)``: each feature's signed term."""
        knots: torch.Tensor = self.knots  # type: ignore[assignment]
        signs: torch.Tensor = self.signs  # type: ignore[assignment]
        hinge = torch.relu(x.unsqueeze(-1) - knots) * softplus(self.hinges)
        return signs * (softplus(self.slope) * x + hinge.sum(dim=-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch,)``: the sum of the features' terms."""
        return self.contributions(x).sum(dim=1)


class PDNetwork(nn.Module):
    """Default logit from categorical embeddings, free numeric columns (MLP) and monotone numeric terms.

    Parameters
    ----------
    categorical_cardinalities, multi_cardinalities
        Table sizes of the single- and multi-valued categorical fields.
    free_numeric, monotone_numeric
        Column positions, in the encoded numeric matrix, of the numeric inputs to the MLP and of the monotone ones.
    signs, knots
        Direction and hinge positions of each monotone column (see :class:`MonotoneTerms`).
    embedding_dim, hidden_sizes, dropout
        The embedding width and the MLP.
    numeric_bins
        With quantile-encoded numeric columns (values ``bin / (numeric_bins - 1)``), also feed the MLP a learned
        vector per bin of every free numeric column; 0 turns it off. Integrated gradients see these vectors as
        constant (the bin lookup is not differentiable), so a row's attributions then cover the smooth part only.

    Examples
    --------
    >>> net = PDNetwork([5], [], free_numeric=[0], monotone_numeric=[1], signs=[1.0],
    ...                 knots=torch.linspace(0, 1, 5).unsqueeze(0), embedding_dim=4, hidden_sizes=(8,))
    >>> net(torch.tensor([[2], [3]]), [], torch.rand(2, 2)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        categorical_cardinalities: Sequence[int],
        multi_cardinalities: Sequence[int],
        *,
        free_numeric: Sequence[int],
        monotone_numeric: Sequence[int],
        signs: Sequence[float],
        knots: torch.Tensor,
        embedding_dim: int = 8,
        hidden_sizes: Sequence[int] = (128, 64),
        dropout: float = 0.0,
        numeric_bins: int = 0,
    ) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))
        self.n_categorical_fields = len(categorical_cardinalities) + len(multi_cardinalities)
        self.embedding: FieldEmbedding | None = None
        if self.n_categorical_fields:
            self.embedding = FieldEmbedding(categorical_cardinalities, multi_cardinalities, 0, embedding_dim)
        self.embedding_dim = embedding_dim
        self.register_buffer("free_numeric", torch.tensor(list(free_numeric), dtype=torch.long))
        self.register_buffer("monotone_numeric", torch.tensor(list(monotone_numeric), dtype=torch.long))
        # piecewise embeddings of the free numeric columns (Gorishniy et al. 2022): a quantile-encoded value in
        # [0, 1] also picks a learned vector for its bin, so the MLP sees a non-linear code of every number
        self.numeric_bins = numeric_bins
        self.bin_embedding: nn.Embedding | None = None
        if numeric_bins and len(free_numeric):
            self.bin_embedding = nn.Embedding(len(free_numeric) * numeric_bins, embedding_dim)
            nn.init.normal_(self.bin_embedding.weight, std=0.01)
            offsets = torch.arange(len(free_numeric), dtype=torch.long) * numeric_bins
            self.register_buffer("bin_offsets", offsets)
        n_bin_fields = len(free_numeric) if self.bin_embedding is not None else 0
        width = (self.n_categorical_fields + n_bin_fields) * embedding_dim + len(free_numeric)
        self.deep = MLP(width, [*hidden_sizes, 1], dropout=dropout) if width else None
        self.monotone = MonotoneTerms(signs, knots) if len(monotone_numeric) else None
        # the "average applicant" (mean field vectors and encoded numeric columns of the training rows): the
        # baseline of integrated-gradients reason codes, set after training and saved with the weights
        self.register_buffer("reference_fields", torch.zeros(self.n_categorical_fields, embedding_dim))
        n_numeric = len(free_numeric) + len(monotone_numeric)
        self.register_buffer("reference_numeric", torch.zeros(n_numeric))

    #: learning-rate multiplier of the monotone terms' parameters (see :meth:`parameter_groups`)
    monotone_lr_multiplier: float = 20.0

    def parameter_groups(self, lr: float) -> list[dict[str, object]]:
        """Optimiser groups: the monotone terms at ``monotone_lr_multiplier * lr``, everything else at ``lr``.

        The :class:`~deeptarget.training.trainer.Trainer` uses this when a module defines it.
        """
        if self.monotone is None:
            return [{"params": list(self.parameters())}]
        special = {id(p) for p in self.monotone.parameters()}
        rest = [p for p in self.parameters() if id(p) not in special]
        return [{"params": rest}, {"params": list(self.monotone.parameters()), "lr": lr * self.monotone_lr_multiplier}]

    def field_vectors(
        self, categorical: torch.Tensor, multi: Sequence[torch.Tensor], numeric: torch.Tensor
    ) -> torch.Tensor | None:
        """``(batch, n_categorical_fields, embedding_dim)`` (``None`` without categorical fields)."""
        if self.embedding is None:
            return None
        fields: torch.Tensor = self.embedding(categorical, multi, numeric[:, :0])
        return fields

    def logit_from(self, fields: torch.Tensor | None, numeric: torch.Tensor) -> torch.Tensor:
        """The logit from field vectors and the encoded numeric matrix (differentiable in both)."""
        logit = self.bias.expand(numeric.shape[0])
        free: torch.Tensor = self.free_numeric  # type: ignore[assignment]
        monotone_columns: torch.Tensor = self.monotone_numeric  # type: ignore[assignment]
        if self.deep is not None:
            parts = [numeric[:, free]]
            if fields is not None:
                parts.insert(0, fields.flatten(1))
            if self.bin_embedding is not None:
                offsets: torch.Tensor = self.bin_offsets  # type: ignore[assignment]
                bins = torch.round(numeric[:, free].detach() * (self.numeric_bins - 1)).long()
                bins = bins.clamp(0, self.numeric_bins - 1) + offsets
                parts.append(self.bin_embedding(bins).flatten(1))
            logit = logit + self.deep(torch.cat(parts, dim=1))[:, 0]
        if self.monotone is not None:
            logit = logit + self.monotone(numeric[:, monotone_columns])
        return logit

    def forward(
        self,
        categorical: torch.Tensor,
        multi: Sequence[torch.Tensor],
        numeric: torch.Tensor,
        fields: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``(batch,)``; pass ``fields`` (from :meth:`field_vectors`) to reuse a lookup."""
        if fields is None:
            fields = self.field_vectors(categorical, multi, numeric)
        return self.logit_from(fields, numeric)
