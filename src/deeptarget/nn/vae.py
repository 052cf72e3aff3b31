"""Autoencoders over a user's item row: the Mult-DAE and Mult-VAE networks of Liang et al. (2018)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.functional import normalize

from deeptarget.nn.mlp import MLP

__all__ = ["AutoEncoderEnsemble", "AutoEncoderOutput", "MultDAENetwork", "MultVAENetwork", "NonZero"]

NonZero = tuple[torch.Tensor, torch.Tensor]
"""The non-zero cells of a batch of rows: ``(row positions in the batch, item columns)``, each ``(nnz,)``."""


class AutoEncoderOutput(NamedTuple):
    """What the autoencoders return: decoder ``logits`` over every item, the code ``mu`` and, for the VAE,
    ``logvar`` (``None`` for the DAE)."""

    logits: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor | None


def _init_linear_(module: nn.Module) -> None:
    # Xavier weights and zero biases, as in the reference implementations: torch's default init is too small
    # for a 1,000-wide tanh input layer and slows the first epochs down.
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)


class _RowAutoEncoder(nn.Module):
    """Shared parts: L2-normalised input row -> dropout -> encoder; decoder with a tanh between layers."""

    variational: bool = False

    def __init__(self, n_items: int, hidden_sizes: Sequence[int], latent_dim: int, dropout: float) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden_sizes]
        code_width = 2 * latent_dim if self.variational else latent_dim
        self.n_items = n_items
        self.latent_dim = latent_dim
        self.input_dropout = nn.Dropout(dropout)
        # the DAE's code goes through tanh too (every layer but the decoder output); the VAE's mu / logvar do not
        self.encoder = MLP(n_items, [*hidden, code_width], activation="tanh", final_activation=not self.variational)
        self.decoder = MLP(latent_dim, [*reversed(hidden), n_items], activation="tanh")
        _init_linear_(self)

    def _encoder_input(self, rows: torch.Tensor, nonzero: NonZero | None = None) -> torch.Tensor:
        x = normalize(rows, p=2.0, dim=1)
        p = self.input_dropout.p
        if not self.training or p == 0.0:
            return x
        if nonzero is None:
            # inverted dropout from one uniform draw: the same distribution as nn.Dropout, whose bernoulli_ is
            # ~3x slower on CPU for a dense (batch x n_items) input
            keep = torch.rand_like(x) >= p
            return x * keep / (1.0 - p)
        # dropout only where the row is non-zero (elsewhere it changes nothing): one draw per interaction
        # instead of per (user, item) cell, ~30x fewer random numbers on a 3%-dense matrix; same distribution
        batch_rows, columns = nonzero
        drop = torch.rand(batch_rows.shape[0], device=x.device) < p
        x = x / (1.0 - p)
        x[batch_rows[drop], columns[drop]] = 0.0
        return x

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Unnormalised scores of every item, ``(batch, n_items)``, from a batch of codes."""
        return self.decoder(code)  # type: ignore[no-any-return]


class MultDAENetwork(_RowAutoEncoder):
    """Denoising autoencoder: ``row / ||row|| -> dropout -> [hidden ->] latent (tanh) -> [hidden ->] logits``.

    Dropout is active in ``train()`` mode only, so an ``eval()`` network is deterministic.

    Parameters
    ----------
    n_items
        Width of the input row and of the output logits.
    hidden_sizes
        Encoder hidden widths (the decoder mirrors them); ``()`` for Liang et al.'s ``[I -> 200 -> I]``.
    latent_dim
        Width of the code.
    dropout
        Input dropout rate (the "denoising").

    Examples
    --------
    >>> net = MultDAENetwork(n_items=30, hidden_sizes=(), latent_dim=8).eval()
    >>> out = net(torch.bernoulli(torch.full((4, 30), 0.3)))
    >>> tuple(out.logits.shape), tuple(out.mu.shape), out.logvar is None
    ((4, 30), (4, 8), True)
    """

    def __init__(
        self, n_items: int, hidden_sizes: Sequence[int] = (), latent_dim: int = 200, dropout: float = 0.5
    ) -> None:
        super().__init__(n_items, hidden_sizes, latent_dim, dropout)

    def encode(self, rows: torch.Tensor, nonzero: NonZero | None = None) -> torch.Tensor:
        """The code of each row, ``(batch, latent_dim)``; ``nonzero`` (the rows' non-zero cells, optional)
        lets training dropout draw one random number per interaction instead of one per cell."""
        return self.encoder(self._encoder_input(rows, nonzero))  # type: ignore[no-any-return]

    def forward(self, rows: torch.Tensor, nonzero: NonZero | None = None) -> AutoEncoderOutput:
        code = self.encode(rows, nonzero)
        return AutoEncoderOutput(self.decode(code), code, None)


