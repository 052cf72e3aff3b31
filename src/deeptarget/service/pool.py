"""The models a service holds, kept in step with the registry: load, verify, swap, or refuse and keep serving.

A request takes a reference to one :class:`~deeptarget.service.served.ServedModel` and uses it to the end; a
promotion builds the new version completely on the side and then replaces the reference in one assignment, so
no request ever sees a half-loaded model and none fails during a swap. A version that does not verify or load
is refused with one error log line, and the version already in memory keeps serving.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, TypeVar

from deeptarget.errors import ConfigError
from deeptarget.service.registry import ModelRegistry
from deeptarget.service.served import LoadOptions, ServedModel, load_served

__all__ = ["ModelPool", "UnknownModelError", "WrongKindError"]

logger = logging.getLogger(__name__)

M = TypeVar("M")


class UnknownModelError(ConfigError):
    """No model of that name is being served."""


class WrongKindError(ConfigError):
    """The model exists but is of another kind than the endpoint serves."""


@dataclass(frozen=True)
class Refusal:
    """A version the pool would not load, and why."""

    version: str
    reason: str


class ModelPool:
    """Served models by name, refreshed from a :class:`ModelRegistry`.

    Parameters
    ----------
    registry
        Where the versions and the ``current.json`` pointers live.
    options
        How to build the served forms (faiss index kind, ...).
    names
        Serve only these registered names (default: every name with a promoted version).
    """

    def __init__(
        self, registry: ModelRegistry, options: LoadOptions | None = None, names: tuple[str, ...] | None = None
    ) -> None:
        self.registry = registry
        self.options = options or LoadOptions()
        self.names = names
        self._models: dict[str, ServedModel] = {}
        self._refused: dict[str, Refusal] = {}
        self._refresh_lock = threading.Lock()

    def get(self, name: str, kind: type[M]) -> M:
        """The model serving as ``name``, which must be a ``kind`` (e.g. :class:`ServedRecommender`)."""
        model = self._models.get(name)
        if model is None:
            served = ", ".join(sorted(self._models)) or "none"
            raise UnknownModelError(f"no model {name!r} is being served; served: {served}")
        if not isinstance(model, kind):
            wanted = getattr(kind, "kind", kind.__name__)
            raise WrongKindError(f"model {name!r} is a {model.kind} model; this endpoint needs a {wanted} model")
        return model

    def version_of(self, name: str) -> str | None:
        """The version in memory for ``name`` (``None`` when none)."""
        model = self._models.get(name)
        return None if model is None else model.version

    def describe(self) -> list[dict[str, Any]]:
        """What ``GET /models`` shows: every served model, plus any refused newer version."""
        out = []
        for name, model in sorted(self._models.items()):
            row = dict(model.describe())
            refused = self._refused.get(name)
            if refused is not None:
                row["refused"] = {"version": refused.version, "reason": refused.reason}
            out.append(row)
        return out

    def __len__(self) -> int:
        return len(self._models)

    def refresh(self, *, retry_refused: bool = False) -> list[str]:
        """Load every promoted version that differs from the one in memory; returns the names that changed.

        A refused version is not tried again on every poll, only after another promotion or with
        ``retry_refused`` (``POST /admin/reload``). Safe to call from several threads (one refresh at a time);
        never raises for a bad version.
        """
        changed = []
        with self._refresh_lock:
            if retry_refused:
                self._refused.clear()
            for name in self.names or tuple(self.registry.names()):
                if self._refresh_one(name):
                    changed.append(name)
        return changed

    def _refresh_one(self, name: str) -> bool:
        try:
            wanted = self.registry.current(name)
        except Exception as exc:  # an unreadable pointer must not stop the others from serving
            logger.error("registry: cannot read the current version of %s: %s", name, exc)
            return False
        if wanted is None:
            return False
        loaded = self._models.get(name)
        if loaded is not None and loaded.version == wanted.version:
            self._refused.pop(name, None)
            return False
        refused = self._refused.get(name)
        if refused is not None and refused.version == wanted.version:
            return False  # already refused: retried after another promotion or a forced reload
        try:
            self.registry.verify(wanted)
            model = load_served(wanted, self.options)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            still = f"version {loaded.version} keeps serving" if loaded is not None else "nothing served under it"
            logger.error("refused %s version %s: %s; %s", name, wanted.version, reason, still)
            self._refused[name] = Refusal(version=wanted.version, reason=reason)
            return False
        # one reference assignment: in-flight requests finish on the old object, new ones get the new one
        self._models = {**self._models, name: model}
        self._refused.pop(name, None)
        before = f" (was {loaded.version})" if loaded is not None else ""
        logger.info("serving %s version %s%s", name, wanted.version, before)
        return True
