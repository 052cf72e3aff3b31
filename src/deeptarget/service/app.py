"""The REST service: an app factory whose lifespan loads the registry's models and opens the events store.

Endpoints: ``GET /health``, ``GET /models``, ``POST /recommend``, ``POST /similar-items``, ``POST /score``,
``POST /credit/score``, ``POST /assist``, ``POST /events`` (API key), ``POST /admin/promote`` and
``POST /admin/reload`` (API key), and the OpenAPI docs at ``/docs``. Run it with ``deeptarget serve --registry DIR``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deeptarget.errors import ConfigError, DataError
from deeptarget.service.events import Event, EventStore
from deeptarget.service.pool import ModelPool, UnknownModelError, WrongKindError
from deeptarget.service.registry import ModelRegistry, ModelVersion
from deeptarget.service.retrieval import IndexKind
from deeptarget.service.schemas import (
    AssistRequest,
    AssistResponse,
    CreditRequest,
    CreditResponse,
    EventsRequest,
    EventsResponse,
    PromoteRequest,
    RecommendRequest,
    RecommendResponse,
    ScoredItem,
    ScoreRequest,
    ScoreResponse,
    SimilarItemsRequest,
)
from deeptarget.service.served import (
    LoadOptions,
    Recommendation,
    ServedAssistant,
    ServedCredit,
    ServedRecommender,
    ServedResponse,
)

__all__ = ["BodySizeLimit", "ServiceSettings", "ServiceState", "create_app"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """Everything the service is configured with (the CLI builds it from flags and the environment).

    Parameters
    ----------
    registry
        The model registry folder.
    events_url
        ``sqlite:///path`` or ``postgresql://...``; default: ``sqlite:///<registry>/events.db``.
    api_key
        The key admin endpoints and ``POST /events`` require in the ``X-API-Key`` header (``None``: they answer 403).
    max_body_bytes
        Larger request bodies are refused with 413 before they are read.
    poll_seconds
        How often the registry is checked for newly promoted versions (0: only on ``POST /admin/reload``).
    index_kind
        faiss index for models with item vectors: ``auto`` (exact up to 200k items, IVF above), ``exact``, ``ivf``,
        ``hnsw``.
    hnsw_m, ef_construction, ef_search
        HNSW graph degree and beam widths at build and query time (higher: better recall, slower).
    nprobe
        IVF cells searched per query (higher: better recall, slower).
    history_limit
        How many of a user's latest live events a recommendation reads.
    threads
        torch / faiss threads per request (1 keeps tail latency low under concurrency on few cores).
    """

    registry: Path
    events_url: str | None = None
    api_key: str | None = None
    max_body_bytes: int = 1_000_000
    poll_seconds: float = 2.0
    index_kind: IndexKind = "auto"
    hnsw_m: int = 16
    ef_construction: int = 40
    ef_search: int = 64
    nprobe: int = 16
    history_limit: int = 200
    threads: int = 1
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes must be >= 1, got {self.max_body_bytes}")
        if self.poll_seconds < 0:
            raise ConfigError(f"poll_seconds must be >= 0, got {self.poll_seconds}")
        if self.api_key is not None and len(self.api_key) < 8:
            raise ConfigError("the API key must be at least 8 characters")

    @property
    def resolved_events_url(self) -> str:
        return self.events_url or f"sqlite:///{Path(self.registry) / 'events.db'}"


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (declared length) before reading them; a body sent
    without ``Content-Length`` is counted as it arrives and refused the same way."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, int(declared), self.max_bytes)
            return
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError(received)
            return message

        try:
            await self.app(scope, counting, send)
        except _BodyTooLargeError as exc:
            await _too_large(send, exc.size, self.max_bytes)


class _BodyTooLargeError(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


async def _too_large(send: Send, size: int, limit: int) -> None:
    response = JSONResponse(
        {"detail": f"request body of at least {size} bytes exceeds the limit of {limit} bytes"}, status_code=413
    )
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a JSONResponse never reads the request
    return {"type": "http.disconnect"}


@dataclass
class ServiceState:
    settings: ServiceSettings
    registry: ModelRegistry
    pool: ModelPool
    events: EventStore
    started: float


def create_app(settings: ServiceSettings) -> FastAPI:
    """The FastAPI application; models load in its lifespan (at startup), not here.

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> with TestClient(create_app(ServiceSettings(registry=Path("registry")))) as client:  # doctest: +SKIP
    ...     client.get("/health").json()["status"]
    'ok'
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = ModelRegistry(settings.registry)
        options = LoadOptions(
            index_kind=settings.index_kind,
            hnsw_m=settings.hnsw_m,
            ef_construction=settings.ef_construction,
            ef_search=settings.ef_search,
            nprobe=settings.nprobe,
        )
        pool = ModelPool(registry, options, names=settings.names)
        await run_in_threadpool(pool.refresh)  # every core builds the first indexes; then one thread per request
        _limit_threads(settings.threads)
        events = EventStore(settings.resolved_events_url)
        app.state.service = ServiceState(settings, registry, pool, events, time.time())
        logger.info("serving %d model(s) from %s", len(pool), settings.registry)
        poller = asyncio.create_task(_poll(pool, settings.poll_seconds)) if settings.poll_seconds > 0 else None
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            events.close()

    app = FastAPI(
        title="DeepTarget",
        summary="Recommendations, response and credit scores from registered DeepTarget models.",
        version=_version(),
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    _add_error_handlers(app)
    _add_routes(app)
    return app


def _version() -> str:
    from deeptarget import __version__

    return __version__


def _limit_threads(threads: int) -> None:
    import faiss
    import torch

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)


