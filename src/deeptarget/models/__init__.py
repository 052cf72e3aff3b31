"""Models: recommenders (``recommend/``); CTR, risk and assistant models come later."""

from deeptarget.models.base import Recommender

__all__ = ["Recommender"]
