"""Public datasets (the real files when present, tiny look-alikes otherwise) and checksum-verified download.

Nothing here touches the network: downloads are served by a fake opener or a ``file://`` URL.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from deeptarget.data.datasets.amazon import AmazonBeauty, read_sequence_file
from deeptarget.data.datasets.base import RemoteFile
from deeptarget.data.datasets.download import fetch, fetch_all
from deeptarget.data.datasets.movielens import MovieLens100K, MovieLensLatestSmall
from deeptarget.data.datasets.paths import default_data_dir, resolve_data_dir
from deeptarget.errors import DataError


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class FakeOpener:
    """Serves fixed bytes for every URL and records what was asked for."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.urls: list[str] = []

    def __call__(self, url: str) -> io.BytesIO:
        self.urls.append(url)
        return io.BytesIO(self.payload)


def _write_tiny_ml100k(root: Path) -> Path:
    folder = root / "movielens-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_text("1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t11\t4\t881250951\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|0432A\n")
    flags_10 = "|".join(["0"] * 3 + ["1", "1", "1"] + ["0"] * 13)  # Animation, Children's, Comedy
    flags_11 = "|".join(["0"] * 19)
    (folder / "u.item").write_bytes(
        f"10|Toy Story (1995)|01-Jan-1995||http://x|{flags_10}\n11|Café (1996)|||http://y|{flags_11}\n".encode(
            "latin-1"
        )
    )
    return folder


# ------------------------------------------------------------------------------------------- paths
def test_data_dir_is_explicit_or_the_user_cache(tmp_path: Path) -> None:
    assert resolve_data_dir(tmp_path) == tmp_path
    assert resolve_data_dir(str(tmp_path)) == tmp_path
    assert resolve_data_dir(None) == default_data_dir()
    assert default_data_dir().parts[-2:] == ("deeptarget", "data")


# --------------------------------------------------------------------------------------- loaders, tiny copies
def test_movielens_100k_parses_its_three_files(tmp_path: Path) -> None:
    _write_tiny_ml100k(tmp_path)
    loaded = MovieLens100K().load(tmp_path)
    inter = loaded.interactions
    assert inter.to_dict("list") == {
        "user": [1, 2, 1],
        "item": [10, 10, 11],
        "time": [881250949, 881250950, 881250951],
        "value": [5.0, 3.0, 4.0],
    }
    assert inter["user"].dtype == np.int64 and inter["value"].dtype == np.float64
    assert loaded.users is not None and loaded.items is not None
    assert loaded.users["zip"].tolist() == ["85711", "0432A"]
    assert loaded.users["age"].tolist() == [24, 53]
    assert loaded.items["genres"].tolist() == ["Animation|Children's|Comedy", ""]
    assert loaded.items["title"].tolist() == ["Toy Story (1995)", "Café (1996)"]
    assert str(loaded.items["release_date"].iloc[0].date()) == "1995-01-01"
    assert loaded.source.endswith("u.data")


def test_a_damaged_file_names_file_column_and_row(tmp_path: Path) -> None:
    folder = _write_tiny_ml100k(tmp_path)
    (folder / "u.data").write_text("1\t10\t5\t881250949\n2\t10\tfive\t881250950\n")
    with pytest.raises(DataError) as info:
        MovieLens100K().load(tmp_path)
    assert info.value.file is not None and info.value.file.endswith("u.data")
    assert info.value.column == "value"
    assert info.value.row == {"row": 2, "value": "five"}


def test_missing_files_name_the_folder_and_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        MovieLens100K().load(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "movielens-100k") in message
    assert "u.data" in message and "u.item" in message
    assert "--data-dir" in message and "DEEPTARGET_DATA" in message
    assert "download_dataset('movielens-100k'" in message


def test_datasets_take_no_unknown_params(tmp_path: Path) -> None:
    from deeptarget.errors import ConfigError

    _write_tiny_ml100k(tmp_path)
    with pytest.raises(ConfigError, match="takes no params"):
        MovieLens100K().load(tmp_path, n_users=3)


