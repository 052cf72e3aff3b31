"""The customer-service assistant: intent, confidence, an FAQ answer, an out-of-scope fallback and, for a known
customer, personalised product suggestions from a recommender run.

An intent run (``deeptarget train CONFIG --out RUN`` with ``task: intent``)::

    task: intent
    name: banking77-bigru
    data: {dataset: banking77}                  # or: train: a.csv, valid: b.csv, test: c.csv (text, intent)
    model: {name: intent_bigru, params: {dropout: 0.3}}    # intent_textcnn, intent_minilm
    faq: configs/faq/banking77.yaml
    assistant: {min_similarity: 0.6, n_suggestions: 3}
    recommender: {run_dir: runs/retail-ease}    # optional: a recommender run for suggestions

writes ``config.yaml``, ``model/``, ``faq.yaml`` (a copy, so the run stands alone) and ``metrics.json`` (valid
and test accuracy, in-scope accuracy, out-of-scope recall / precision, milliseconds per request). Then::

    assistant = Assistant.load("runs/banking77-bigru")
    reply = assistant.answer("my card still hasn't arrived", customer_id="42")
    reply.to_dict()   # {"intent": "card_arrival", "confidence": 0.97, "answer": "...", "suggestions": [...]}

``Assistant.answer`` is what a ``POST /assist`` endpoint calls.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import yaml

from deeptarget.config import Config, ModelSpec
from deeptarget.data.datasets.intents import IntentData, load_intents, read_intent_csv
from deeptarget.errors import ConfigError, DataError, UnknownIdError
from deeptarget.evaluation.intents import intent_metrics
from deeptarget.loading import load_model
from deeptarget.models.assistant.faq import FAQ, FAQIndex, read_faq
from deeptarget.models.assistant.intent import IntentClassifier
from deeptarget.persistence import write_json
from deeptarget.registry import CLASSIFIERS

__all__ = [
    "Assistant",
    "AssistantReply",
    "AssistantSettings",
    "IntentDataConfig",
    "IntentRunConfig",
    "RecommenderLink",
    "train_intent_run",
]

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
FAQ_FILE = "faq.yaml"


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntentDataConfig(Config):
    """A registered intent ``dataset`` (``banking77``, ``clinc150``) or ``train`` / ``valid`` / ``test`` CSV files.

    ``valid_share`` and ``seed`` carve a stratified validation split out of the training rows when there is no
    official one (Banking77) or no ``valid`` file.
    """

    merge_partial: ClassVar[bool] = False

    dataset: str | None = None
    data_dir: str | None = None
    train: str | None = None
    valid: str | None = None
    test: str | None = None
    text_column: str = "text"
    intent_column: str = "intent"
    valid_share: float = 0.1
    seed: int = 2020

    def validate(self) -> None:
        if (self.dataset is None) == (self.train is None):
            raise ConfigError("data: give exactly one of 'dataset' or 'train' (a CSV file)")
        if not 0.0 <= self.valid_share < 1.0:
            raise ConfigError(f"data.valid_share must be in [0, 1), got {self.valid_share}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AssistantSettings(Config):
    """How the assistant answers.

    Attributes
    ----------
    min_similarity
        When the predicted intent has no FAQ entry, the closest entry is used if its cosine similarity to the
        question reaches this; otherwise the generic fallback answers.
    n_suggestions
        Personalised suggestions per answer (0 = none).
    """

    min_similarity: float = 0.6
    n_suggestions: int = 3

    def validate(self) -> None:
        if not -1.0 <= self.min_similarity <= 1.0:
            raise ConfigError(f"assistant.min_similarity must be in [-1, 1], got {self.min_similarity}")
        if self.n_suggestions < 0:
            raise ConfigError(f"assistant.n_suggestions must be >= 0, got {self.n_suggestions}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecommenderLink(Config):
    """A recommender run directory, and which item columns the FAQ's ``suggest`` entries match.

    The items table is the one the run's dataset describes (e.g. the synthetic retailer's products).
    """

    run_dir: str | None = None
    category_column: str = "category"
    text_column: str = "description"


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntentRunConfig(Config):
    """Everything one intent run needs."""

    task: Literal["intent"] = "intent"
    name: str = "intent"
    data: IntentDataConfig = dataclasses.field(default_factory=lambda: IntentDataConfig(dataset="banking77"))
    model: ModelSpec = dataclasses.field(default_factory=lambda: ModelSpec(name="intent_bigru"))
    faq: str | None = None
    assistant: AssistantSettings = dataclasses.field(default_factory=AssistantSettings)
    recommender: RecommenderLink = dataclasses.field(default_factory=RecommenderLink)
    latency_requests: int = 200

    def validate(self) -> None:
        if self.task != "intent":
            raise ConfigError(f"task must be 'intent', got {self.task!r}")
        import deeptarget.models.assistant  # noqa: F401  (registers the intent models)

        cls = CLASSIFIERS.get(self.model.name)
        if not issubclass(cls, IntentClassifier):
            raise ConfigError(f"model.name {self.model.name!r} is not an intent model")
        if self.latency_requests < 0:
            raise ConfigError(f"latency_requests must be >= 0, got {self.latency_requests}")


def read_intent_data(config: IntentDataConfig) -> IntentData:
    """The splits a data config names."""
    if config.dataset is not None:
        if config.data_dir is None:
            raise ConfigError(f"data.data_dir: where is the {config.dataset!r} folder? (--data-dir)")
        return load_intents(config.dataset, config.data_dir, valid_share=config.valid_share, seed=config.seed)
    assert config.train is not None

    def read(path: str) -> pd.DataFrame:
        return read_intent_csv(path, config.text_column, config.intent_column)

    train = read(config.train)
    if config.valid is not None:
        valid = read(config.valid)
    else:
        from deeptarget.data.datasets.intents import stratified_holdout

        holdout = stratified_holdout(train["intent"], config.valid_share, config.seed)
        train, valid = train[~holdout].reset_index(drop=True), train[holdout].reset_index(drop=True)
    test = read(config.test) if config.test is not None else valid.iloc[:0]
    intents = tuple(sorted(set(train["intent"])))
    return IntentData(train=train, valid=valid, test=test, intents=intents, source=config.train)


def milliseconds_per_request(classifier: IntentClassifier, texts: list[str]) -> float:
    """Mean wall-clock milliseconds of ``predict_proba`` on one text at a time (after one warm-up call)."""
    if not texts:
        return float("nan")
    classifier.predict_proba(texts[:1])
    start = time.perf_counter()
    for text in texts:
        classifier.predict_proba([text])
    return (time.perf_counter() - start) / len(texts) * 1000.0


def evaluate_intents(classifier: IntentClassifier, frame: pd.DataFrame) -> dict[str, float]:
    """Metrics on a split: ``accuracy_top1`` without rejection (the usual Banking77 figure), and accuracy,
    in-scope accuracy and out-of-scope recall / precision with the calibrated threshold."""
    if len(frame) == 0:
        return {}
    texts = frame["text"].tolist()
    probabilities = classifier.predict_proba(texts)
    from deeptarget.evaluation.intents import apply_threshold

    oos = classifier.config.oos_label
    top1 = apply_threshold(probabilities, classifier.classes_, 0.0, oos)
    rejected = apply_threshold(probabilities, classifier.classes_, classifier.threshold_, oos)
    metrics = {"accuracy_top1": intent_metrics(frame["intent"], top1, oos)["accuracy"]}
    metrics.update(intent_metrics(frame["intent"], rejected, oos))
    return {k: round(v, 6) for k, v in metrics.items()}


def train_intent_run(config: IntentRunConfig, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Train the intent model, evaluate it on valid and test, copy the FAQ, write the run directory."""
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = read_intent_data(config.data)
    logger.info("intent data %s: %s, %d intents", data.source, data.sizes(), len(data.intents))
    cls = CLASSIFIERS.get(config.model.name)
    model: IntentClassifier = cls(cls.config_class.from_dict(config.model.params))
    model.fit(data.train["text"], data.train["intent"], valid=(data.valid["text"], data.valid["intent"]))
    model.save(run_dir / "model")
    if config.faq is not None:
        faq = read_faq(config.faq)
        (run_dir / FAQ_FILE).write_text(yaml.safe_dump(faq.to_dict(), sort_keys=False, allow_unicode=True), "utf-8")
    resolved = config
    if config.recommender.run_dir is not None:
        absolute = str(Path(config.recommender.run_dir).resolve())
        resolved = config.replace(recommender=config.recommender.replace(run_dir=absolute))
    (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(resolved.to_dict(), sort_keys=False), encoding="utf-8")
    sample = (data.test if len(data.test) else data.valid)["text"].tolist()[: config.latency_requests]
    metrics: dict[str, Any] = {
        "model": config.model.name,
        "valid": evaluate_intents(model, data.valid),
        "test": evaluate_intents(model, data.test),
        "threshold": model.threshold_,
        "threshold_method": model.threshold_method_,
        "fit_seconds": round(model.fit_seconds_, 3),
        "epochs": len(model.history_),
        "ms_per_request": round(milliseconds_per_request(model, sample), 3),
        "protocol": {"source": data.source, **data.sizes(), "intents": len(data.intents), **data.extras},
    }
    write_json(run_dir / "metrics.json", metrics)
    return metrics


