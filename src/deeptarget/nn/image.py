"""Item images as tensors, and a small CNN that turns them into one vector per item.

:func:`load_images` reads image files into a ``uint8 (n, height, width, 3)`` array (with Pillow), :func:`preprocess`
turns such an array (or PIL images) into the normalised ``float32 (n, 3, height, width)`` tensor that
:class:`ImageEncoder` reads, and :class:`RandomAugment` (random resized crop + horizontal flip, with plain torch
ops) perturbs a batch during training only.

No pretrained backbone is offered: none is available offline here (torchvision is deliberately not a dependency,
as it would pull in another torch build), so :class:`ImageEncoder` is trained from scratch, which suits small
catalogue thumbnails.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from os import PathLike
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from deeptarget.errors import DataError

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ImageEncoder", "RandomAugment", "load_images", "preprocess"]

logger = logging.getLogger(__name__)

#: Per-channel (RGB) mean and standard deviation of ImageNet, the usual normalisation of pixels in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _size_pair(size: int | tuple[int, int], where: str) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if height < 1 or width < 1:
        raise ValueError(f"{where}: size must be >= 1, got {size}")
    return height, width


def load_images(paths: Sequence[str | PathLike[str]], size: int | tuple[int, int] = 64) -> np.ndarray:
    """Read image files as RGB and resize them (bilinear, aspect ratio not kept) to one ``uint8`` array.

    Parameters
    ----------
    paths
        Image files in any format Pillow reads (JPEG, PNG, ...); grey, palette and RGBA images become RGB.
    size
        Output ``(height, width)``, or one number for a square.

    Returns
    -------
    numpy.ndarray
        ``uint8 (len(paths), height, width, 3)``.

    Raises
    ------
    DataError
        A file is missing, not an image, or truncated; the message names it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (60, 80), (255, 0, 0)).save(folder / "red.png")
    >>> images = load_images([folder / "red.png"], size=32)
    >>> images.shape, images.dtype.name, images[0, 0, 0].tolist()
    ((1, 32, 32, 3), 'uint8', [255, 0, 0])
    """
    from PIL import Image, UnidentifiedImageError

    height, width = _size_pair(size, "load_images")
    out = np.empty((len(paths), height, width, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")  # decodes the whole file, so truncation surfaces here
                out[i] = np.asarray(rgb.resize((width, height), Image.Resampling.BILINEAR))
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as error:
            raise DataError(f"cannot read the image ({type(error).__name__}: {error})", file=str(path)) from None
    logger.debug("loaded %d images at %dx%d", len(paths), height, width)
    return out


def preprocess(
    images: np.ndarray | torch.Tensor | Sequence[Image | np.ndarray],
    size: int | tuple[int, int] = 64,
    *,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Deterministic preparation: resize (bilinear, antialiased), scale to [0, 1], normalise per channel.

    Parameters
    ----------
    images
        ``uint8 (n, height, width, 3)`` array or tensor (as :func:`load_images` returns), or a sequence of PIL
        images or ``uint8 (height, width, 3)`` arrays, which may differ in size.
    size
        Output ``(height, width)``, or one number for a square.
    mean, std
        Per-channel statistics of pixels in [0, 1]; ImageNet's by default.

    Returns
    -------
    torch.Tensor
        ``float32 (n, 3, height, width)``: ``(pixel / 255 - mean) / std``.

    Examples
    --------
    >>> white = np.full((2, 10, 20, 3), 255, dtype=np.uint8)
    >>> batch = preprocess(white, size=16, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    >>> tuple(batch.shape), round(float(batch.min()), 4), round(float(batch.max()), 4)
    ((2, 3, 16, 16), 1.0, 1.0)
    """
    target = _size_pair(size, "preprocess")
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"preprocess: mean and std need 3 values each, std > 0; got {mean}, {std}")
    if isinstance(images, np.ndarray | torch.Tensor):
        scaled = _resize(_to_channels_first(torch.as_tensor(images), "preprocess: images"), target)
    else:
        scaled = torch.empty((len(images), 3, *target))
        for i, image in enumerate(images):
            array = image if isinstance(image, np.ndarray) else np.array(image.convert("RGB"))
            scaled[i] = _resize(_to_channels_first(torch.as_tensor(array)[None], f"preprocess: images[{i}]"), target)[0]
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (scaled - mean_t) / std_t


def _to_channels_first(images: torch.Tensor, where: str) -> torch.Tensor:
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != torch.uint8:
        raise ValueError(
            f"{where}: expected uint8 (n, height, width, 3) RGB pixels, got {images.dtype} of shape "
            f"{tuple(images.shape)}"
        )
    return images.permute(0, 3, 1, 2).to(torch.float32) / 255.0


def _resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(images.shape[-2:]) == size or images.shape[0] == 0:
        return images if images.shape[0] else images.new_empty((0, 3, *size))
    resized = nn.functional.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    return resized.clamp(0.0, 1.0)  # bilinear with antialiasing can overshoot a little


