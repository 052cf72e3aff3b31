"""Top-N recommenders. Importing this package registers them in :data:`deeptarget.registry.MODELS`.

- ``popularity``: :class:`Popularity`, the most popular unseen items
- ``itemknn``: :class:`ItemKNN`, item-based k-nearest-neighbours on a sparse cosine / Jaccard similarity
- ``ease``: :class:`EASE`, Steck's closed-form linear autoencoder
"""

from deeptarget.models.recommend.ease import EASE, EASEConfig, ease_weights
from deeptarget.models.recommend.itemknn import ItemKNN, ItemKNNConfig, item_similarity
from deeptarget.models.recommend.popularity import Popularity, PopularityConfig

__all__ = [
    "EASE",
    "EASEConfig",
    "ItemKNN",
    "ItemKNNConfig",
    "Popularity",
    "PopularityConfig",
    "ease_weights",
    "item_similarity",
]
