"""A seeded synthetic retailer with known planted preferences: the demo's data and the tests' ground truth.

Customers buy products. Who buys what is drawn from a planted model that a recommender should be able to
recover, and every part of it is kept on the returned :class:`SyntheticRetailer`:

- **Latent preferences.** Every category has a latent vector; a product's vector is its category's plus its
  own deviation, and one dimension is the product's (within-category) log price. A customer's vector mixes
  their demographics (age group, gender, region, income band each add an embedding), two favourite
  categories (drawn with probabilities that depend on those demographics) and a personal component; the
  income band drives the price dimension (richer customers lean towards dearer products). The affinity of
  customer ``u`` for product ``i`` is ``user_factors[u] @ item_factors[i]``, scaled so that a customer's
  affinities have standard deviation ``preference_strength``.
- **Popularity.** Products have a power-law (Zipf) popularity ``rank ** -popularity_power`` over a random
  ranking. The planted score is ``affinity + log(item_popularity)`` (:meth:`SyntheticRetailer.true_scores`).
- **Activity.** The number of distinct products a customer buys is log-normal with mean
  ``mean_interactions_per_user`` (at least ``min_interactions_per_user``, at most half the catalogue).
- **Choice.** Each customer's products are drawn without replacement from ``(1 - noise) * softmax(score) +
  noise / n_items`` (``noise`` is the share of impulse buys unrelated to taste), all customers at once with
  the Gumbel-top-k trick (in its exponential-race form).
- **Time.** A customer joins at some point of the ``span_days`` window (most join early) and buys at times
  spread over the rest of it, so the business grows. Seasonal categories (toys and electronics before
  Christmas, garden goods in spring, ...) are bought more around their peak month: a purchase's time is drawn
  with density proportional to ``1 + seasonality * amplitude * cos(2 pi (month - peak) / 12)``.
- **Value.** ``value`` is the purchase quantity (an integer >= 1, stored as float): larger for products the
  customer likes more and for cheaper products.

Every step is vectorised over customers (no Python loop over users), so the default size (2,000 customers,
800 products, about 80,000 purchases) is generated in a fraction of a second. The same seed gives identical
frames.

The retailer is also the registered dataset ``"synthetic"``: ``DataConfig(dataset="synthetic",
params={...})`` with ``params`` naming :class:`SyntheticConfig` fields.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from deeptarget.config import Config
from deeptarget.data.datasets.base import Dataset, LoadedDataset
from deeptarget.data.interactions import Interactions
from deeptarget.errors import ConfigError
from deeptarget.registry import DATASETS

__all__ = ["SyntheticConfig", "SyntheticDataset", "SyntheticRetailer", "generate_retailer"]

logger = logging.getLogger(__name__)

_SECONDS_PER_DAY = 86_400
_SECONDS_PER_YEAR = 365.2425 * _SECONDS_PER_DAY

# name, product nouns, peak month (1-12), seasonal amplitude (0 = no season)
_CATEGORIES: tuple[tuple[str, tuple[str, ...], int, float], ...] = (
    ("electronics", ("headphones", "speaker", "charger", "smartwatch", "camera", "tablet"), 11, 0.7),
    ("books", ("novel", "cookbook", "biography", "travel guide", "comic", "atlas"), 12, 0.4),
    ("fashion", ("jacket", "dress", "sneakers", "scarf", "handbag", "shirt"), 9, 0.5),
    ("beauty", ("moisturiser", "lipstick", "perfume", "shampoo", "face mask", "serum"), 2, 0.4),
    ("home", ("lamp", "cushion", "rug", "vase", "candle", "curtains"), 10, 0.3),
    ("kitchen", ("knife set", "blender", "frying pan", "coffee maker", "mug", "kettle"), 12, 0.5),
    (
        "sports",
        ("yoga mat", "football", "dumbbells", "running shorts", "tennis racket", "bike helmet"),
        1,
        0.6,
    ),
    ("toys", ("puzzle", "building blocks", "doll", "board game", "toy car", "plush bear"), 12, 1.0),
    ("garden", ("hose", "planter", "seed packet", "lawn mower", "gardening gloves", "bird feeder"), 5, 1.0),
    ("grocery", ("coffee beans", "olive oil", "chocolate", "tea", "pasta", "granola"), 1, 0.0),
    ("pets", ("dog bed", "cat toy", "leash", "pet food", "aquarium", "scratching post"), 1, 0.0),
    ("outdoor", ("tent", "sleeping bag", "backpack", "camping stove", "hiking boots", "torch"), 7, 1.0),
    ("office", ("notebook", "desk chair", "pen set", "monitor stand", "planner", "stapler"), 9, 0.6),
    ("baby", ("stroller", "baby bottle", "onesie", "baby monitor", "teether", "nappy bag"), 1, 0.0),
    ("music", ("guitar", "vinyl record", "keyboard", "ukulele", "drum pads", "microphone"), 12, 0.5),
    (
        "automotive",
        ("car charger", "seat covers", "dash cam", "car wax", "floor mats", "jump starter"),
        11,
        0.3,
    ),
)
_GENERIC_NOUNS = ("item", "kit", "set", "pack", "bundle", "accessory")
# one adjective per direction of every latent dimension: a product's description names its most marked trait
_STYLE_ADJECTIVES = (
    ("classic", "modern"),
    ("rugged", "delicate"),
    ("colourful", "minimalist"),
    ("handmade", "high-tech"),
    ("compact", "oversized"),
    ("organic", "synthetic"),
    ("sporty", "elegant"),
    ("playful", "professional"),
    ("vintage", "futuristic"),
    ("cosy", "sleek"),
    ("bold", "subtle"),
    ("rustic", "urban"),
)
_PRICE_TIERS = ("budget", "everyday", "premium")

_AGE_EDGES = np.array([25, 35, 50, 65])  # age groups: 18-24, 25-34, 35-49, 50-64, 65+
_GENDERS = ("female", "male", "other")
_GENDER_P = (0.51, 0.47, 0.02)
_REGIONS = ("north", "south", "east", "west", "central")
_REGION_P = (0.18, 0.24, 0.2, 0.22, 0.16)
_INCOME_BANDS = ("low", "middle", "high")
_SEGMENTS = ("occasional", "regular", "loyal")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyntheticConfig(Config):
    """Size and shape of the synthetic retailer.

    Attributes
    ----------
    n_users, n_items, n_categories
        Customers, products and product categories (every category has at least one product).
    n_factors
        Dimension of the planted latent preferences (the last one is the price dimension).
    mean_interactions_per_user
        Mean of the log-normal number of distinct products a customer buys.
    activity_sigma
        Standard deviation of the log of that number (0 = every customer buys the mean).
    min_interactions_per_user
        Every customer buys at least this many products (at most half the catalogue is bought by anyone).
    popularity_power
        Exponent of the Zipf popularity ``rank ** -popularity_power`` (0 = every product equally popular).
    preference_strength
        Standard deviation of a customer's planted affinities (0 = taste plays no part).
    seasonality
        Strength of the seasonal peaks, in ``[0, 1)`` (0 = no seasons).
    noise
        Share of impulse buys, drawn uniformly from the catalogue regardless of taste, in ``[0, 1]``.
    start_date, span_days
        The first day of the purchase log (ISO date) and its length in days.
    seed
        Everything drawn is a function of the seed.

    Examples
    --------
    >>> SyntheticConfig(n_users=100, n_items=50).n_categories
    12
    >>> SyntheticConfig.from_dict({"noise": 2})
    Traceback (most recent call last):
    ...
    deeptarget.errors.ConfigError: SyntheticConfig.noise must be in [0, 1], got 2.0
    """

    n_users: int = 2000
    n_items: int = 800
    n_categories: int = 12
    n_factors: int = 8
    mean_interactions_per_user: float = 40.0
    activity_sigma: float = 0.8
    min_interactions_per_user: int = 5
    popularity_power: float = 0.8
    preference_strength: float = 2.0
    seasonality: float = 0.6
    noise: float = 0.05
    start_date: str = "2022-01-01"
    span_days: int = 730
    seed: int = 0

    def validate(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(f"SyntheticConfig.{message}")

        check(self.n_users >= 1, f"n_users must be >= 1, got {self.n_users}")
        check(self.n_categories >= 1, f"n_categories must be >= 1, got {self.n_categories}")
        check(self.n_factors >= 2, f"n_factors must be >= 2, got {self.n_factors}")
        check(
            self.min_interactions_per_user >= 1,
            f"min_interactions_per_user must be >= 1, got {self.min_interactions_per_user}",
        )
        check(
            self.n_items >= max(self.n_categories, 2 * self.min_interactions_per_user),
            f"n_items must be >= n_categories and >= 2 * min_interactions_per_user "
            f"({max(self.n_categories, 2 * self.min_interactions_per_user)}), got {self.n_items}",
        )
        check(
            self.mean_interactions_per_user > 0,
            f"mean_interactions_per_user must be > 0, got {self.mean_interactions_per_user}",
        )
        check(self.activity_sigma >= 0, f"activity_sigma must be >= 0, got {self.activity_sigma}")
        check(self.popularity_power >= 0, f"popularity_power must be >= 0, got {self.popularity_power}")
        check(
            self.preference_strength >= 0,
            f"preference_strength must be >= 0, got {self.preference_strength}",
        )
        check(0 <= self.seasonality < 1, f"seasonality must be in [0, 1), got {self.seasonality}")
        check(0 <= self.noise <= 1, f"noise must be in [0, 1], got {self.noise}")
        check(self.span_days >= 1, f"span_days must be >= 1, got {self.span_days}")
        check(0 <= self.seed < 2**63, f"seed must be in [0, 2**63), got {self.seed}")
        try:
            np.datetime64(self.start_date, "s")
        except ValueError:
            raise ConfigError(
                f"SyntheticConfig.start_date must be an ISO date like '2022-01-01', got {self.start_date!r}"
            ) from None

    @property
    def start_time(self) -> int:
        """``start_date`` in seconds since 1970-01-01 (UTC)."""
        return int(np.datetime64(self.start_date, "s").astype(np.int64))

    @property
    def end_time(self) -> int:
        """The end of the purchase log in seconds since 1970-01-01 (exclusive)."""
        return self.start_time + self.span_days * _SECONDS_PER_DAY


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticRetailer:
    """A generated retailer: its purchase log, customers, products and the planted truth behind them.

    Raw user and item ids are ``0..n_users-1`` and ``0..n_items-1``, the row indices of the planted arrays.

    Attributes
    ----------
    config
        The config it was generated from.
    interactions
        Columns ``user``, ``item``, ``time`` (int64 seconds since 1970), ``value`` (purchase quantity >= 1);
        one row per (customer, product) pair, sorted by time.
    users
        Columns ``user``, ``age``, ``gender``, ``region``, ``income_band``, ``segment`` (``occasional`` /
        ``regular`` / ``loyal`` by number of purchases).
    items
        Columns ``item``, ``category``, ``price``, ``description`` (tier, style and product noun, e.g.
        ``"premium vintage tent from our outdoor range"``).
    user_factors, item_factors
        Planted preferences, ``n_users x n_factors`` and ``n_items x n_factors``.
    item_popularity
        Planted popularity of every product (sums to 1).
    user_favourite_categories
        The two favourite category indices of every customer (``n_users x 2``).
    category_names, category_peak_month, category_seasonality
        Per category: its name, its peak month (1-12) and its seasonal amplitude (0 = none).

    Examples
    --------
    >>> retailer = generate_retailer(SyntheticConfig(n_users=50, n_items=40, seed=1))
    >>> retailer.true_scores([0, 1]).shape
    (2, 40)
    >>> retailer.true_top_k(5).shape
    (50, 5)
    """

    config: SyntheticConfig
    interactions: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_popularity: np.ndarray
    user_favourite_categories: np.ndarray
    category_names: tuple[str, ...]
    category_peak_month: np.ndarray
    category_seasonality: np.ndarray

    @property
    def n_users(self) -> int:
        """Number of customers."""
        return int(self.user_factors.shape[0])

    @property
    def n_items(self) -> int:
        """Number of products."""
        return int(self.item_factors.shape[0])

    def true_scores(self, user_indices: np.ndarray | list[int] | None = None) -> np.ndarray:
        """Planted scores ``affinity + log(popularity)`` of every product for ``user_indices`` (default: all).

        The score is the log of the (unnormalised) probability that a customer picks the product, ignoring the
        ``noise`` share of impulse buys, which does not change the order. Higher is better.

        Examples
        --------
        >>> retailer = generate_retailer(SyntheticConfig(n_users=20, n_items=30))
        >>> scores = retailer.true_scores([3])
        >>> bool(scores[0].argmax() == retailer.true_top_k(1, user_indices=[3])[0, 0])
        True
        """
        users = np.arange(self.n_users) if user_indices is None else np.asarray(user_indices, dtype=np.int64)
        if users.size and (users.min() < 0 or users.max() >= self.n_users):
            raise ConfigError(f"user indices must be in [0, {self.n_users}), got {users.min()}..{users.max()}")
        scores: np.ndarray = self.user_factors[users] @ self.item_factors.T + np.log(self.item_popularity)
        return scores

    def true_top_k(self, k: int, user_indices: np.ndarray | list[int] | None = None) -> np.ndarray:
        """The ``k`` products with the highest planted score for every customer, best first (``n x k`` ids).

        Examples
        --------
        >>> generate_retailer(SyntheticConfig(n_users=10, n_items=20)).true_top_k(3).shape
        (10, 3)
        """
        if k < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        scores = self.true_scores(user_indices)
        k = min(k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1)

    def to_interactions(self) -> Interactions:
        """The purchase log as :class:`~deeptarget.data.interactions.Interactions` (encoders over its ids).

        Examples
        --------
        >>> generate_retailer(SyntheticConfig(n_users=10, n_items=20)).to_interactions().n_users
        10
        """
        return Interactions.from_frame(self.interactions, source=f"synthetic(seed={self.config.seed})")


def _category_table(
    n_categories: int, rng: np.random.Generator
) -> tuple[tuple[str, ...], list, np.ndarray, np.ndarray]:
    names, nouns, peaks, amps = [], [], [], []
    for c in range(n_categories):
        if c < len(_CATEGORIES):
            name, noun, peak, amp = _CATEGORIES[c]
        else:
            name, noun, peak, amp = f"category-{c + 1}", _GENERIC_NOUNS, int(rng.integers(1, 13)), 0.5
        names.append(name)
        nouns.append(noun)
        peaks.append(peak)
        amps.append(amp)
    return tuple(names), nouns, np.asarray(peaks, dtype=np.int64), np.asarray(amps, dtype=np.float64)


def _gumbel_argmax(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of ``logits`` (unnormalised log-probabilities)."""
    return np.asarray(np.argmax(logits + rng.gumbel(size=logits.shape), axis=1), dtype=np.int64)