async def _poll(pool: ModelPool, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(pool.refresh)
        except Exception:  # the poller must outlive any one bad refresh
            logger.exception("registry poll failed")


def _add_error_handlers(app: FastAPI) -> None:
    async def unknown_model(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    async def wrong_kind(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    async def bad_input(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    app.add_exception_handler(UnknownModelError, unknown_model)
    app.add_exception_handler(WrongKindError, wrong_kind)
    app.add_exception_handler(ConfigError, bad_input)
    app.add_exception_handler(DataError, bad_input)


async def _state(request: Request) -> ServiceState:  # async: FastAPI would run a plain def in the thread pool
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(_state)]


async def _require_key(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> None:
    expected = (await _state(request)).settings.api_key
    if expected is None:
        raise HTTPException(403, "admin endpoints are disabled: start the service with an API key (DEEPTARGET_API_KEY)")
    if x_api_key is None:
        raise HTTPException(401, "missing X-API-Key header")
    if not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise HTTPException(401, "wrong API key")


Admin = Depends(_require_key)


def _add_routes(app: FastAPI) -> None:
    # Reads that take a millisecond or less run on the event loop (no thread hop per request: one worker serves
    # more requests); scoring tables, appending events (an fsync) and admin work run in the thread pool.
    @app.get("/health", tags=["service"])
    async def health(state: State) -> dict[str, Any]:
        """Liveness and what is loaded."""
        return {
            "status": "ok" if len(state.pool) else "no models",
            "models": len(state.pool),
            "events": state.events.backend,
            "uptime_seconds": round(time.time() - state.started, 1),
        }

    @app.get("/models", tags=["service"])
    async def models(state: State) -> list[dict[str, Any]]:
        """Every served model with its version and kind (and a refused newer version, if any)."""
        return state.pool.describe()

    @app.post("/recommend", response_model=RecommendResponse, tags=["recommend"])
    async def recommend(body: RecommendRequest, state: State) -> RecommendResponse:
        """Top-K items for a user id or an ad-hoc history; unknown users get a popularity or item-vector fallback."""
        served = state.pool.get(body.model, ServedRecommender)
        live = state.events.history(str(body.user), state.settings.history_limit) if body.user is not None else []
        rec = served.recommend(
            user=body.user,
            history=body.history or (),
            live_items=live,
            k=body.k,
            exclude_seen=body.exclude_seen,
            category=body.category,
        )
        return _recommendations(served, rec, user=body.user)

    @app.post("/similar-items", response_model=RecommendResponse, tags=["recommend"])
    async def similar_items(body: SimilarItemsRequest, state: State) -> RecommendResponse:
        """Items most like one item (item vectors, else training co-occurrence)."""
        served = state.pool.get(body.model, ServedRecommender)
        rec = served.similar_items(body.item, k=body.k)
        return _recommendations(served, rec)

    @app.post("/score", response_model=ScoreResponse, tags=["campaigns"])
    def score(body: ScoreRequest, state: State) -> ScoreResponse:
        """Response probability of each feature row (a response run's model)."""
        served = state.pool.get(body.model, ServedResponse)
        return ScoreResponse(model=served.name, version=served.version, probabilities=served.score(body.rows))

    @app.post("/credit/score", response_model=CreditResponse, tags=["credit"])
    def credit_score(body: CreditRequest, state: State) -> CreditResponse:
        """PD, risk-based rate, decision and reason codes of each applicant row (a credit run)."""
        served = state.pool.get(body.model, ServedCredit)
        decisions = served.score(body.rows, reasons=body.reasons)
        return CreditResponse(model=served.name, version=served.version, decisions=decisions)

    @app.post("/assist", response_model=AssistResponse, tags=["assistant"])
    def assist(body: AssistRequest, state: State) -> AssistResponse:
        """Intent, confidence, FAQ answer and (for a known customer) product suggestions (an intent run)."""
        served = state.pool.get(body.model, ServedAssistant)
        reply = served.answer(body.text, body.customer_id, slots=body.slots)
        return AssistResponse(model=served.name, version=served.version, reply=reply)

    @app.post("/events", response_model=EventsResponse, dependencies=[Admin], tags=["events"])
    def events(body: EventsRequest, state: State) -> EventsResponse:
        """Append interactions; they are committed before the answer, and used by the very next recommendation."""
        stored = state.events.append([Event(str(e.user), str(e.item), e.value, e.ts) for e in body.events])
        return EventsResponse(stored=stored)

    @app.post("/admin/promote", dependencies=[Admin], tags=["admin"])
    def promote(body: PromoteRequest, state: State) -> dict[str, Any]:
        """Promote a registered version (its files verified) and switch to it now."""
        version: ModelVersion = state.registry.promote(body.model, body.version)
        state.pool.refresh()
        return _swap_report(state, version)

    @app.post("/admin/reload", dependencies=[Admin], tags=["admin"])
    def reload(state: State) -> dict[str, Any]:
        """Re-read the registry now (also retrying versions refused before)."""
        changed = state.pool.refresh(retry_refused=True)
        return {"changed": changed, "models": state.pool.describe()}


def _recommendations(
    served: ServedRecommender, rec: Recommendation, user: str | int | None = None
) -> RecommendResponse:
    return RecommendResponse(
        model=served.name,
        version=served.version,
        user=user,
        source=rec.source,
        items=[ScoredItem(item=i, score=s) for i, s in zip(rec.items, rec.scores, strict=True)],
    )


def _swap_report(state: ServiceState, version: ModelVersion) -> dict[str, Any]:
    return {"model": version.name, "promoted": version.version, "serving": state.pool.version_of(version.name)}
