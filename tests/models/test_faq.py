"""The FAQ store: YAML and CSV files, slot checks with clear errors, rendering, similarity search."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deeptarget.errors import DataError
from deeptarget.models.assistant.faq import FAQ, FAQIndex, read_faq

REPO = Path(__file__).resolve().parents[2]
BANKING_FAQ = REPO / "configs" / "faq" / "banking77.yaml"


def test_yaml_round_trip_and_render(tmp_path: Path) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(
        "slots: {days: '7'}\n"
        "out_of_scope: Only banking, sorry.\n"
        "entries:\n"
        "  - intent: card_arrival\n"
        "    answer: Cards arrive within {days} days, {name}.\n"
        "    questions: [where is my card]\n"
        "    suggest: {categories: [outdoor]}\n"
    )
    with pytest.raises(DataError, match=r"entries\[0\] \(card_arrival\): slot\(s\) \['name'\]"):
        read_faq(path)
    path.write_text(path.read_text().replace("{days: '7'}", "{days: '7', name: there}"))
    faq = read_faq(path)
    assert faq.render(faq.entries[0].answer, "card_arrival") == "Cards arrive within 7 days, there."
    assert faq.render(faq.entries[0].answer, "card_arrival", {"name": "Ada"}) == "Cards arrive within 7 days, Ada."
    assert faq.entries[0].categories == ("outdoor",) and faq.entries[0].suggests
    assert FAQ.from_dict(faq.to_dict(), source="again") == FAQ.from_dict(faq.to_dict(), source="again")
    assert "change pin" in faq.render(faq.fallback, "change_pin")


def test_csv_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text('intent,answer,questions,keywords\nchange_pin,"Use any ATM.",new pin|reset pin,wallet\n')
    faq = read_faq(path)
    assert faq.entries[0].questions == ("new pin", "reset pin") and faq.entries[0].keywords == ("wallet",)
    path.write_text("intent,reply\nx,y\n")
    with pytest.raises(DataError, match="column 'answer'"):
        read_faq(path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("entries:\n  - intent: x\n")
    with pytest.raises(DataError, match=r"bad.yaml: entries\[0\] \(x\): 'answer'"):
        read_faq(bad)
    with pytest.raises(DataError, match="not found"):
        read_faq(tmp_path / "missing.yaml")


def test_index_search_by_cosine() -> None:
    faq = FAQ.from_dict(
        {"entries": [{"intent": "a", "answer": "x", "questions": ["qa"]}, {"intent": "b", "answer": "y"}]}
    )
    table = {"x": [1.0, 0.0], "qa": [1.0, 0.0], "y": [0.0, 1.0], "query": [0.8, 0.6]}
    index = FAQIndex(faq, lambda texts: np.array([table[t] for t in texts]))
    assert [i for i, _ in index.search("query", k=2)] == [0, 1]
    assert index.search("query", k=1, among=[1])[0][0] == 1
    assert index.search("query", k=1)[0][1] == pytest.approx(0.8)


def test_shipped_banking77_faq(real_data_dir: Path) -> None:
    faq = read_faq(BANKING_FAQ)
    intents = set(json.loads((real_data_dir / "banking77" / "categories.json").read_text()))
    assert set(faq.intents) <= intents
    assert len(faq.intents) >= 30
    assert "card_arrival" in faq.intents
    for entry in faq.entries:
        faq.render(entry.answer, entry.intent)  # every slot has a value
