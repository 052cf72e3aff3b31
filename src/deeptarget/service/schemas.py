"""Request and response bodies of the REST API (pydantic, strict: a string is not a number)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AssistRequest",
    "AssistResponse",
    "CreditRequest",
    "CreditResponse",
    "EventIn",
    "EventsRequest",
    "EventsResponse",
    "PromoteRequest",
    "RecommendRequest",
    "RecommendResponse",
    "ScoreRequest",
    "ScoreResponse",
    "ScoredItem",
    "SimilarItemsRequest",
]

MAX_K = 1000
MAX_HISTORY = 1000
MAX_ROWS = 10_000
Id = str | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RecommendRequest(_Strict):
    """Top-K items for a known user (``user``) or for an ad-hoc history of item ids (``history``), or both."""

    model: str = Field(min_length=1, max_length=64, description="Registered model name.")
    user: Id | None = Field(default=None, description="Raw user id; unknown users get a fallback, not an error.")
    history: list[Id] | None = Field(default=None, max_length=MAX_HISTORY, description="Item ids, oldest first.")
    k: int = Field(default=10, ge=1, le=MAX_K)
    exclude_seen: bool = True
    category: str | None = Field(default=None, max_length=200, description="Only items of this category.")

    @model_validator(mode="after")
    def _user_or_history(self) -> Self:
        if self.user is None and self.history is None:
            raise ValueError("give a 'user' id, a 'history' of item ids, or both")
        return self


class ScoredItem(BaseModel):
    item: Id
    score: float


class RecommendResponse(BaseModel):
    model: str
    version: str
    user: Id | None = None
    source: str = Field(description="model, sequence, item-vectors, co-occurrence or popularity (fallback).")
    items: list[ScoredItem]


class SimilarItemsRequest(_Strict):
    model: str = Field(min_length=1, max_length=64)
    item: Id
    k: int = Field(default=10, ge=1, le=MAX_K)


class ScoreRequest(_Strict):
    """Feature rows (column -> value) to score with a response model."""

    model: str = Field(min_length=1, max_length=64)
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ROWS)


class ScoreResponse(BaseModel):
    model: str
    version: str
    probabilities: list[float]


class CreditRequest(_Strict):
    """Applicant rows to decide with a credit run."""

    model: str = Field(min_length=1, max_length=64)
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ROWS)
    reasons: int = Field(default=4, ge=0, le=10, description="Reason codes per applicant.")


class CreditResponse(BaseModel):
    model: str
    version: str
    decisions: list[dict[str, Any]]


class AssistRequest(_Strict):
    """A customer question for an intent run's assistant."""

    model: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=1000, description="The customer's question.")
    customer_id: Id | None = Field(default=None, description="Known customer: adds personalised suggestions.")
    slots: dict[str, str] | None = Field(default=None, description="Values for the answer template's slots.")


class AssistResponse(BaseModel):
    model: str
    version: str
    reply: dict[str, Any]


class EventIn(_Strict):
    user: Id
    item: Id
    value: float = 1.0
    ts: float | None = Field(default=None, description="Unix time in seconds (default: when received).")


class EventsRequest(_Strict):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_ROWS)


class EventsResponse(BaseModel):
    stored: int


class PromoteRequest(_Strict):
    model: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=64)
