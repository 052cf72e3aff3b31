"""Networks for intent classification: an encoder of texts, then a linear layer over the intents.

:class:`IntentNetwork` puts a classification head on any text encoder (the from-scratch
:class:`~deeptarget.nn.text.TextEncoder`, or :class:`SentenceEncoder` over a pretrained transformer) and exposes
the encoder's vector as :meth:`IntentNetwork.embed` (used to retrieve the closest FAQ entry).
:class:`SentenceEncoder` mean-pools the token states of a Hugging Face ``transformers`` model (e.g.
all-MiniLM-L6-v2) over the real tokens; ``transformers`` is imported only by :func:`load_pretrained`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["IntentNetwork", "SentenceEncoder", "load_pretrained"]

logger = logging.getLogger(__name__)


class IntentNetwork(nn.Module):
    """``encoder(*inputs)`` -> dropout -> linear map to one logit per intent.

    Parameters
    ----------
    encoder
        Any module returning ``(batch, embedding_dim)`` from the inputs.
    embedding_dim
        Width of the encoder's output.
    n_classes
        Number of intents (including an explicit out-of-scope class, when there is one).
    dropout
        Dropout on the encoder's output during training.

    Examples
    --------
    >>> from deeptarget.nn.text import TextEncoder
    >>> _ = torch.manual_seed(0)
    >>> net = IntentNetwork(TextEncoder(vocab_size=10, out_dim=8, kind="cnn"), embedding_dim=8, n_classes=3)
    >>> tokens = torch.tensor([[2, 3, 0], [4, 0, 0]])
    >>> tuple(net(tokens).shape), tuple(net.embed(tokens).shape)
    ((2, 3), (2, 8))
    """

    def __init__(self, encoder: nn.Module, embedding_dim: int, n_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"IntentNetwork: needs at least 2 classes, got {n_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"IntentNetwork: dropout must be in [0, 1), got {dropout}")
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, n_classes)

    def embed(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The encoder's vector of each text, ``(batch, embedding_dim)``."""
        vectors: torch.Tensor = self.encoder(*inputs)
        return vectors

    def logits_and_vectors(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(batch, n_classes)`` and the encoder's vectors ``(batch, embedding_dim)`` from one pass."""
        vectors = self.embed(*inputs)
        logits: torch.Tensor = self.head(self.dropout(vectors))
        return logits, vectors

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)``."""
        return self.logits_and_vectors(*inputs)[0]


class SentenceEncoder(nn.Module):
    """Mean of a transformer's last hidden states over the real (unmasked) tokens: one vector per text.

    Parameters
    ----------
    transformer
        A Hugging Face ``transformers`` model whose call ``transformer(input_ids=..., attention_mask=...)``
        returns an object with ``last_hidden_state`` ``(batch, length, hidden)``.
    hidden_size
        Width of those states.

    References
    ----------
    Reimers, N. and Gurevych, I. (2019), "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks", EMNLP.
    Wang, W. et al. (2020), "MiniLM: Deep Self-Attention Distillation for Task-Agnostic Compression of
    Pre-Trained Transformers", NeurIPS.

    Examples
    --------
    >>> class Toy(torch.nn.Module):
    ...     def forward(self, input_ids, attention_mask):
    ...         class Out: last_hidden_state = input_ids[..., None].float().repeat(1, 1, 2)
    ...         return Out()
    >>> encoder = SentenceEncoder(Toy(), hidden_size=2)
    >>> encoder(torch.tensor([[1, 3, 0]]), torch.tensor([[1, 1, 0]])).tolist()
    [[2.0, 2.0]]
    """

    def __init__(self, transformer: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.transformer = transformer
        self.hidden_size = hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``int64 (batch, length)`` token ids and 0/1 mask -> ``(batch, hidden_size)``."""
        states = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask[..., None].to(states.dtype)
        pooled: torch.Tensor = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return pooled


def load_pretrained(directory: str | Path) -> tuple[Any, SentenceEncoder]:
    """Tokenizer and :class:`SentenceEncoder` of a ``transformers`` model saved in ``directory`` (offline only).

    Nothing is downloaded: ``local_files_only`` is set, so a directory without the model's files is an error.
    """
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    path = str(directory)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True)
    logger.info("loaded pretrained %s from %s", type(model).__name__, path)
    return tokenizer, SentenceEncoder(model, int(model.config.hidden_size))