def _make_items(
    config: SyntheticConfig,
    category_factors: np.ndarray,
    nouns: list,
    names: tuple[str, ...],
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    n_items, n_cat, d = config.n_items, config.n_categories, config.n_factors
    # unequal category sizes, but every category has a product
    shares = rng.dirichlet(np.full(n_cat, 2.0))
    category = np.concatenate([np.arange(n_cat), rng.choice(n_cat, size=n_items - n_cat, p=shares)])
    category = category[rng.permutation(n_items)]

    base_price = np.exp(rng.normal(np.log(30.0), 0.8, size=n_cat))
    log_dev = rng.normal(0.0, 0.5, size=n_items)
    price = np.maximum(np.round(base_price[category] * np.exp(log_dev)) - 0.01, 0.99)
    # price relative to the category: the planted price dimension and the description's price tier
    z_price = log_dev / 0.5

    own = rng.normal(size=(n_items, d))
    item_factors = 0.8 * category_factors[category] + 0.6 * own
    item_factors[:, -1] = z_price

    tier = np.digitize(z_price, [-0.43, 0.43])  # terciles of a standard normal
    style_dim = np.argmax(np.abs(own[:, :-1]), axis=1)
    style_sign = (own[np.arange(n_items), style_dim] < 0).astype(np.int64)
    styles = np.array(_STYLE_ADJECTIVES, dtype=object)[style_dim % len(_STYLE_ADJECTIVES), style_sign]
    noun_pick = rng.integers(0, 6, size=n_items)
    noun_table = np.array([list(n) for n in nouns], dtype=object)
    category_names = np.array(names, dtype=object)[category]
    description = (
        np.array(_PRICE_TIERS, dtype=object)[tier]
        + " "
        + styles
        + " "
        + noun_table[category, noun_pick]
        + " from our "
        + category_names
        + " range"
    )

    ranks = rng.permutation(n_items) + 1.0
    popularity = ranks**-config.popularity_power
    popularity /= popularity.sum()

    items = pd.DataFrame(
        {
            "item": np.arange(n_items, dtype=np.int64),
            "category": pd.array(category_names.astype(str), dtype="str"),
            "price": price,
            "description": pd.array(description.astype(str), dtype="str"),
        }
    )
    return items, item_factors, popularity, category


def _make_users(
    config: SyntheticConfig, category_factors: np.ndarray, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    n, d = config.n_users, config.n_factors
    age = np.clip(np.round(rng.normal(42, 14, size=n)), 18, 85).astype(np.int64)
    age_group = np.digitize(age, _AGE_EDGES)
    gender = rng.choice(len(_GENDERS), size=n, p=_GENDER_P)
    region = rng.choice(len(_REGIONS), size=n, p=_REGION_P)
    # income rises with age up to 64, then falls
    income_logits = np.log(np.array([0.3, 0.5, 0.2]))[None, :] + np.outer(
        np.array([-0.6, -0.2, 0.3, 0.4, -0.3])[age_group], np.array([-1.0, 0.0, 1.0])
    )
    income = _gumbel_argmax(income_logits, rng)

    def embedding(n_values: int) -> np.ndarray:
        return rng.normal(0.0, 0.6, size=(n_values, d))

    demographic = (
        embedding(len(_AGE_EDGES) + 1)[age_group]
        + embedding(len(_GENDERS))[gender]
        + embedding(len(_REGIONS))[region]
        + embedding(len(_INCOME_BANDS))[income]
    )
    # favourite categories: two distinct draws whose odds depend on the demographics
    cat_logits = demographic @ category_factors.T
    keys = cat_logits + rng.gumbel(size=cat_logits.shape)
    n_fav = min(2, config.n_categories)
    favourites = np.argsort(-keys, axis=1)[:, :n_fav]
    if n_fav == 1:
        favourites = np.repeat(favourites, 2, axis=1)
    user_factors = 0.5 * demographic + 0.7 * category_factors[favourites].mean(axis=1) + 0.5 * rng.normal(size=(n, d))
    user_factors[:, -1] = 0.6 * (income - 1.0) + 0.3 * rng.normal(size=n)
    columns = {
        "user": np.arange(n, dtype=np.int64),
        "age": age,
        "gender": np.array(_GENDERS, dtype=object)[gender],
        "region": np.array(_REGIONS, dtype=object)[region],
        "income_band": np.array(_INCOME_BANDS, dtype=object)[income],
    }
    return columns, user_factors, favourites


def _activity(config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    sigma = config.activity_sigma
    mu = np.log(config.mean_interactions_per_user) - sigma**2 / 2
    counts = np.round(np.exp(rng.normal(mu, sigma, size=config.n_users))).astype(np.int64)
    cap = max(config.min_interactions_per_user, config.n_items // 2)
    return np.clip(counts, config.min_interactions_per_user, cap)


def _choose_items(
    scores: np.ndarray, counts: np.ndarray, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, ``counts[row]`` distinct columns drawn without replacement; returns (rows, cols).

    Row ``r`` picks columns with probabilities ``p = (1 - noise) * softmax(scores[r]) + noise / n_cols``,
    successively without replacement. The exponential race (the Gumbel-top-k trick without logarithms) does it
    for every row at once: the columns with the ``counts[row]`` largest ``p / E``, ``E ~ Exp(1)``.
    """
    n_rows, n_cols = scores.shape
    prob = np.exp(scores - scores.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    if noise > 0:
        prob = (1.0 - noise) * prob + noise / n_cols
    race = rng.standard_exponential(size=prob.shape, dtype=np.float32)
    keys = prob.astype(np.float32, copy=False) / np.maximum(race, np.finfo(np.float32).tiny)
    k_max = int(counts.max())
    if k_max < n_cols:
        top = np.argpartition(-keys, k_max - 1, axis=1)[:, :k_max]
    else:
        top = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    take = np.arange(k_max)[None, :] < counts[:, None]
    rows = np.broadcast_to(np.arange(n_rows)[:, None], take.shape)[take]
    return rows, top[take]


def _purchase_times(
    config: SyntheticConfig,
    users: np.ndarray,
    season_amp: np.ndarray,
    season_peak: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Times in each customer's active window, with density ``1 + amp * cos(2 pi (month - peak) / 12)``."""
    start, span = config.start_time, config.span_days * _SECONDS_PER_DAY
    # most customers join early; everyone has at least a tenth of the window (and a day) to shop in
    min_window = max(span // 10, min(span, _SECONDS_PER_DAY))
    join = start + np.floor(rng.beta(1.0, 2.5, size=config.n_users) * (span - min_window)).astype(np.int64)
    window = start + span - join
    lo, width = join[users], window[users]
    times = np.empty(len(users), dtype=np.int64)
    pending = np.arange(len(users))
    # rejection sampling: accept a uniform draw with probability proportional to the seasonal density;
    # rounds are over all pending rows at once (about 1 + amp rounds on average)
    for _ in range(200):
        if pending.size == 0:
            break
        draw = lo[pending] + np.floor(rng.random(pending.size) * width[pending]).astype(np.int64)
        month = 12.0 * np.mod(draw / _SECONDS_PER_YEAR, 1.0)  # 0 = 1 January
        amp = season_amp[pending]
        density = 1.0 + amp * np.cos(2 * np.pi * (month - (season_peak[pending] - 0.5)) / 12.0)
        accept = rng.random(pending.size) * (1.0 + amp) < density
        times[pending[accept]] = draw[accept]
        pending = pending[~accept]
    if pending.size:  # practically never: accept the last draws as they are
        times[pending] = lo[pending] + np.floor(rng.random(pending.size) * width[pending]).astype(np.int64)
    return times


def generate_retailer(config: SyntheticConfig | None = None) -> SyntheticRetailer:
    """Generate a synthetic retailer (customers, products, a purchase log) with planted preferences.

    Parameters
    ----------
    config
        Sizes, effect strengths and the seed (default: :class:`SyntheticConfig`'s defaults).

    Returns
    -------
    SyntheticRetailer
        The frames and the planted truth; the same config always gives identical frames.

    Examples
    --------
    >>> retailer = generate_retailer(SyntheticConfig(n_users=200, n_items=100, seed=7))
    >>> list(retailer.interactions.columns)
    ['user', 'item', 'time', 'value']
    >>> int(retailer.interactions.groupby("user").size().min()) >= 5
    True
    >>> again = generate_retailer(SyntheticConfig(n_users=200, n_items=100, seed=7))
    >>> retailer.interactions.equals(again.interactions)
    True
    """
    config = config or SyntheticConfig()
    # independent streams, so that changing one part (e.g. activity) leaves the others as they were
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(7)]
    names, nouns, peaks, amps = _category_table(config.n_categories, streams[0])
    d = config.n_factors
    category_factors = streams[0].normal(size=(config.n_categories, d))
    items, item_factors, popularity, item_category = _make_items(config, category_factors, nouns, names, streams[1])
    user_columns, user_factors, favourites = _make_users(config, category_factors, streams[2])

    # scale both sides so that a customer's affinities have standard deviation ``preference_strength``
    # (exactly: the std over items of u @ v is sqrt(u' C u), C the covariance of the item factors)
    item_cov = np.cov(item_factors, rowvar=False, bias=True)
    spread = float(np.mean(np.sqrt(np.einsum("nd,de,ne->n", user_factors, item_cov, user_factors))))
    scale = np.sqrt(config.preference_strength / spread) if spread > 0 else 0.0
    user_factors = user_factors * scale
    item_factors = item_factors * scale

    counts = _activity(config, streams[3])
    # float32 is plenty for drawing and halves the time of the largest arrays
    log_pop = np.log(popularity).astype(np.float32)
    user_f32, item_f32_t = (
        user_factors.astype(np.float32),
        np.ascontiguousarray(item_factors.T, dtype=np.float32),
    )
    batch = max(1, 4_000_000 // config.n_items)
    users_parts, items_parts = [], []
    for lo in range(0, config.n_users, batch):  # batches bound memory; no loop over single users
        hi = min(lo + batch, config.n_users)
        scores = user_f32[lo:hi] @ item_f32_t + log_pop
        rows, cols = _choose_items(scores, counts[lo:hi], config.noise, streams[4])
        users_parts.append(rows + lo)
        items_parts.append(cols)
    users = np.concatenate(users_parts).astype(np.int64)
    chosen = np.concatenate(items_parts).astype(np.int64)

    item_cat = item_category[chosen]
    times = _purchase_times(config, users, config.seasonality * amps[item_cat], peaks[item_cat], streams[5])

    affinity = np.einsum("nd,nd->n", user_factors[users], item_factors[chosen])
    affinity_z = (affinity - affinity.mean()) / (affinity.std() + 1e-12)
    price_z = item_factors[chosen, -1] / (scale if scale > 0 else 1.0)
    rate = 0.3 * np.exp(0.5 * affinity_z - 0.3 * price_z)
    quantity = 1.0 + streams[6].poisson(np.minimum(rate, 20.0)).astype(np.float64)

    order = np.lexsort((chosen, users, times))
    interactions = pd.DataFrame(
        {"user": users[order], "item": chosen[order], "time": times[order], "value": quantity[order]}
    )
    tercile = np.quantile(counts, [1 / 3, 2 / 3]) if config.n_users > 1 else np.array([0.0, 0.0])
    segment = np.digitize(counts, tercile, right=True)
    user_columns["segment"] = np.array(_SEGMENTS, dtype=object)[segment]
    users_frame = pd.DataFrame(
        {
            name: (pd.array(col.astype(str), dtype="str") if col.dtype == object else col)
            for name, col in user_columns.items()
        }
    )
    logger.info(
        "synthetic retailer (seed %d): %d customers, %d products, %d purchases",
        config.seed,
        config.n_users,
        config.n_items,
        len(interactions),
    )
    return SyntheticRetailer(
        config=config,
        interactions=interactions,
        users=users_frame,
        items=items,
        user_factors=user_factors,
        item_factors=item_factors,
        item_popularity=popularity,
        user_favourite_categories=favourites.astype(np.int64),
        category_names=names,
        category_peak_month=peaks,
        category_seasonality=amps * config.seasonality,
    )


class SyntheticDataset(Dataset):
    """The registered dataset ``"synthetic"``: a :class:`SyntheticRetailer`, generated on demand (no files).

    ``params`` of :meth:`load` are :class:`SyntheticConfig` fields; an unknown one is a :class:`ConfigError`.

    Examples
    --------
    >>> loaded = SyntheticDataset().load(Path("."), n_users=30, n_items=20, seed=2)
    >>> loaded.source, loaded.interactions["user"].nunique()
    ('synthetic(seed=2)', 30)
    >>> loaded.extras["retailer"].true_scores([0]).shape
    (1, 20)
    """

    name: ClassVar[str] = "synthetic"
    description: ClassVar[str] = (
        "Seeded synthetic retailer with planted preferences (customers, products, purchases; no files needed)"
    )
    licence: ClassVar[str] = "generated data: no restrictions"
    folder: ClassVar[str] = ""
    required_files: ClassVar[tuple[str, ...]] = ()

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        """Generate the retailer ``params`` describe (``data_dir`` is not used)."""
        try:
            config = SyntheticConfig.from_dict(params)
        except ConfigError as exc:
            raise ConfigError(f"dataset {self.name!r} params: {exc}") from None
        retailer = generate_retailer(config)
        return LoadedDataset(
            interactions=retailer.interactions,
            users=retailer.users,
            items=retailer.items,
            source=f"synthetic(seed={config.seed})",
            extras={"retailer": retailer},
        )


DATASETS.register(SyntheticDataset.name)(SyntheticDataset())
