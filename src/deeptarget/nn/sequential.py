"""Next-item networks over item sequences: GRU4Rec's recurrent encoder and SASRec's causal self-attention.

Both read a left-padded ``(batch, width)`` int64 matrix of item sequences, oldest item first, the most recent
item in the last column. Item index ``i`` is stored as ``i + 1``; ``0`` is padding. :meth:`encode` gives one
vector per position (the state after reading the items up to and including it); ``forward`` scores every item
as the next one after the last position, against the item embeddings themselves (tied input and output
weights), so a network has one ``(n_items + 1) x embedding_dim`` item table.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GRU4RecNetwork", "SASRecNetwork"]


def _check_sequences(sequences: torch.Tensor, name: str) -> None:
    if sequences.ndim != 2 or sequences.dtype != torch.int64:
        raise ValueError(
            f"{name}: sequences must be a 2-d int64 (batch, width) tensor, got {sequences.dtype} "
            f"of shape {tuple(sequences.shape)}"
        )


class _NextItemNetwork(nn.Module):
    """Shared parts: the tied item table (row 0 = padding) and scoring against it."""

    item_embedding: nn.Embedding

    def encode(self, sequences: torch.Tensor) -> torch.Tensor:
        """One ``embedding_dim`` vector per position: ``(batch, width, embedding_dim)``."""
        raise NotImplementedError

    @property
    def item_weights(self) -> torch.Tensor:
        """The item vectors the states are scored against, ``(n_items, embedding_dim)`` (padding row left out)."""
        return self.item_embedding.weight[1:]

    def score(self, states: torch.Tensor) -> torch.Tensor:
        """Scores of every item for states of shape ``(..., embedding_dim)``: ``(..., n_items)``."""
        return states @ self.item_weights.T

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """Scores of every item as the next one after each sequence, ``(batch, n_items)``."""
        return self.score(self.encode(sequences)[:, -1])


class GRU4RecNetwork(_NextItemNetwork):
    """GRU4Rec's encoder: item embedding -> dropout -> GRU layer(s) -> a linear map into the item space.

    Each left-padded sequence is rotated so that its items come first before it enters the GRU, so the
    recurrent state starts from zero at the first real item and the padding (now trailing) never reaches the
    states of real positions; the outputs are rotated back to the input's left-padded layout. The scores of a
    sequence therefore do not depend on how much padding it has.

    Parameters
    ----------
    n_items
        Number of items (the embedding table has one more row, the padding row 0).
    embedding_dim
        Width of the item vectors (and of the states they are scored against).
    hidden_size
        Width of the GRU state.
    num_layers
        Stacked GRU layers.
    dropout
        Dropout on the item embeddings, and between GRU layers when there are several.

    References
    ----------
    Hidasi, B., Karatzoglou, A., Baltrunas, L. and Tikk, D. (2016), "Session-based Recommendations with
    Recurrent Neural Networks", ICLR.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = GRU4RecNetwork(n_items=10, embedding_dim=8, hidden_size=16).eval()
    >>> sequences = torch.tensor([[0, 0, 3, 5], [1, 2, 3, 4]])  # item index i is stored as i + 1
    >>> tuple(net(sequences).shape), tuple(net.encode(sequences).shape)
    ((2, 10), (2, 4, 8))
    >>> bool(torch.allclose(net(sequences[:1]), net(sequences[:1, 2:]), atol=1e-6))  # padding changes nothing
    True
    """

    def __init__(
        self, n_items: int, embedding_dim: int = 64, hidden_size: int = 128, num_layers: int = 1, dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.n_items = n_items
        self.embedding_dim = embedding_dim
        self.item_embedding = nn.Embedding(n_items + 1, embedding_dim, padding_idx=0)
        self.input_dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.output = nn.Linear(hidden_size, embedding_dim)
        # small normal embeddings, as in SASRecNetwork: the scores start near 0 for every item
        nn.init.normal_(self.item_embedding.weight, std=0.02)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def encode(self, sequences: torch.Tensor) -> torch.Tensor:
        _check_sequences(sequences, "GRU4RecNetwork")
        width = sequences.shape[1]
        not_padding = sequences > 0
        shift = width - not_padding.sum(1, keepdim=True)  # leading padding of each row
        columns = torch.arange(width, device=sequences.device)[None, :]
        # rotate left by the padding: the items first, the padding last (a gather, no per-row loop)
        items_first = sequences.gather(1, (columns + shift) % width)
        outputs, _ = self.gru(self.input_dropout(self.item_embedding(items_first)))
        states: torch.Tensor = self.output(outputs)
        back = ((columns - shift) % width)[..., None].expand(-1, -1, states.shape[-1])
        return states.gather(1, back) * not_padding[..., None]


class SASRecNetwork(_NextItemNetwork):
    """SASRec's encoder: item + learned position embeddings -> dropout -> causal self-attention blocks ->
    layer norm.

    The blocks are pre-norm :class:`torch.nn.TransformerEncoderLayer` blocks (``batch_first``, ``norm_first``)
    with a point-wise feed-forward layer as wide as the embedding. A position attends to itself and the real items
    before it, never to padding: a padding position attends only to itself (so no attention row is empty) and
    its output is zeroed after every block. Positions count back from the most recent item, which always has
    position ``max_len - 1``, so a batch may be narrower than ``max_len``.

    Parameters
    ----------
    n_items
        Number of items (the embedding table has one more row, the padding row 0).
    max_len
        Longest sequence (the number of position embeddings).
    embedding_dim
        Width of the item and position vectors and of every block.
    num_blocks
        Self-attention blocks.
    num_heads
        Attention heads (``embedding_dim`` must be divisible by it).
    dropout
        Dropout on the input embeddings and inside the blocks.

    References
    ----------
    Kang, W.-C. and McAuley, J. (2018), "Self-Attentive Sequential Recommendation", ICDM.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = SASRecNetwork(n_items=10, max_len=4, embedding_dim=8, num_blocks=1, num_heads=2).eval()
    >>> sequences = torch.tensor([[0, 0, 3, 5], [1, 2, 3, 4]])
    >>> tuple(net(sequences).shape)
    (2, 10)
    >>> bool(torch.allclose(net(sequences[:1]), net(sequences[:1, 2:]), atol=1e-6))  # padding changes nothing
    True
    """

    def __init__(
        self,
        n_items: int,
        max_len: int = 50,
        embedding_dim: int = 64,
        num_blocks: int = 2,
        num_heads: int = 2,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if embedding_dim % num_heads:
            raise ValueError(f"SASRecNetwork: embedding_dim {embedding_dim} is not divisible by num_heads {num_heads}")
        self.n_items = n_items
        self.max_len = max_len
        self.embedding_dim = embedding_dim
        self.num_heads = num_heads
        self.item_embedding = nn.Embedding(n_items + 1, embedding_dim, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, embedding_dim)
        self.input_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                embedding_dim,
                num_heads,
                dim_feedforward=embedding_dim,
                dropout=dropout,
                activation="relu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(num_blocks)
        )
        self.final_norm = nn.LayerNorm(embedding_dim)
        # small normal embeddings as in the reference implementations (RecBole: std 0.02)
        for table in (self.item_embedding, self.position_embedding):
            nn.init.normal_(table.weight, std=0.02)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def attention_mask(self, padding: torch.Tensor) -> torch.Tensor:
        """Boolean ``(batch * num_heads, width, width)`` mask, ``True`` = may not attend: the future and the
        padding, except that every position may attend to itself."""
        width = padding.shape[1]
        future = torch.ones(width, width, dtype=torch.bool, device=padding.device).triu(1)
        blocked = (future[None] | padding[:, None, :]) & ~torch.eye(width, dtype=torch.bool, device=padding.device)
        return blocked.repeat_interleave(self.num_heads, dim=0)

    def encode(self, sequences: torch.Tensor) -> torch.Tensor:
        _check_sequences(sequences, "SASRecNetwork")
        width = sequences.shape[1]
        if width > self.max_len:
            raise ValueError(f"SASRecNetwork: sequences are {width} wide, more than max_len {self.max_len}")
        padding = sequences == 0
        keep = (~padding)[..., None].to(self.item_embedding.weight.dtype)
        positions = torch.arange(self.max_len - width, self.max_len, device=sequences.device)
        x = self.item_embedding(sequences) + self.position_embedding(positions)[None]
        x = self.input_dropout(x) * keep
        mask = self.attention_mask(padding)
        for block in self.blocks:
            x = block(x, src_mask=mask) * keep
        return self.final_norm(x) * keep  # type: ignore[no-any-return]
