"""Top-N recommenders. Importing this package registers them in :data:`deeptarget.registry.MODELS`.

- ``popularity``: :class:`Popularity`, the most popular unseen items
- ``itemknn``: :class:`ItemKNN`, item-based k-nearest-neighbours on a sparse cosine / Jaccard similarity
- ``ease``: :class:`EASE`, Steck's closed-form linear autoencoder
- ``multvae`` / ``multdae``: :class:`MultVAE` / :class:`MultDAE`, Liang et al.'s autoencoders of a user's items
- ``mlp``: :class:`MLPRecommender`, user embedding -> ReLU layers -> a score per item
- ``mf``: :class:`MatrixFactorization`, user and item embeddings, BPR / BCE on sampled negatives
- ``neumf``: :class:`NeuMF`, He et al.'s GMF and MLP towers fused into one logit
- ``hybrid``: :class:`Hybrid`, a two-tower model over ids, categories, text and images, for cold-start items and users
- ``gru4rec`` / ``sasrec``: :class:`GRU4Rec` / :class:`SASRec`, next-item models over each user's item sequence
"""

from deeptarget.models.recommend.ease import EASE, EASEConfig, ease_weights
from deeptarget.models.recommend.hybrid import Hybrid, HybridConfig
from deeptarget.models.recommend.itemknn import ItemKNN, ItemKNNConfig, item_similarity
from deeptarget.models.recommend.mf import MatrixFactorization, MFConfig
from deeptarget.models.recommend.mlp import MLPRecConfig, MLPRecommender
from deeptarget.models.recommend.neumf import NeuMF, NeuMFConfig
from deeptarget.models.recommend.popularity import Popularity, PopularityConfig
from deeptarget.models.recommend.sequential import GRU4Rec, GRU4RecConfig, SASRec, SASRecConfig
from deeptarget.models.recommend.vae import MultDAE, MultDAEConfig, MultVAE, MultVAEConfig

__all__ = [
    "EASE",
    "EASEConfig",
    "GRU4Rec",
    "GRU4RecConfig",
    "Hybrid",
    "HybridConfig",
    "ItemKNN",
    "ItemKNNConfig",
    "MFConfig",
    "MLPRecConfig",
    "MLPRecommender",
    "MatrixFactorization",
    "MultDAE",
    "MultDAEConfig",
    "MultVAE",
    "MultVAEConfig",
    "NeuMF",
    "NeuMFConfig",
    "Popularity",
    "PopularityConfig",
    "SASRec",
    "SASRecConfig",
    "ease_weights",
    "item_similarity",
]
