"""Load any saved DeepTarget model directory by its ``model_type``."""

from __future__ import annotations

import os
from typing import Any

from deeptarget.persistence import read_model_type
from deeptarget.registry import CLASSIFIERS, MODELS

__all__ = ["load_model"]


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load the model saved at ``path``, whatever its type.

    Examples
    --------
    >>> model = load_model("runs/demo/ease/model")  # doctest: +SKIP
    """
    import deeptarget.models.assistant
    import deeptarget.models.credit
    import deeptarget.models.ctr
    import deeptarget.models.recommend  # noqa: F401  (registers the built-in models)

    model_type = read_model_type(path)
    cls = CLASSIFIERS.get(model_type) if model_type in CLASSIFIERS else MODELS.get(model_type)
    return cls.load(path)
