"""Protocol cards: the few facts that give an evaluation figure its meaning, printed next to the figure.

A number means nothing without its protocol (which data, which filters, which split, which candidates, which
metric definitions). A :class:`ProtocolCard` records them, round-trips through plain dicts (``metrics.json``)
and renders as a few Markdown lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from deeptarget.config import Config
from deeptarget.errors import ConfigError

__all__ = ["DEFAULT_CANDIDATES", "METRIC_DEFINITIONS", "ProtocolCard"]

#: The candidate set :func:`~deeptarget.evaluation.ranking.evaluate_ranking` uses.
DEFAULT_CANDIDATES = "all items not seen in train (and valid, when scoring test)"

#: One-paragraph summary of the ranking metric definitions (see :mod:`deeptarget.evaluation.ranking`).
METRIC_DEFINITIONS = (
    "full ranking, binary relevance, means over users with at least one test item; "
    "ndcg@k: gains 1/log2(rank+1), IDCG over min(n_rel, k) items; "
    "map@k: sum of P@r at hits / min(n_rel, k) (RecBole); recall@k: hits / n_rel; "
    "mrr@k: 1/rank of the first hit; hit@k: any hit"
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProtocolCard(Config):
    """How a figure was obtained: data, filters, split, candidates, cut-offs, sizes and metric definitions.

    Attributes
    ----------
    dataset
        Dataset name (``movielens-100k``) or the file it came from.
    source
        The file, folder or query the rows were read from.
    filters
        The cleaning config and what it removed, e.g. ``{"cleaning": {...}, "removed": {"k_core": 2127}}``.
    split
        The split method, ratios and seed, plus any summary the splitter reported.
    candidates
        Which items were ranked for each user.
    ks
        The cut-offs reported.
    seed
        The run's seed.
    n_users, n_items
        Size of the index spaces.
    n_train, n_valid, n_test
        Interactions in each part.
    metric_definitions
        What the metric names mean.

    Examples
    --------
    >>> card = ProtocolCard(
    ...     dataset="movielens-100k", source="u.data", split={"method": "random", "ratios": [0.8, 0.1, 0.1]},
    ...     ks=(10,), seed=2020, n_users=3, n_items=4, n_train=8, n_valid=1, n_test=1,
    ... )
    >>> ProtocolCard.from_dict(card.to_dict()) == card
    True
    >>> print(card.to_markdown().splitlines()[0])
    **Protocol** movielens-100k (`u.data`): 3 users x 4 items; train / valid / test = 8 / 1 / 1 interactions
    """

    dataset: str
    source: str = ""
    filters: dict[str, Any] = dataclasses.field(default_factory=dict)
    split: dict[str, Any] = dataclasses.field(default_factory=dict)
    candidates: str = DEFAULT_CANDIDATES
    ks: tuple[int, ...] = (10,)
    seed: int | None = None
    n_users: int
    n_items: int
    n_train: int
    n_valid: int = 0
    n_test: int
    metric_definitions: str = METRIC_DEFINITIONS

    def validate(self) -> None:
        if not self.ks or any(k < 1 for k in self.ks):
            raise ConfigError(f"ProtocolCard.ks must hold cut-offs >= 1, got {self.ks}")
        for name in ("n_users", "n_items", "n_train", "n_valid", "n_test"):
            value = getattr(self, name)
            if value < 0:
                raise ConfigError(f"ProtocolCard.{name} must be >= 0, got {value}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """Build from a mapping (as written by :meth:`to_dict`); a missing required field is a ConfigError."""
        if isinstance(data, Mapping):
            required = [
                f.name
                for f in dataclasses.fields(cls)
                if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            ]
            missing = [name for name in required if name not in data]
            if missing:
                raise ConfigError(f"ProtocolCard: missing field(s) {missing}")
        return super().from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict (tuples become lists, numpy scalars Python numbers)."""
        plain: dict[str, Any] = _plain(super().to_dict())
        return plain

    def to_markdown(self) -> str:
        """A few Markdown lines to print next to a figure.

        Examples
        --------
        >>> card = ProtocolCard(dataset="demo", n_users=2, n_items=3, n_train=4, n_test=2, ks=(5, 10))
        >>> print(card.to_markdown().splitlines()[-2])
        - candidates: all items not seen in train (and valid, when scoring test); cut-offs k = 5, 10
        """
        source = f" (`{self.source}`)" if self.source and self.source != self.dataset else ""
        lines = [
            f"**Protocol** {self.dataset}{source}: {self.n_users:,} users x {self.n_items:,} items; "
            f"train / valid / test = {self.n_train:,} / {self.n_valid:,} / {self.n_test:,} interactions"
        ]
        if self.filters:
            lines.append(f"- filters: {_filters_text(self.filters)}")
        if self.split or self.seed is not None:
            lines.append(f"- split: {_split_text(self.split, self.seed)}")
        lines.append(f"- candidates: {self.candidates}; cut-offs k = {', '.join(str(k) for k in self.ks)}")
        lines.append(f"- metrics: {self.metric_definitions}")
        return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _inline(values: Mapping[str, Any], *, skip_zero: bool = False) -> str:
    parts = []
    for key, value in values.items():
        if value is None or (skip_zero and isinstance(value, int | float | np.number) and value == 0):
            continue
        if isinstance(value, Mapping):
            value = "{" + _inline(value, skip_zero=skip_zero) + "}"
        elif isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, int | np.integer):
            value = f"{int(value):,}"
        parts.append(f"{key}={value}")
    return ", ".join(parts) if parts else "none"


def _filters_text(filters: Mapping[str, Any]) -> str:
    sections = []
    for key, value in filters.items():
        if isinstance(value, Mapping):
            sections.append(f"{key}: {_inline(value, skip_zero=key == 'removed')}")
        else:
            sections.append(f"{key}={value}")
    return "; ".join(sections)


def _split_text(split: Mapping[str, Any], seed: int | None) -> str:
    rest = {key: value for key, value in split.items() if value is not None}
    method = rest.pop("method", None)
    ratios = rest.pop("ratios", None)
    split_seed = rest.pop("seed", None)
    parts = []
    if method is not None:
        parts.append(str(method))
    if ratios is not None:
        parts.append("/".join(f"{100 * float(r):g}" for r in ratios))
    if split_seed is not None:
        parts.append(f"seed {split_seed}")
    text = " ".join(parts) or "unspecified"
    if rest:
        text += f" ({_inline(rest)})"
    if seed is not None and seed != split_seed:
        text += f"; run seed {seed}"
    return text
