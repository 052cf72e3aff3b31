"""The FAQ store: intent -> answer templates with slots, read from YAML or CSV, searchable by embedding similarity.

A YAML file::

    slots: {bank_name: DeepBank, card_delivery_days: 7}       # default slot values
    fallback: "Thanks for asking about {intent_label}. An agent will follow up."   # intents without an entry
    out_of_scope: "Sorry, I can only help with {bank_name} banking questions."
    entries:
      - intent: card_arrival
        answer: "New cards arrive within {card_delivery_days} working days ..."
        questions: ["my card has not arrived", "when will my card come"]       # optional, for retrieval
        suggest: {categories: [travel], keywords: [wallet]}                     # optional, for suggestions

A CSV file has columns ``intent``, ``answer`` and optionally ``questions``, ``categories``, ``keywords`` (several
values separated by ``|``); its fallback and out-of-scope answers are the defaults.

Templates use ``{name}`` slots: a file's ``slots``, the values a caller passes, and ``intent`` / ``intent_label``
(the intent with ``_`` as spaces). A slot no one provides is an error when the file is read, naming the entry.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from deeptarget.errors import DataError

__all__ = ["FAQ", "FAQEntry", "FAQIndex", "read_faq"]

#: Slots every answer may use without declaring them.
RUNTIME_SLOTS = frozenset({"intent", "intent_label"})
DEFAULT_FALLBACK = "Thanks for your question about {intent_label}. A member of our team will get back to you shortly."
DEFAULT_OUT_OF_SCOPE = "Sorry, I can't help with that here. Could you rephrase, or ask about your account or card?"


@dataclasses.dataclass(frozen=True)
class FAQEntry:
    """One answer: its intent, template, example questions and what to suggest with it."""

    intent: str
    answer: str
    questions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def suggests(self) -> bool:
        """Whether the entry names item categories or keywords for personalised suggestions."""
        return bool(self.categories or self.keywords)


def _slot_names(template: str, where: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise DataError(f"{where}: malformed template ({error}): {template!r}") from None


class _Slots(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise DataError(f"answer template needs slot {key!r}, which has no value")


@dataclasses.dataclass(frozen=True)
class FAQ:
    """Answers by intent, a fallback for intents without an entry, an out-of-scope answer and slot defaults.

    Examples
    --------
    >>> faq = FAQ.from_dict({
    ...     "slots": {"days": "7"},
    ...     "entries": [{"intent": "card_arrival", "answer": "Cards arrive within {days} days."}],
    ... })
    >>> faq.render(faq.entries[0].answer, "card_arrival")
    'Cards arrive within 7 days.'
    >>> faq.render(faq.fallback, "change_pin", {"days": "3"})
    'Thanks for your question about change pin. A member of our team will get back to you shortly.'
    """

    entries: tuple[FAQEntry, ...]
    fallback: str = DEFAULT_FALLBACK
    out_of_scope: str = DEFAULT_OUT_OF_SCOPE
    slots: Mapping[str, str] = dataclasses.field(default_factory=dict)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        known = RUNTIME_SLOTS | set(self.slots)
        templates = [("fallback", self.fallback), ("out_of_scope", self.out_of_scope)]
        templates += [(f"entries[{i}] ({e.intent})", e.answer) for i, e in enumerate(self.entries)]
        for where, template in templates:
            missing = sorted(_slot_names(template, f"{self.source}: {where}") - known)
            if missing:
                raise DataError(f"{where}: slot(s) {missing} have no value; add them under 'slots'", file=self.source)

    @property
    def intents(self) -> list[str]:
        """Intents with at least one entry, in file order."""
        return list(dict.fromkeys(e.intent for e in self.entries))

    def entries_for(self, intent: str) -> list[int]:
        """Positions of the entries of ``intent``."""
        return [i for i, e in enumerate(self.entries) if e.intent == intent]

    def render(self, template: str, intent: str, slots: Mapping[str, Any] | None = None) -> str:
        """Fill ``template``'s slots: the caller's ``slots`` over the file's defaults over the runtime slots."""
        values = _Slots({"intent": intent, "intent_label": intent.replace("_", " ")})
        values.update({k: str(v) for k, v in self.slots.items()})
        values.update({k: str(v) for k, v in (slots or {}).items()})
        return template.format_map(values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<memory>") -> FAQ:
        """Build from the YAML structure (see the module docstring); :class:`DataError` names the bad entry."""
        if not isinstance(data, Mapping):
            raise DataError("expected a mapping with 'entries'", file=source)
        unknown = sorted(set(data) - {"entries", "fallback", "out_of_scope", "slots", "name", "description"})
        if unknown:
            raise DataError(f"unknown top-level key(s) {unknown}", file=source)
        raw_entries = data.get("entries") or []
        if not isinstance(raw_entries, list):
            raise DataError("'entries' must be a list", file=source)
        entries = tuple(_entry(raw, i, source) for i, raw in enumerate(raw_entries))
        slots = data.get("slots") or {}
        if not isinstance(slots, Mapping):
            raise DataError("'slots' must be a mapping of slot name to value", file=source)
        texts = {}
        for key, default in (("fallback", DEFAULT_FALLBACK), ("out_of_scope", DEFAULT_OUT_OF_SCOPE)):
            value = data.get(key, default)
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"'{key}' must be a non-empty string", file=source)
            texts[key] = value
        return cls(
            entries=entries,
            fallback=texts["fallback"],
            out_of_scope=texts["out_of_scope"],
            slots={str(k): str(v) for k, v in slots.items()},
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """The YAML structure (round-trips through :meth:`from_dict`)."""
        entries = []
        for e in self.entries:
            row: dict[str, Any] = {"intent": e.intent, "answer": e.answer}
            if e.questions:
                row["questions"] = list(e.questions)
            if e.suggests:
                row["suggest"] = {"categories": list(e.categories), "keywords": list(e.keywords)}
            entries.append(row)
        return {
            "slots": dict(self.slots),
            "fallback": self.fallback,
            "out_of_scope": self.out_of_scope,
            "entries": entries,
        }


def _strings(value: Any, where: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DataError(f"{where} must be a list of non-empty strings", file=source)
    return tuple(value)


def _entry(raw: Any, index: int, source: str) -> FAQEntry:
    where = f"entries[{index}]"
    if not isinstance(raw, Mapping):
        raise DataError(f"{where}: expected a mapping with 'intent' and 'answer'", file=source)
    unknown = sorted(set(raw) - {"intent", "answer", "questions", "suggest"})
    if unknown:
        raise DataError(f"{where}: unknown key(s) {unknown}", file=source)
    intent, answer = raw.get("intent"), raw.get("answer")
    if not isinstance(intent, str) or not intent.strip():
        raise DataError(f"{where}: 'intent' must be a non-empty string", file=source)
    if not isinstance(answer, str) or not answer.strip():
        raise DataError(f"{where} ({intent}): 'answer' must be a non-empty string", file=source)
    suggest = raw.get("suggest") or {}
    if not isinstance(suggest, Mapping) or set(suggest) - {"categories", "keywords"}:
        raise DataError(f"{where} ({intent}): 'suggest' takes 'categories' and/or 'keywords'", file=source)
    return FAQEntry(
        intent=intent.strip(),
        answer=answer.strip(),
        questions=_strings(raw.get("questions"), f"{where} ({intent}): 'questions'", source),
        categories=_strings(suggest.get("categories"), f"{where} ({intent}): 'suggest.categories'", source),
        keywords=_strings(suggest.get("keywords"), f"{where} ({intent}): 'suggest.keywords'", source),
    )


def read_faq(path: str | Path) -> FAQ:
    """Read an FAQ file: YAML (``.yaml`` / ``.yml``) or CSV (``.csv``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("FAQ file not found", file=str(path))
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise DataError(f"invalid YAML: {error}", file=str(path)) from None
        return FAQ.from_dict(data or {}, source=str(path))
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in ("intent", "answer"):
            if column not in frame.columns:
                raise DataError(f"no column {column!r}", file=str(path), column=column)

        def split(row: pd.Series, column: str) -> list[str]:
            return [v.strip() for v in str(row.get(column, "")).split("|") if v.strip()]

        entries = [
            {
                "intent": row["intent"],
                "answer": row["answer"],
                "questions": split(row, "questions"),
                "suggest": {"categories": split(row, "categories"), "keywords": split(row, "keywords")},
            }
            for _, row in frame.iterrows()
        ]
        return FAQ.from_dict({"entries": entries}, source=str(path))
    raise DataError("FAQ files are .yaml, .yml or .csv", file=str(path))


class FAQIndex:
    """Entry vectors for similarity search: the normalised mean of the embedded example questions and answer.

    Parameters
    ----------
    faq
        The store.
    embed
        ``embed(texts) -> (n, dim)`` L2-normalised vectors, e.g. an intent classifier's ``embed``.

    Examples
    --------
    >>> faq = FAQ.from_dict({"entries": [{"intent": "a", "answer": "x"}, {"intent": "b", "answer": "y"}]})
    >>> table = {"x": [1.0, 0.0], "y": [0.0, 1.0], "q": [0.6, 0.8]}
    >>> index = FAQIndex(faq, lambda texts: np.array([table[t] for t in texts]))
    >>> [(faq.entries[i].intent, round(s, 2)) for i, s in index.search("q", k=2)]
    [('b', 0.8), ('a', 0.6)]
    """

    def __init__(self, faq: FAQ, embed: Callable[[list[str]], np.ndarray]) -> None:
        self.faq = faq
        self.embed = embed
        texts, owners = [], []
        for i, entry in enumerate(faq.entries):
            for text in (*entry.questions, entry.answer):
                texts.append(text)
                owners.append(i)
        dim = 0
        if texts:
            vectors = np.asarray(embed(texts), dtype=np.float64)
            dim = vectors.shape[1]
            sums = np.zeros((len(faq.entries), dim))
            np.add.at(sums, np.asarray(owners), vectors)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            self.vectors = sums / np.where(norms > 0, norms, 1.0)
        else:
            self.vectors = np.zeros((0, dim))

    def search(self, text: str, k: int = 1, among: list[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` entries most similar to ``text`` (cosine), best first, optionally only ``among`` them."""
        if len(self.vectors) == 0:
            return []
        return self.search_vector(np.asarray(self.embed([text]), dtype=np.float64)[0], k, among)

    def search_vector(self, query: np.ndarray, k: int = 1, among: list[int] | None = None) -> list[tuple[int, float]]:
        """:meth:`search` for an already embedded (L2-normalised) question."""
        if len(self.vectors) == 0:
            return []
        query = np.asarray(query, dtype=np.float64)
        candidates = np.arange(len(self.vectors)) if among is None else np.asarray(among, dtype=np.int64)
        if len(candidates) == 0:
            return []
        scores = self.vectors[candidates] @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(candidates[j]), float(scores[j])) for j in order]
