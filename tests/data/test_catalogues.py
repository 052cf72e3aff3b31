"""Product catalogue loaders: on small files written here, and on the real files when they are present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deeptarget.config import DataConfig
from deeptarget.data.datasets.catalogues import load_catalogue
from deeptarget.data.loading import load_interactions
from deeptarget.errors import ConfigError, DataError

HEADER = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName"


def _write(root: Path, rows: list[str], images: list[int]) -> Path:
    folder = root / "fashion-products-small"
    (folder / "images").mkdir(parents=True)
    (folder / "styles_subset.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    for item in images:
        Image.fromarray(np.zeros((8, 6, 3), dtype=np.uint8)).save(folder / "images" / f"{item}.jpg")
    return folder


def test_fashion_catalogue_reads_attributes_years_and_image_paths(tmp_path: Path) -> None:
    _write(
        tmp_path,
        ["7,Men,Apparel,Topwear,Tshirts,Blue,Summer,2011.0,Casual,Nike Men Blue Tshirt", "9,Women,,,,,,,,"],
        [7, 9],
    )
    catalogue = load_catalogue("fashion-products-small", tmp_path)
    assert catalogue.index.tolist() == [7, 9]
    assert catalogue.loc[7, "year"] == 2011 and catalogue.loc[9, "baseColour"] != catalogue.loc[9, "baseColour"]
    assert Path(catalogue.loc[9, "image"]).is_absolute() and Path(catalogue.loc[9, "image"]).is_file()


def test_fashion_catalogue_errors_name_the_problem(tmp_path: Path) -> None:
    _write(tmp_path, ["7,Men,Apparel,Topwear,Tshirts,Blue,Summer,2011,Casual,x", "8,Men,A,B,C,D,E,2011,F,y"], [7])
    with pytest.raises(DataError, match=r"1 product image\(s\) missing.*8\.jpg"):
        load_catalogue("fashion-products-small", tmp_path)
    with pytest.raises(DataError, match=r"styles_subset\.csv"):
        load_catalogue("fashion-products-small", tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="product catalogue"):
        load_interactions(DataConfig(dataset="fashion-products-small", data_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="not a product catalogue"):
        load_catalogue("movielens-100k", tmp_path)


def test_fashion_catalogue_rejects_bad_ids(tmp_path: Path) -> None:
    _write(tmp_path, ["7,Men,A,B,C,D,E,2011,F,x", "x7,Men,A,B,C,D,E,2011,F,y"], [7])
    with pytest.raises(DataError, match=r"whole numbers.*x7"):
        load_catalogue("fashion-products-small", tmp_path)


def test_real_fashion_catalogue(real_data_dir: Path) -> None:
    catalogue = load_catalogue("fashion-products-small", real_data_dir)
    assert catalogue.shape == (999, 10)
    assert catalogue["articleType"].nunique() == 84 and catalogue["year"].notna().all()
