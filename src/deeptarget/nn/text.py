"""Item text as token indices, and a network that turns them into one vector per item.

:class:`Tokenizer` splits text into lower-cased words (optionally adding character n-grams); :class:`Vocabulary`
is learned from the training texts only and maps tokens to indices, with ``0`` reserved for padding and ``1`` for
out-of-vocabulary tokens; :meth:`Vocabulary.encode` gives the right-padded ``int64 (n, max_len)`` matrix that
:class:`TextEncoder` (a bidirectional GRU or a 1-d CNN over word embeddings) reads. Tokenizer and vocabulary save
as JSON (:meth:`Vocabulary.to_dict` / :meth:`Vocabulary.from_dict`).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deeptarget.errors import DataError

__all__ = ["OOV_INDEX", "PAD_INDEX", "TextEncoder", "Tokenizer", "Vocabulary"]

logger = logging.getLogger(__name__)

#: Index of padding: every row of :meth:`Vocabulary.encode` ends in these; its embedding is zero.
PAD_INDEX = 0
#: Index of tokens the vocabulary has not kept (unseen in training, too rare, or beyond ``max_size``).
OOV_INDEX = 1
_N_RESERVED = 2
_NGRAM_PREFIX = "#"
_FORMAT_VERSION = 1


def _as_text_list(texts: Iterable[str | None], where: str) -> list[str]:
    if isinstance(texts, str):  # a lone string would otherwise be read as a sequence of one-character texts
        raise ValueError(f"{where}: expected a sequence of texts, got a single string")
    return ["" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text) for text in texts]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Tokenizer:
    """A deterministic word tokenizer: optional lower-casing, a unicode-aware regex, optional character n-grams.

    Attributes
    ----------
    lowercase
        Lower-case the text first.
    pattern
        Regular expression of one token; the default ``[^\\W_]+`` is a run of letters or digits in any script
        (so ``"T-shirt"`` gives ``t`` and ``shirt``, and ``"Café"`` stays one word).
    char_ngrams
        Lengths of character n-grams to add after each word, fastText style: the word is wrapped in ``<`` and
        ``>`` first and every n-gram is prefixed with ``#`` so it never collides with a word. Empty (the default):
        words only.

    Examples
    --------
    >>> Tokenizer().tokenize(["Diva Women's T-shirt", None, "Café 2011"])
    [['diva', 'women', 's', 't', 'shirt'], [], ['café', '2011']]
    >>> Tokenizer(char_ngrams=(3,)).tokenize(["Red"])
    [['red', '#<re', '#red', '#ed>']]
    """

    lowercase: bool = True
    pattern: str = r"[^\W_]+"
    char_ngrams: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as error:
            raise ValueError(f"Tokenizer.pattern: not a regular expression ({error}): {self.pattern!r}") from None
        object.__setattr__(self, "char_ngrams", tuple(int(n) for n in self.char_ngrams))
        if any(n < 1 for n in self.char_ngrams):
            raise ValueError(f"Tokenizer.char_ngrams: lengths must be >= 1, got {self.char_ngrams}")

    def tokenize(self, texts: Iterable[str | None]) -> list[list[str]]:
        """The tokens of each text, in reading order; missing texts (``None``, NaN) give no tokens."""
        series = pd.Series(_as_text_list(texts, "Tokenizer.tokenize"), dtype=object)
        if self.lowercase:
            series = series.str.lower()
        words: list[list[str]] = series.str.findall(self.pattern).tolist() if len(series) else []
        if not self.char_ngrams:
            return words
        return [[token for word in row for token in self._with_ngrams(word)] for row in words]

    def _with_ngrams(self, word: str) -> list[str]:
        marked = f"<{word}>"
        grams = [
            _NGRAM_PREFIX + marked[start : start + n]
            for n in self.char_ngrams
            if n < len(marked)
            for start in range(len(marked) - n + 1)
        ]
        return [word, *grams]

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return {"lowercase": self.lowercase, "pattern": self.pattern, "char_ngrams": list(self.char_ngrams)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokenizer:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                lowercase=bool(data["lowercase"]),
                pattern=str(data["pattern"]),
                char_ngrams=tuple(int(n) for n in data["char_ngrams"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"malformed tokenizer state ({error})") from None


class Vocabulary:
    """Tokens kept from the training texts, mapped to indices ``2, 3, ...`` (``0`` padding, ``1`` unknown).

    Build it with :meth:`build` on the training texts only, so validation and test words the model never saw
    map to :data:`OOV_INDEX` exactly as they would in production.

    Parameters
    ----------
    tokens
        The kept tokens, most frequent first; token ``tokens[i]`` gets index ``i + 2``.
    tokenizer
        How texts are split; the default :class:`Tokenizer` when ``None``.

    Examples
    --------
    >>> vocab = Vocabulary.build(["red dress", "red shirt", "blue jeans"], min_count=2)
    >>> vocab.tokens, len(vocab)
    (['red'], 3)
    >>> vocab.encode(["Red jeans", "", "red red red"], max_len=2)
    array([[2, 1],
           [0, 0],
           [2, 2]])
    >>> Vocabulary.from_dict(vocab.to_dict()).tokens
    ['red']
    """

    def __init__(self, tokens: Sequence[str], tokenizer: Tokenizer | None = None) -> None:
        self.tokens: list[str] = [str(token) for token in tokens]
        self.tokenizer = tokenizer if tokenizer is not None else Tokenizer()
        self._index = pd.Index(self.tokens, dtype=object)
        if not self._index.is_unique:
            duplicated = self._index[self._index.duplicated()][0]
            raise ValueError(f"Vocabulary.tokens: duplicated token {duplicated!r}")

    @classmethod
    def build(
        cls,
        texts: Iterable[str | None],
        *,
        tokenizer: Tokenizer | None = None,
        min_count: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Learn the vocabulary from (training) texts.

        Parameters
        ----------
        texts
            The training texts; ``None`` or NaN count as empty.
        tokenizer
            How to split them; the default :class:`Tokenizer` when ``None``.
        min_count
            Tokens occurring fewer times in all of ``texts`` are left out (they encode as :data:`OOV_INDEX`).
        max_size
            Keep at most this many tokens, the most frequent (ties broken alphabetically), not counting the two
            reserved indices. ``None``: no cap.
        """
        if min_count < 1:
            raise ValueError(f"Vocabulary.build: min_count must be >= 1, got {min_count}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"Vocabulary.build: max_size must be >= 0 or None, got {max_size}")
        tokenizer = tokenizer if tokenizer is not None else Tokenizer()
        rows = tokenizer.tokenize(texts)
        counts = Counter(itertools.chain.from_iterable(rows))
        kept = sorted((token for token, count in counts.items() if count >= min_count), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[:max_size]
        logger.info(
            "vocabulary built from %d texts: %d distinct tokens, %d kept (min_count=%d, max_size=%s)",
            len(rows),
            len(counts),
            len(kept),
            min_count,
            max_size,
        )
        return cls(kept, tokenizer)

    def __len__(self) -> int:
        """The embedding-table size: the kept tokens plus the two reserved indices."""
        return len(self.tokens) + _N_RESERVED

    def __repr__(self) -> str:
        return f"Vocabulary(n_tokens={len(self.tokens)}, tokenizer={self.tokenizer!r})"

    def index(self, token: str) -> int:
        """Index of one (already tokenized) token; :data:`OOV_INDEX` when it was not kept."""
        position = self._index.get_indexer(pd.Index([token], dtype=object))[0]
        return int(position) + _N_RESERVED if position >= 0 else OOV_INDEX

    @overload
    def encode(
        self, texts: Iterable[str | None], max_len: int, *, return_lengths: Literal[False] = False
    ) -> np.ndarray: ...

    @overload
    def encode(
        self, texts: Iterable[str | None], max_len: int, *, return_lengths: Literal[True]
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def encode(
        self, texts: Iterable[str | None], max_len: int, *, return_lengths: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Token indices of each text, truncated to its first ``max_len`` tokens and right-padded with ``0``.

        Parameters
        ----------
        texts
            The texts; ``None`` or NaN give an all-padding row.
        max_len
            Width of the result.
        return_lengths
            Also return each row's number of tokens (after truncation), ``int64 (n,)``.

        Returns
        -------
        numpy.ndarray
            ``int64 (n, max_len)``, and the lengths when ``return_lengths``.
        """
        if max_len < 1:
            raise ValueError(f"Vocabulary.encode: max_len must be >= 1, got {max_len}")
        rows = self.tokenizer.tokenize(texts)
        lengths = np.fromiter((min(len(row), max_len) for row in rows), dtype=np.int64, count=len(rows))
        flat = list(itertools.chain.from_iterable(row[:max_len] for row in rows))
        positions = self._index.get_indexer(pd.Index(flat, dtype=object)) if flat else np.empty(0, dtype=np.int64)
        values = np.where(positions >= 0, positions + _N_RESERVED, OOV_INDEX).astype(np.int64)
        # Row i's tokens fill columns 0 .. lengths[i] - 1: column = position in flat - start of row i in flat.
        row_of = np.repeat(np.arange(len(rows)), lengths)
        starts = np.cumsum(lengths) - lengths
        columns = np.arange(len(flat)) - np.repeat(starts, lengths)
        encoded = np.full((len(rows), max_len), PAD_INDEX, dtype=np.int64)
        encoded[row_of, columns] = values
        return (encoded, lengths) if return_lengths else encoded

    def to_dict(self) -> dict[str, Any]:
        """Tokenizer settings and tokens as a JSON-ready dict."""
        return {"format_version": _FORMAT_VERSION, "tokenizer": self.tokenizer.to_dict(), "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Inverse of :meth:`to_dict`; malformed state raises :class:`~deeptarget.errors.DataError`."""
        if not isinstance(data, Mapping) or "tokens" not in data or "tokenizer" not in data:
            raise DataError("vocabulary JSON must be an object with 'tokenizer' and 'tokens'")
        version = data.get("format_version", _FORMAT_VERSION)
        if not isinstance(version, int) or version > _FORMAT_VERSION:
            raise DataError(f"vocabulary JSON: unsupported format_version {version!r} (this version reads <= 1)")
        tokens = data["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
            raise DataError("vocabulary JSON: 'tokens' must be a list of strings")
        try:
            return cls(tokens, Tokenizer.from_dict(data["tokenizer"]))
        except ValueError as error:
            raise DataError(f"vocabulary JSON: {error}") from None


class TextEncoder(nn.Module):
    """Token indices ``(batch, max_len)`` -> one ``out_dim`` vector per text, with padding masked out.

    ``kind="bigru"``: word embeddings -> a bidirectional GRU over each text's real tokens (packed, so padding
    never enters the recurrence) -> the mean of its outputs over those tokens -> a linear map.
    ``kind="cnn"``: word embeddings -> one 1-d convolution per kernel size -> ReLU -> max over the windows that
    start at a real token (windows running past the end see zero vectors) -> concatenation -> a linear map.

    A text's length is the position of its last non-padding token plus one, so rows are expected right-padded
    (as :meth:`Vocabulary.encode` writes them) and appending more padding never changes the output. An empty
    text (all padding) pools to a zero vector, so its output is the projection's bias.

    Parameters
    ----------
    vocab_size
        Embedding-table size, ``len(vocabulary)`` (row 0, padding, is a fixed zero vector).
    out_dim
        Output width.
    kind
        ``"bigru"`` or ``"cnn"``.
    embedding_dim
        Width of the word embeddings.
    hidden_size
        GRU state width per direction (``"bigru"``), or number of filters per kernel size (``"cnn"``).
    kernel_sizes
        Window widths of the convolutions (``"cnn"`` only).
    dropout
        Dropout on the embeddings and on the pooled vector.

    References
    ----------
    Cho, K. et al. (2014), "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
    Translation", EMNLP. Kim, Y. (2014), "Convolutional Neural Networks for Sentence Classification", EMNLP.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> tokens = torch.tensor([[2, 3, 4, 0], [5, 0, 0, 0], [0, 0, 0, 0]])
    >>> gru = TextEncoder(vocab_size=6, out_dim=8, kind="bigru").eval()
    >>> cnn = TextEncoder(vocab_size=6, out_dim=8, kind="cnn", kernel_sizes=(2, 3)).eval()
    >>> tuple(gru(tokens).shape), tuple(cnn(tokens).shape)
    ((3, 8), (3, 8))
    >>> bool(torch.allclose(gru(tokens), gru(torch.nn.functional.pad(tokens, (0, 3))), atol=1e-6))
    True
    """

    def __init__(
        self,
        vocab_size: int,
        out_dim: int,
        *,
        kind: Literal["bigru", "cnn"] = "bigru",
        embedding_dim: int = 64,
        hidden_size: int = 64,
        kernel_sizes: Sequence[int] = (2, 3, 4),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if vocab_size < _N_RESERVED:
            raise ValueError(f"TextEncoder: vocab_size must be >= {_N_RESERVED} (padding + unknown), got {vocab_size}")
        if kind not in ("bigru", "cnn"):
            raise ValueError(f"TextEncoder: kind must be 'bigru' or 'cnn', got {kind!r}")
        if min(out_dim, embedding_dim, hidden_size) < 1:
            raise ValueError("TextEncoder: out_dim, embedding_dim and hidden_size must be >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"TextEncoder: dropout must be in [0, 1), got {dropout}")
        self.kind = kind
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if kind == "cnn" and (not self.kernel_sizes or min(self.kernel_sizes) < 1):
            raise ValueError(f"TextEncoder: kernel_sizes must be non-empty and >= 1, got {kernel_sizes}")
        self.out_dim = out_dim
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_INDEX)
        self.dropout = nn.Dropout(dropout)
        self.gru: nn.GRU | None = None
        self.convs = nn.ModuleList()
        if kind == "bigru":
            self.gru = nn.GRU(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
            pooled = 2 * hidden_size
        else:
            self.convs.extend(nn.Conv1d(embedding_dim, hidden_size, k) for k in self.kernel_sizes)
            pooled = hidden_size * len(self.kernel_sizes)
        self.projection = nn.Linear(pooled, out_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Encode right-padded token indices ``int64 (batch, max_len)`` into ``(batch, out_dim)``."""
        if tokens.ndim != 2 or tokens.dtype != torch.int64:
            raise ValueError(
                f"TextEncoder: tokens must be a 2-d int64 (batch, max_len) tensor, got {tokens.dtype} "
                f"of shape {tuple(tokens.shape)}"
            )
        batch, width = tokens.shape
        if batch == 0 or width == 0:
            pooled = self.projection.weight.new_zeros(batch, self.projection.in_features)
            empty: torch.Tensor = self.projection(pooled)
            return empty
        positions = torch.arange(1, width + 1, device=tokens.device)
        lengths = ((tokens != PAD_INDEX) * positions).amax(dim=1)
        # Columns past the longest text are padding everywhere: dropping them changes no output and saves the
        # convolutions / recurrence their cost (texts are padded to a fixed width that is rarely reached).
        tokens = tokens[:, : max(int(lengths.max()), 1)]
        lengths = lengths.clamp(max=tokens.shape[1])
        embedded = self.dropout(self.embedding(tokens))
        if self.gru is not None:
            pooled = self._pool_gru(self.gru, embedded, lengths)
        else:
            pooled = self._pool_cnn(embedded, lengths)
        encoded: torch.Tensor = self.projection(self.dropout(pooled))
        return encoded

    @staticmethod
    def _pool_gru(gru: nn.GRU, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # Packing needs a length >= 1; empty texts read one padding step and are zeroed by the mask below.
        packed = pack_padded_sequence(embedded, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        outputs, _ = pad_packed_sequence(gru(packed)[0], batch_first=True)
        mask = torch.arange(outputs.shape[1], device=lengths.device)[None, :] < lengths[:, None]
        summed = (outputs * mask[..., None]).sum(dim=1)
        return summed / lengths.clamp(min=1)[:, None].to(summed.dtype)

    def _pool_cnn(self, embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = torch.arange(embedded.shape[1], device=lengths.device)[None, :] < lengths[:, None]
        # (batch, embedding_dim, width), zero at padding whatever the padding row holds.
        channels_first = (embedded * mask[..., None]).transpose(1, 2)
        pooled = []
        for conv, k in zip(self.convs, self.kernel_sizes, strict=True):
            # Pad k - 1 zeros on the right so that there is one window per position, starting there.
            windows = torch.relu(conv(nn.functional.pad(channels_first, (0, k - 1))))
            # ReLU outputs are >= 0, so zeroing the windows that start at padding leaves them out of the max,
            # and an empty text pools to 0.
            pooled.append((windows * mask[:, None, :]).amax(dim=2))
        return torch.cat(pooled, dim=1)