@dataclasses.dataclass(frozen=True)
class AssistantReply:
    """What the assistant says to one question.

    ``answer_source``: ``faq`` (the predicted intent's entry), ``retrieval`` (the closest entry of another
    intent, similarity above the threshold), ``fallback`` (generic answer) or ``out_of_scope``.
    """

    text: str
    intent: str
    confidence: float
    in_scope: bool
    answer: str
    answer_source: Literal["faq", "retrieval", "fallback", "out_of_scope"]
    faq_intent: str | None = None
    faq_similarity: float | None = None
    suggestions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    alternatives: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


class Assistant:
    """Intent classifier + FAQ store (+ a recommender for suggestions).

    Parameters
    ----------
    classifier
        A fitted :class:`~deeptarget.models.assistant.intent.IntentClassifier`.
    faq
        The answers; an empty store answers with the fallback.
    settings
        Similarity threshold and number of suggestions.
    recommender
        A fitted recommender with ``recommend(user_ids, k, exclude_seen)`` (optional).
    items
        Its items table: column ``item`` plus the category / text columns ``link`` names.
    link
        Which item columns the FAQ's ``suggest`` categories and keywords match.
    """

    def __init__(
        self,
        classifier: IntentClassifier,
        faq: FAQ | None = None,
        settings: AssistantSettings | None = None,
        *,
        recommender: Any = None,
        items: pd.DataFrame | None = None,
        link: RecommenderLink | None = None,
    ) -> None:
        self.classifier = classifier
        self.faq = faq if faq is not None else FAQ(entries=())
        self.settings = settings if settings is not None else AssistantSettings()
        self.index = FAQIndex(self.faq, classifier.embed)
        self.recommender = recommender
        self.link = link if link is not None else RecommenderLink()
        self.items = None if items is None else self._check_items(items)

    def _check_items(self, items: pd.DataFrame) -> pd.DataFrame:
        if "item" not in items.columns:
            raise DataError("items table needs an 'item' column", column="item")
        columns = [c for c in (self.link.category_column, self.link.text_column) if c in items.columns]
        if not columns:
            raise DataError(
                f"items table has neither {self.link.category_column!r} nor {self.link.text_column!r}",
                column=self.link.category_column,
            )
        table = items.set_index("item")[columns]
        lowered: pd.DataFrame = table.apply(lambda col: col.astype(str).str.lower())
        return lowered

    @classmethod
    def load(
        cls,
        run_dir: str | os.PathLike[str],
        *,
        recommender_run: str | os.PathLike[str] | None = None,
        runtime: Literal["torch", "onnx"] | None = None,
    ) -> Assistant:
        """The assistant of an intent run directory; ``recommender_run`` overrides the configured recommender and
        ``runtime`` the classifier's prediction runtime (``torch`` answers a single question sooner than an ONNX
        export, which takes seconds and pays off over many questions)."""
        root = Path(run_dir)
        path = root / CONFIG_FILE
        if not path.is_file():
            raise DataError("not an intent run directory (no config.yaml)", file=str(root))
        config = IntentRunConfig.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))
        classifier = load_model(root / "model")
        if not isinstance(classifier, IntentClassifier):
            raise DataError(f"holds a {type(classifier).__name__}, not an intent model", file=str(root / "model"))
        if runtime is not None:
            classifier.config = classifier.config.replace(runtime=runtime)
        faq = read_faq(root / FAQ_FILE) if (root / FAQ_FILE).is_file() else None
        link = config.recommender
        if recommender_run is not None:
            link = link.replace(run_dir=str(recommender_run))
        recommender, items = None, None
        if link.run_dir is not None:
            recommender, items = _load_recommender(Path(link.run_dir))
        return cls(classifier, faq, config.assistant, recommender=recommender, items=items, link=link)

    def answer(
        self, text: str, customer_id: Any = None, *, slots: Mapping[str, Any] | None = None, n_alternatives: int = 2
    ) -> AssistantReply:
        """Answer one customer question (see :class:`AssistantReply`)."""
        if not isinstance(text, str) or not text.strip():
            raise DataError("the question must be a non-empty string")
        classifier = self.classifier
        # one pass of the encoder gives the intent and the FAQ retrieval vector
        all_probabilities, vectors = classifier.predict_proba_and_embed([text])
        probabilities = all_probabilities[0]
        order = np.argsort(-probabilities, kind="stable")
        best = int(order[0])
        intent, confidence = classifier.classes_[best], float(probabilities[best])
        oos = classifier.config.oos_label
        in_scope = intent != oos and confidence >= classifier.threshold_
        alternatives = [
            {"intent": classifier.classes_[int(j)], "confidence": round(float(probabilities[j]), 6)}
            for j in order[1 : 1 + n_alternatives]
        ]
        if not in_scope:
            return AssistantReply(
                text=text,
                intent=oos,
                confidence=round(confidence, 6),
                in_scope=False,
                answer=self.faq.render(self.faq.out_of_scope, oos, slots),
                answer_source="out_of_scope",
                alternatives=[{"intent": intent, "confidence": round(confidence, 6)}, *alternatives],
            )
        own = self.faq.entries_for(intent)
        hits = self.index.search_vector(vectors[0], k=1, among=own or None)
        source: Literal["faq", "retrieval", "fallback"] = "fallback"
        entry_index, similarity = None, None
        if hits and (own or hits[0][1] >= self.settings.min_similarity):
            entry_index, similarity = hits[0]
            source = "faq" if own else "retrieval"
        entry = self.faq.entries[entry_index] if entry_index is not None else None
        template = entry.answer if entry is not None else self.faq.fallback
        return AssistantReply(
            text=text,
            intent=intent,
            confidence=round(confidence, 6),
            in_scope=True,
            answer=self.faq.render(template, intent, slots),
            answer_source=source,
            faq_intent=entry.intent if entry is not None else None,
            faq_similarity=None if similarity is None else round(similarity, 6),
            suggestions=self._suggest(entry, customer_id),
            alternatives=alternatives,
        )

    def _suggest(self, entry: Any, customer_id: Any) -> list[dict[str, Any]]:
        n = self.settings.n_suggestions
        if customer_id is None or entry is None or not entry.suggests or n == 0:
            return []
        if self.recommender is None or self.items is None:
            return []
        try:
            ids, scores = self.recommender.recommend([customer_id], k=min(len(self.items), 1000), exclude_seen=True)
        except UnknownIdError:
            logger.info("customer %r is unknown to the recommender: no suggestions", customer_id)
            return []
        ids, scores = ids[0], scores[0]
        known = pd.Index(self.items.index)
        rows = known.get_indexer(ids)
        keep = (rows >= 0) & np.isfinite(scores)
        ids, scores, rows = ids[keep], scores[keep], rows[keep]
        match = np.zeros(len(ids), dtype=bool)
        categories = {c.lower() for c in entry.categories}
        if categories and self.link.category_column in self.items.columns:
            match |= np.isin(self.items[self.link.category_column].to_numpy()[rows], sorted(categories))
        if entry.keywords and self.link.text_column in self.items.columns:
            text = pd.Series(self.items[self.link.text_column].to_numpy()[rows])
            for keyword in entry.keywords:
                match |= text.str.contains(keyword.lower(), regex=False).to_numpy()
        chosen = np.flatnonzero(match)[:n]
        columns = list(self.items.columns)
        return [
            {
                "item": _plain(ids[j]),
                "score": round(float(scores[j]), 6),
                **{c: self.items[c].to_numpy()[rows[j]] for c in columns},
            }
            for j in chosen
        ]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _load_recommender(run_dir: Path) -> tuple[Any, pd.DataFrame]:
    """A recommender run's model and the items table of its dataset."""
    from deeptarget.data.loading import load_interactions
    from deeptarget.runs import load_run_config

    config = load_run_config(run_dir)
    model = load_model(run_dir / "model")
    items = load_interactions(config.data).items
    if items is None:
        raise DataError("the recommender run's dataset has no items table to match suggestions", file=str(run_dir))
    return model, items