def test_sequence_file_time_is_the_rank_within_each_user(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("7 100\n8 100\n7 101\n9 a5\n7 100\n8 102\n")
    frame = read_sequence_file(path)
    assert frame["user"].tolist() == [7, 8, 7, 9, 7, 8]
    assert frame["item"].tolist() == ["100", "100", "101", "a5", "100", "102"]  # one non-integer id: strings
    assert frame["time"].tolist() == [0, 0, 1, 0, 2, 1]
    assert frame["time"].dtype == np.int64


def test_sequence_file_with_a_short_line_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("1 2\n3\n4 5\n")
    with pytest.raises(DataError) as info:
        read_sequence_file(path)
    assert info.value.file == str(path)
    assert "line 2" in str(info.value) and "'3'" in str(info.value)


# ------------------------------------------------------------------------------------------- real files
@pytest.mark.realdata
def test_movielens_100k_real_counts(real_data_dir: Path) -> None:
    loaded = MovieLens100K().load(real_data_dir)
    inter = loaded.interactions
    assert len(inter) == 100_000
    assert inter["user"].nunique() == 943 and inter["item"].nunique() == 1_682
    assert set(inter["value"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert loaded.users is not None and len(loaded.users) == 943
    assert loaded.items is not None and len(loaded.items) == 1_682
    toy_story = loaded.items.set_index("item").loc[1]
    assert toy_story["title"] == "Toy Story (1995)"
    assert toy_story["genres"] == "Animation|Children's|Comedy"


@pytest.mark.realdata
def test_movielens_latest_small_real_counts(real_data_dir: Path) -> None:
    loaded = MovieLensLatestSmall().load(real_data_dir)
    inter = loaded.interactions
    assert len(inter) == 100_836
    assert inter["user"].nunique() == 610 and inter["item"].nunique() == 9_724
    assert inter["value"].min() == 0.5 and inter["value"].max() == 5.0
    assert loaded.items is not None and len(loaded.items) == 9_742
    toy_story = loaded.items.set_index("item").loc[1]
    assert toy_story["genres"] == "Adventure|Animation|Children|Comedy|Fantasy"
    assert "pixar" in toy_story["tags"].split("|")


@pytest.mark.realdata
def test_amazon_beauty_real_counts_and_within_user_rank(real_data_dir: Path) -> None:
    loaded = AmazonBeauty().load(real_data_dir)
    inter = loaded.interactions
    assert len(inter) == 353_962
    assert inter["user"].nunique() == 40_226 and inter["item"].nunique() == 54_542
    seen: dict[str, int] = defaultdict(int)  # an independent count, line by line
    ranks = []
    with open(real_data_dir / "amazon-beauty-seq" / "beauty.txt") as handle:
        for line in handle:
            user = line.split()[0]
            ranks.append(seen[user])
            seen[user] += 1
    assert inter["time"].tolist() == ranks
    assert "rank" in loaded.extras["time"]


# ------------------------------------------------------------------------------------------- download
def test_fetch_with_the_right_checksum_leaves_the_file(tmp_path: Path) -> None:
    payload = b"1 1\n1 2\n2 1\n"
    opener = FakeOpener(payload)
    remote = RemoteFile("beauty.txt", "https://example.org/beauty.txt", md5=_md5(payload))
    path = fetch(remote, tmp_path / "out", opener=opener, progress=False)
    assert path == tmp_path / "out" / "beauty.txt"
    assert path.read_bytes() == payload
    assert sorted(p.name for p in path.parent.iterdir()) == ["beauty.txt"]  # no temporary file left


def test_fetch_with_a_wrong_checksum_deletes_everything(tmp_path: Path) -> None:
    payload = b"tampered"
    wrong = "0" * 32
    remote = RemoteFile("beauty.txt", "https://example.org/beauty.txt", md5=wrong)
    with pytest.raises(DataError) as info:
        fetch(remote, tmp_path, opener=FakeOpener(payload), progress=False)
    message = str(info.value)
    assert "beauty.txt" in message and wrong in message and _md5(payload) in message
    assert list(tmp_path.iterdir()) == []


def test_sha256_is_used_when_given(tmp_path: Path) -> None:
    payload = b"abc"
    good = RemoteFile("a.txt", "https://example.org/a", sha256=hashlib.sha256(payload).hexdigest(), md5="0" * 32)
    assert fetch(good, tmp_path, opener=FakeOpener(payload), progress=False).read_bytes() == payload
    bad = RemoteFile("b.txt", "https://example.org/b", sha256="f" * 64)
    with pytest.raises(DataError, match="sha256"):
        fetch(bad, tmp_path, opener=FakeOpener(payload), progress=False)
    assert not (tmp_path / "b.txt").exists()


def test_a_file_url_is_fetched_with_the_default_opener(tmp_path: Path) -> None:
    source = tmp_path / "remote.txt"
    source.write_bytes(b"local bytes")
    remote = RemoteFile("copy.txt", source.as_uri(), md5=_md5(b"local bytes"))
    assert fetch(remote, tmp_path / "dest", progress=False).read_bytes() == b"local bytes"


def test_zip_members_are_verified_after_extraction_and_the_zip_is_fetched_once(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml/u.data", "1\t2\t3\t4\n")
        archive.writestr("ml/u.user", "1|2|M|x|5\n")
    opener = FakeOpener(buffer.getvalue())
    url = "https://example.org/ml.zip"
    remotes = [
        RemoteFile("u.data", url, md5=_md5(b"1\t2\t3\t4\n"), archive_member="ml/u.data"),
        RemoteFile("u.user", url, md5=_md5(b"1|2|M|x|5\n"), archive_member="ml/u.user"),
    ]
    paths = fetch_all(remotes, tmp_path, opener=opener, progress=False)
    assert [p.read_bytes() for p in paths] == [b"1\t2\t3\t4\n", b"1|2|M|x|5\n"]
    assert opener.urls == [url]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.data", "u.user"]  # the zip itself is gone
    again = FakeOpener(b"")
    fetch_all(remotes, tmp_path, opener=again, progress=False)
    assert again.urls == []  # verified files already present: nothing downloaded


def test_a_bad_zip_member_checksum_leaves_no_file(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml/u.data", "changed\n")
    remote = RemoteFile("u.data", "https://example.org/ml.zip", md5="1" * 32, archive_member="ml/u.data")
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(remote, tmp_path, opener=FakeOpener(buffer.getvalue()), progress=False)
    assert list(tmp_path.iterdir()) == []
    missing = RemoteFile("u.item", "https://example.org/ml.zip", md5="1" * 32, archive_member="ml/u.item")
    with pytest.raises(DataError, match=r"no member 'ml/u\.item'"):
        fetch(missing, tmp_path, opener=FakeOpener(buffer.getvalue()), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_connection_is_a_data_error(tmp_path: Path) -> None:
    def offline(url: str) -> io.BytesIO:
        raise urllib.error.URLError("no network")

    remote = RemoteFile("x.txt", "https://example.org/x", md5="0" * 32)
    with pytest.raises(DataError, match="download failed"):
        fetch(remote, tmp_path, opener=offline, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.realdata
def test_dataset_download_verifies_the_published_checksums(real_data_dir: Path, tmp_path: Path) -> None:
    # Serve the real files as the remote would (the ML-100K zip rebuilt around them): the checksums listed in
    # remote_files must accept them and the loaders must read the result.
    beauty = (real_data_dir / "amazon-beauty-seq" / "beauty.txt").read_bytes()
    opener = FakeOpener(beauty)
    folder = AmazonBeauty().download(tmp_path, opener=opener, progress=False)
    assert folder == tmp_path / "amazon-beauty-seq"
    assert (folder / "beauty.txt").read_bytes() == beauty
    assert opener.urls == [AmazonBeauty.remote_files[0].url]

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for remote in MovieLens100K.remote_files:
            archive.write(real_data_dir / "movielens-100k" / remote.name, f"ml-100k/{remote.name}")
    opener = FakeOpener(buffer.getvalue())
    MovieLens100K().download(tmp_path, opener=opener, progress=False)
    assert opener.urls == ["https://files.grouplens.org/datasets/movielens/ml-100k.zip"]
    assert len(MovieLens100K().load(tmp_path).interactions) == 100_000

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for remote in MovieLensLatestSmall.remote_files:
            archive.write(real_data_dir / "movielens-latest-small" / remote.name, f"ml-latest-small/{remote.name}")
    MovieLensLatestSmall().download(tmp_path, opener=FakeOpener(buffer.getvalue()), progress=False)
    assert MovieLensLatestSmall().is_available(tmp_path)