class RandomAugment(nn.Module):
    """Random resized crop and horizontal flip of a ``(batch, channels, height, width)`` batch, in training only.

    Each image gets its own crop: a random area fraction in ``scale`` of the image, a random aspect ratio in
    ``ratio`` (log-uniform), a random position, resampled bilinearly back to the input size with one
    ``affine_grid`` + ``grid_sample`` call for the whole batch; then a flip with probability ``flip_p``. In eval
    mode the batch is returned unchanged. Randomness comes from torch's global generator (seed it for repeatable
    runs).

    Parameters
    ----------
    scale
        Range of the crop's area as a fraction of the image's.
    ratio
        Range of the crop's width / height, relative to the image's.
    flip_p
        Probability of a horizontal flip.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> augment = RandomAugment()
    >>> images = torch.rand(4, 3, 32, 32)
    >>> tuple(augment(images).shape), bool(torch.equal(augment.eval()(images), images))
    ((4, 3, 32, 32), True)
    """

    def __init__(
        self,
        *,
        scale: tuple[float, float] = (0.6, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        flip_p: float = 0.5,
    ) -> None:
        super().__init__()
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"RandomAugment: scale must satisfy 0 < low <= high <= 1, got {scale}")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomAugment: ratio must satisfy 0 < low <= high, got {ratio}")
        if not 0 <= flip_p <= 1:
            raise ValueError(f"RandomAugment: flip_p must be in [0, 1], got {flip_p}")
        self.scale = scale
        self.ratio = ratio
        self.flip_p = flip_p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The batch, randomly cropped and flipped in training mode, unchanged in eval mode."""
        if not self.training or images.shape[0] == 0:
            return images
        batch = images.shape[0]
        device, dtype = images.device, images.dtype
        area = torch.empty(batch, device=device, dtype=dtype).uniform_(*self.scale)
        log_ratio = torch.empty(batch, device=device, dtype=dtype).uniform_(*map(math.log, self.ratio))
        # Crop sides as fractions of the image's; clamped to the image, which can shrink the area for extreme ratios.
        width = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=1.0)
        height = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=1.0)
        # affine_grid works in [-1, 1] coordinates: a crop of side s can be centred anywhere in [-(1 - s), 1 - s].
        shift_x = (torch.rand(batch, device=device, dtype=dtype) * 2 - 1) * (1 - width)
        shift_y = (torch.rand(batch, device=device, dtype=dtype) * 2 - 1) * (1 - height)
        flip = torch.where(torch.rand(batch, device=device, dtype=dtype) < self.flip_p, -1.0, 1.0).to(images.dtype)
        theta = torch.zeros(batch, 2, 3, device=device, dtype=dtype)
        theta[:, 0, 0] = width * flip
        theta[:, 0, 2] = shift_x
        theta[:, 1, 1] = height
        theta[:, 1, 2] = shift_y
        grid = nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
        return nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, ratio={self.ratio}, flip_p={self.flip_p}"


class ImageEncoder(nn.Module):
    """RGB images ``(batch, 3, image_size, image_size)`` -> one ``out_dim`` vector per image.

    Conv blocks (3x3 convolution -> BatchNorm -> ReLU -> 2x2 max pool), one per entry of ``channels``, then
    global average pooling, dropout and a linear map. With ``augment=True`` a :class:`RandomAugment` perturbs the
    input in training mode; in eval mode the network is deterministic. Inputs are expected normalised as
    :func:`preprocess` makes them.

    Parameters
    ----------
    out_dim
        Output width.
    image_size
        Height and width of the input images (one number for a square); checked in ``forward``.
    channels
        Output channels of each conv block (each block halves the spatial size).
    dropout
        Dropout on the pooled features.
    augment
        Random resized crop + horizontal flip during training.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> encoder = ImageEncoder(out_dim=8, image_size=32, channels=(8, 16)).eval()
    >>> images = preprocess(np.zeros((2, 40, 40, 3), dtype=np.uint8), size=32)
    >>> tuple(encoder(images).shape)
    (2, 8)
    """

    def __init__(
        self,
        out_dim: int,
        *,
        image_size: int | tuple[int, int] = 64,
        channels: Sequence[int] = (32, 64, 128, 256),
        dropout: float = 0.0,
        augment: bool = True,
    ) -> None:
        super().__init__()
        self.image_size = _size_pair(image_size, "ImageEncoder")
        if out_dim < 1 or not channels or min(channels) < 1:
            raise ValueError(f"ImageEncoder: out_dim and channels must be >= 1, got {out_dim}, {channels}")
        if min(self.image_size) < 2 ** len(channels):
            raise ValueError(
                f"ImageEncoder: image_size {self.image_size} is too small for {len(channels)} pooling blocks "
                f"(needs >= {2 ** len(channels)})"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"ImageEncoder: dropout must be in [0, 1), got {dropout}")
        self.out_dim = out_dim
        self.augment: nn.Module = RandomAugment() if augment else nn.Identity()
        blocks: list[nn.Module] = []
        in_channels = 3
        for out_channels in channels:
            blocks += [
                # No conv bias: BatchNorm's shift replaces it.
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(dropout)
        self.projection = nn.Linear(in_channels, out_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode ``float (batch, 3, height, width)`` images into ``(batch, out_dim)``."""
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != self.image_size:
            raise ValueError(
                f"ImageEncoder: images must be (batch, 3, {self.image_size[0]}, {self.image_size[1]}), got "
                f"shape {tuple(images.shape)}"
            )
        encoded: torch.Tensor = self.projection(self.dropout(self.features(self.augment(images))))
        return encoded
