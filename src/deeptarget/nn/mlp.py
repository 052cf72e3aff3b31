"""A plain multi-layer perceptron block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

__all__ = ["MLP"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


class MLP(nn.Module):
    """Linear -> activation -> dropout, for each hidden size; the last layer has no activation unless asked.

    Parameters
    ----------
    in_features
        Input width.
    sizes
        Output width of each layer (the last one is the output width).
    activation
        Hidden activation.
    dropout
        Dropout after each hidden activation.
    final_activation
        Apply the activation after the last layer too.

    Examples
    --------
    >>> mlp = MLP(8, [16, 4], dropout=0.1)
    >>> mlp(torch.zeros(2, 8)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        in_features: int,
        sizes: Sequence[int],
        *,
        activation: Literal["relu", "tanh", "sigmoid", "gelu"] = "relu",
        dropout: float = 0.0,
        final_activation: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for i, size in enumerate(sizes):
            layers.append(nn.Linear(width, size))
            last = i == len(sizes) - 1
            if not last or final_activation:
                layers.append(_ACTIVATIONS[activation]())
                if dropout > 0 and not last:
                    layers.append(nn.Dropout(dropout))
            width = size
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # type: ignore[no-any-return]
