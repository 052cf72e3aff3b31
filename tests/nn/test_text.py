"""Tokenizer, vocabulary and TextEncoder: splitting, OOV and padding, JSON state, masking, and a tiny fit."""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
import pytest
import torch

from deeptarget.errors import DataError
from deeptarget.nn.text import OOV_INDEX, PAD_INDEX, TextEncoder, Tokenizer, Vocabulary

Kind = Literal["bigru", "cnn"]
KINDS: list[Kind] = ["bigru", "cnn"]


def test_tokenizer_is_unicode_aware_lowercases_and_skips_missing() -> None:
    texts: list[Any] = ["Puma Men's RED T-Shirt", "Ärmel STRAßE 東京", None, float("nan"), ""]
    rows = Tokenizer().tokenize(texts)
    assert rows == [["puma", "men", "s", "red", "t", "shirt"], ["ärmel", "straße", "東京"], [], [], []]
    assert Tokenizer(lowercase=False).tokenize(["Red"]) == [["Red"]]


def test_char_ngrams_are_off_by_default_and_marked() -> None:
    assert Tokenizer().tokenize(["abc"]) == [["abc"]]
    assert Tokenizer(char_ngrams=(2,)).tokenize(["ab"]) == [["ab", "#<a", "#ab", "#b>"]]


def test_tokenizer_rejects_bad_settings_and_a_lone_string() -> None:
    with pytest.raises(ValueError, match="pattern"):
        Tokenizer(pattern="[")
    with pytest.raises(ValueError, match="char_ngrams"):
        Tokenizer(char_ngrams=(0,))
    with pytest.raises(ValueError, match="single string"):
        Tokenizer().tokenize("red dress")


def test_vocabulary_min_count_max_size_and_deterministic_order() -> None:
    texts = ["b a", "a b c", "a d", "c"]  # a:3, b:2, c:2, d:1
    assert Vocabulary.build(texts).tokens == ["a", "b", "c", "d"]  # ties alphabetical
    assert Vocabulary.build(texts, min_count=2).tokens == ["a", "b", "c"]
    vocab = Vocabulary.build(texts, min_count=2, max_size=2)
    assert vocab.tokens == ["a", "b"] and len(vocab) == 4
    assert vocab.index("a") == 2 and vocab.index("c") == OOV_INDEX
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(texts, min_count=0)


def test_vocabulary_is_learned_from_training_texts_only() -> None:
    vocab = Vocabulary.build(["red dress", "blue dress"])
    encoded = vocab.encode(["green dress", "red"], max_len=3)
    assert "green" not in vocab.tokens
    np.testing.assert_array_equal(encoded, [[OOV_INDEX, vocab.index("dress"), 0], [vocab.index("red"), 0, 0]])


def test_encode_pads_right_truncates_and_returns_lengths() -> None:
    vocab = Vocabulary.build(["a b c d"])
    encoded, lengths = vocab.encode(["a b c d e", "b", None, ""], max_len=3, return_lengths=True)
    assert encoded.dtype == np.int64 and lengths.dtype == np.int64
    np.testing.assert_array_equal(encoded, [[2, 3, 4], [3, 0, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(lengths, [3, 1, 0, 0])
    np.testing.assert_array_equal((encoded != PAD_INDEX).sum(axis=1), lengths)
    assert vocab.encode([], max_len=4).shape == (0, 4)
    with pytest.raises(ValueError, match="max_len"):
        vocab.encode(["a"], max_len=0)


def test_vocabulary_json_round_trip() -> None:
    vocab = Vocabulary.build(["Zoë's red dress", "red shoes"], tokenizer=Tokenizer(char_ngrams=(3,)), min_count=1)
    restored = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert restored.tokens == vocab.tokens and restored.tokenizer == vocab.tokenizer
    texts = ["red zoë", "unknown words"]
    np.testing.assert_array_equal(restored.encode(texts, 12), vocab.encode(texts, 12))
    with pytest.raises(DataError, match="tokens"):
        Vocabulary.from_dict({"tokenizer": {}})
    with pytest.raises(DataError, match="tokenizer"):
        Vocabulary.from_dict({"tokenizer": {"lowercase": True}, "tokens": []})


@pytest.mark.parametrize("kind", KINDS)
def test_encoder_shapes_padding_invariance_and_empty_texts(kind: Kind) -> None:
    torch.manual_seed(0)
    encoder = TextEncoder(vocab_size=10, out_dim=5, kind=kind, embedding_dim=8, hidden_size=6).eval()
    tokens = torch.tensor([[2, 3, 4, 5], [6, 7, 0, 0], [8, 0, 0, 0], [0, 0, 0, 0]])
    out = encoder(tokens)
    assert out.shape == (4, 5) and torch.isfinite(out).all()
    longer = torch.nn.functional.pad(tokens, (0, 5))
    torch.testing.assert_close(encoder(longer), out, atol=1e-6, rtol=1e-6)
    # A text alone gives the same vector as in a batch with longer texts.
    torch.testing.assert_close(encoder(tokens[1:2, :2]), out[1:2], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out[3], encoder.projection.bias.detach())  # empty text -> zeros before projection
    assert encoder(torch.zeros(0, 4, dtype=torch.int64)).shape == (0, 5)
    with pytest.raises(ValueError, match="int64"):
        encoder(tokens.float())


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_the_embeddings_but_not_the_padding_row(kind: Kind) -> None:
    torch.manual_seed(0)
    encoder = TextEncoder(vocab_size=10, out_dim=3, kind=kind, embedding_dim=8, hidden_size=6, dropout=0.1)
    encoder(torch.tensor([[2, 3, 0], [4, 0, 0]])).sum().backward()
    grad = encoder.embedding.weight.grad
    assert grad is not None
    assert grad[[2, 3, 4]].abs().sum() > 0 and grad[PAD_INDEX].abs().sum() == 0
    assert all(p.grad is not None for p in encoder.parameters() if p.requires_grad)


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_training_separates_red_from_blue(kind: Kind) -> None:
    rng = np.random.default_rng(0)
    fillers = ["cotton", "shirt", "dress", "women", "men", "slim", "fit", "casual", "summer", "kurta", "jeans"]
    texts, labels = [], []
    for i in range(64):
        words = list(rng.choice(fillers, size=int(rng.integers(2, 7))))
        colour = "red" if i % 2 == 0 else "blue"
        words.insert(int(rng.integers(0, len(words) + 1)), colour)
        texts.append(" ".join(words))
        labels.append(float(i % 2 == 0))
    vocab = Vocabulary.build(texts)
    tokens = torch.from_numpy(vocab.encode(texts, max_len=10))
    target = torch.tensor(labels)
    torch.manual_seed(0)
    encoder = TextEncoder(len(vocab), out_dim=1, kind=kind, embedding_dim=16, hidden_size=16)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=0.03)
    for _ in range(20):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(encoder(tokens)[:, 0], target)
        loss.backward()
        optimiser.step()
    accuracy = ((encoder.eval()(tokens)[:, 0] > 0).float() == target).float().mean()
    assert accuracy > 0.95
