"""ImageEncoder, augmentation, preprocessing and image loading: shapes, determinism, ranges, errors, a tiny fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deeptarget.errors import DataError
from deeptarget.nn.image import IMAGENET_MEAN, IMAGENET_STD, ImageEncoder, RandomAugment, load_images, preprocess


def _halves(n: int, size: int = 16, seed: int = 0) -> tuple[np.ndarray, torch.Tensor]:
    """Noisy uint8 images whose left (label 0) or right (label 1) half is bright."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 80, size=(n, size, size, 3)).astype(np.uint8)
    labels = np.arange(n) % 2
    for i, label in enumerate(labels):
        columns = slice(size // 2, None) if label else slice(None, size // 2)
        images[i, :, columns] += 150
    return images, torch.tensor(labels, dtype=torch.float32)


def test_encoder_shapes_and_input_check() -> None:
    torch.manual_seed(0)
    encoder = ImageEncoder(out_dim=7, image_size=16, channels=(4, 8, 8)).eval()
    assert encoder(torch.randn(3, 3, 16, 16)).shape == (3, 7)
    with pytest.raises(ValueError, match="16, 16"):
        encoder(torch.randn(3, 3, 32, 32))
    with pytest.raises(ValueError, match="too small"):
        ImageEncoder(out_dim=2, image_size=8, channels=(4, 4, 4, 4))
    assert ImageEncoder(out_dim=2).image_size == (64, 64)


def test_augmentation_changes_training_images_only() -> None:
    torch.manual_seed(0)
    images = preprocess(_halves(8)[0])
    augment = RandomAugment()
    assert augment(images).shape == images.shape
    assert not torch.allclose(augment(images), images)
    assert not torch.allclose(augment(images), augment(images))  # fresh randomness per call
    assert torch.equal(augment.eval()(images), images)
    flip_only = RandomAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=1.0)
    torch.testing.assert_close(flip_only(images), images.flip(-1), atol=1e-5, rtol=0)

    encoder = ImageEncoder(out_dim=4, image_size=64, channels=(4, 8)).eval()
    torch.testing.assert_close(encoder(images), encoder(images), atol=0, rtol=0)  # eval: deterministic
    assert isinstance(ImageEncoder(out_dim=4, augment=False).augment, torch.nn.Identity)


def test_preprocess_ranges_and_inputs() -> None:
    images = np.zeros((2, 20, 30, 3), dtype=np.uint8)
    images[1] = 255
    out = preprocess(images, size=(8, 12))
    assert out.dtype == torch.float32 and out.shape == (2, 3, 8, 12)
    low = (0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    high = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(out[0].amin(dim=(1, 2)), low)
    torch.testing.assert_close(out[1].amax(dim=(1, 2)), high)
    # PIL images of different sizes and modes, a tensor, and an array give the same result.
    pil = [Image.new("L", (30, 20), 0), Image.new("RGBA", (10, 10), (255, 255, 255, 255))]
    torch.testing.assert_close(preprocess(pil, size=(8, 12)), out)
    torch.testing.assert_close(preprocess(torch.from_numpy(images), size=(8, 12)), out)
    assert torch.equal(preprocess(images, size=8), preprocess(images, size=8))
    with pytest.raises(ValueError, match="uint8"):
        preprocess(images.astype(np.float32))


def test_load_images_reads_resizes_and_converts(tmp_path: Path) -> None:
    Image.new("RGB", (60, 80), (255, 0, 0)).save(tmp_path / "red.png")
    Image.new("L", (10, 10), 128).save(tmp_path / "grey.png")
    Image.new("RGBA", (5, 7), (0, 0, 255, 100)).save(tmp_path / "blue.png")
    loaded = load_images([tmp_path / "red.png", str(tmp_path / "grey.png"), tmp_path / "blue.png"], size=(6, 4))
    assert loaded.dtype == np.uint8 and loaded.shape == (3, 6, 4, 3)
    assert loaded[0].reshape(-1, 3).tolist() == [[255, 0, 0]] * 24
    assert loaded[1].reshape(-1, 3).tolist() == [[128, 128, 128]] * 24
    assert loaded[2, 0, 0].tolist() == [0, 0, 255]
    assert load_images([], size=4).shape == (0, 4, 4, 3)


def test_load_images_names_an_unreadable_or_missing_file(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "fine.png")
    (tmp_path / "corrupt.jpg").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"corrupt\.jpg"):
        load_images([tmp_path / "fine.png", tmp_path / "corrupt.jpg"], size=8)
    with pytest.raises(DataError, match=r"missing\.png"):
        load_images([tmp_path / "missing.png"], size=8)
    truncated = (tmp_path / "fine.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(truncated[: len(truncated) // 2])
    with pytest.raises(DataError, match=r"truncated\.png"):
        load_images([tmp_path / "truncated.png"], size=8)


def test_tiny_training_separates_bright_left_from_bright_right() -> None:
    # Flips would swap the classes, so this fit trains with augmentation off.
    images, labels = _halves(32)
    batch = preprocess(images, size=16)
    torch.manual_seed(0)
    encoder = ImageEncoder(out_dim=1, image_size=16, channels=(8, 16), augment=False)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=0.01)
    for _ in range(15):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(encoder(batch)[:, 0], labels)
        loss.backward()
        optimiser.step()
    test_images, test_labels = _halves(32, seed=1)
    with torch.no_grad():
        accuracy = ((encoder.eval()(preprocess(test_images, size=16))[:, 0] > 0).float() == test_labels).float().mean()
    assert accuracy > 0.95


def test_augmented_training_step_runs_and_backpropagates() -> None:
    torch.manual_seed(0)
    encoder = ImageEncoder(out_dim=3, image_size=16, channels=(4, 8), dropout=0.2)
    encoder(preprocess(_halves(4)[0], size=16)).sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())