class MultVAENetwork(_RowAutoEncoder):
    """Variational autoencoder with a Gaussian code: the encoder gives ``mu`` and ``logvar``; in ``train()``
    mode the decoder reads a sample ``mu + exp(logvar / 2) * eps``, in ``eval()`` mode ``mu`` itself (no
    sampling, no dropout: deterministic scores).

    Parameters
    ----------
    n_items
        Width of the input row and of the output logits.
    hidden_sizes
        Encoder hidden widths (the decoder mirrors them); Liang et al. use ``(600,)``.
    latent_dim
        Width of the code (200 in the paper).
    dropout
        Input dropout rate.

    References
    ----------
    Liang, D., Krishnan, R. G., Hoffman, M. D. and Jebara, T. (2018), "Variational Autoencoders for
    Collaborative Filtering", The Web Conference (WWW).

    Examples
    --------
    >>> net = MultVAENetwork(n_items=30, hidden_sizes=(16,), latent_dim=4).eval()
    >>> rows = torch.bernoulli(torch.full((3, 30), 0.3))
    >>> out = net(rows)
    >>> tuple(out.logits.shape), tuple(out.logvar.shape)
    ((3, 30), (3, 4))
    >>> torch.equal(out.logits, net.decode(out.mu))  # eval mode decodes mu
    True
    """

    variational = True

    def __init__(
        self, n_items: int, hidden_sizes: Sequence[int] = (600,), latent_dim: int = 200, dropout: float = 0.5
    ) -> None:
        super().__init__(n_items, hidden_sizes, latent_dim, dropout)

    def encode(self, rows: torch.Tensor, nonzero: NonZero | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of each row's code, each ``(batch, latent_dim)``; ``nonzero`` as in
        :meth:`MultDAENetwork.encode`."""
        code = self.encoder(self._encoder_input(rows, nonzero))
        mu, logvar = code.chunk(2, dim=1)
        return mu, logvar

    def forward(self, rows: torch.Tensor, nonzero: NonZero | None = None) -> AutoEncoderOutput:
        mu, logvar = self.encode(rows, nonzero)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return AutoEncoderOutput(self.decode(z), mu, logvar)


class AutoEncoderEnsemble(nn.Module):
    """Several autoencoders scored as one (a deep ensemble), each trained on its own beforehand.

    ``forward`` returns the members' mean log-softmax as ``logits``, the ensemble's score of every item, and the
    members' mean code as ``mu``.

    Parameters
    ----------
    members
        The fitted networks, e.g. five :class:`MultDAENetwork` trained with different seeds.

    References
    ----------
    Lakshminarayanan, B., Pritzel, A. and Blundell, C. (2017), "Simple and Scalable Predictive Uncertainty
    Estimation using Deep Ensembles", NeurIPS.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> members = [MultDAENetwork(n_items=30, latent_dim=4).eval() for _ in range(3)]
    >>> net = AutoEncoderEnsemble(members).eval()
    >>> rows = torch.bernoulli(torch.full((2, 30), 0.3))
    >>> parts = [torch.log_softmax(m(rows).logits, dim=1) for m in members]
    >>> torch.allclose(net(rows).logits, torch.stack(parts).mean(0))
    True
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("AutoEncoderEnsemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, rows: torch.Tensor, nonzero: NonZero | None = None) -> AutoEncoderOutput:
        outputs = [member(rows, nonzero) for member in self.members]
        logits = torch.stack([torch.log_softmax(o.logits, dim=1) for o in outputs]).mean(0)
        return AutoEncoderOutput(logits, torch.stack([o.mu for o in outputs]).mean(0), None)
