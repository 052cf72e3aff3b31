"""Product catalogues without interactions: item attributes, names and photos, for content encoders and cold start.

They are registered in :data:`deeptarget.registry.DATASETS` (so ``deeptarget datasets`` lists them) but load with
:meth:`CatalogueDataset.load_catalogue`, which returns a frame indexed by item id.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from deeptarget.data.datasets.base import Dataset, LoadedDataset
from deeptarget.data.datasets.paths import require_files
from deeptarget.data.readers import read_table
from deeptarget.errors import ConfigError, DataError
from deeptarget.registry import DATASETS

__all__ = ["CatalogueDataset", "FashionProductsSmall"]

logger = logging.getLogger(__name__)


class CatalogueDataset(Dataset):
    """A registered product catalogue: read it with :meth:`load_catalogue`."""

    def load(self, data_dir: Path, **params: Any) -> LoadedDataset:
        raise ConfigError(
            f"dataset {self.name!r} is a product catalogue (items and their attributes, no customers); read it "
            "with deeptarget.data.datasets.catalogues.load_catalogue (benchmarks/cold_start.py simulates shoppers "
            "on it)"
        )

    def load_catalogue(self, data_dir: str | Path) -> pd.DataFrame:
        """The catalogue, indexed by item id (:class:`DataError` naming what is missing or malformed)."""
        return self._read(require_files(self, data_dir))

    def _read(self, root: Path) -> pd.DataFrame:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


class FashionProductsSmall(CatalogueDataset):
    """999 products of the Kaggle "Fashion Product Images (Small)" Myntra catalogue, each with a 60x80 JPEG.

    Columns: ``gender``, ``masterCategory``, ``subCategory``, ``articleType``, ``baseColour``, ``season``,
    ``year`` (a whole number), ``usage``, ``productDisplayName`` and ``image`` (the absolute path of
    ``images/<id>.jpg``). Missing attributes stay missing (NaN); a product without its image file is an error.
    """

    name: ClassVar[str] = "fashion-products-small"
    description: ClassVar[str] = "Myntra fashion catalogue subset: 999 products, attributes, names, 60x80 photos"
    licence: ClassVar[str] = "unconfirmed (Kaggle lists MIT; verify before redistributing)"
    folder: ClassVar[str] = "fashion-products-small"
    required_files: ClassVar[tuple[str, ...]] = ("styles_subset.csv",)
    columns: ClassVar[tuple[str, ...]] = (
        "id",
        "gender",
        "masterCategory",
        "subCategory",
        "articleType",
        "baseColour",
        "season",
        "year",
        "usage",
        "productDisplayName",
    )

    def _read(self, root: Path) -> pd.DataFrame:
        path = root / "styles_subset.csv"
        frame = read_table(path, format="csv", delimiter=",")
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f"expected columns {missing}; found {list(frame.columns)}", file=str(path))
        ids = pd.to_numeric(frame["id"], errors="coerce")
        bad = ids.isna() | (ids != ids.round())
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(
                f"column 'id' must hold whole numbers, got {frame['id'].iloc[row]!r}", file=str(path), row=row + 2
            )
        frame = frame.assign(id=ids.astype("int64"))
        if frame["id"].duplicated().any():
            dup = int(frame.loc[frame["id"].duplicated(), "id"].iloc[0])
            raise DataError(f"product id {dup} appears twice", file=str(path))
        year = pd.to_numeric(frame["year"], errors="coerce")
        frame["year"] = year.round().astype("Int64")
        images = [(root / "images" / f"{item}.jpg").resolve() for item in frame["id"]]
        absent = [p for p in images if not p.is_file()]
        if absent:
            raise DataError(
                f"{len(absent)} product image(s) missing, e.g. {absent[0]}; every product needs images/<id>.jpg",
                file=str(root / "images"),
            )
        frame["image"] = [str(p) for p in images]
        return frame.set_index("id")


def load_catalogue(name: str, data_dir: str | Path) -> pd.DataFrame:
    """Load the registered catalogue ``name`` from ``data_dir``."""
    dataset = DATASETS.get(name)
    if not isinstance(dataset, CatalogueDataset):
        raise ConfigError(f"dataset {name!r} is not a product catalogue")
    return dataset.load_catalogue(data_dir)


DATASETS.register(FashionProductsSmall.name)(FashionProductsSmall())
