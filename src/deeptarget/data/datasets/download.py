"""Checksum-verified downloads of the public datasets whose terms let users fetch them themselves.

A file is streamed to a temporary file next to its destination, its checksum (sha256 or md5) is verified, and
only then is it renamed into place, so an interrupted or corrupted download never leaves a file that looks
complete.
When the remote file is a zip archive, the named member is extracted (streamed) and the *member* is verified.

Nothing here runs at import, and nothing in the test-suite touches the network: tests pass an ``opener`` that
serves local bytes (or a ``file://`` URL).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from tqdm.auto import tqdm

from deeptarget.data.datasets.base import Dataset, RemoteFile
from deeptarget.errors import DataError

__all__ = ["DownloadableDataset", "Opener", "fetch", "fetch_all", "file_checksums"]

logger = logging.getLogger(__name__)

#: Opens a URL and returns a readable binary response (``urllib.request.urlopen`` or a test double).
Opener = Callable[[str], Any]

_CHUNK = 1 << 20


def file_checksums(path: str | Path) -> dict[str, str]:
    """The md5 and sha256 hex digests of a file, read in chunks.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> _ = open(path, "wb").write(b"abc")
    >>> file_checksums(path)["md5"]
    '900150983cd24fb0d6963f7d28e17f72'
    """
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def _expected(remote: RemoteFile) -> tuple[str, str]:
    if remote.sha256:
        return "sha256", remote.sha256.lower()
    if remote.md5:
        return "md5", remote.md5.lower()
    raise DataError("no sha256 or md5 checksum to verify the download against", file=remote.name)


def _matches(path: Path, remote: RemoteFile) -> bool:
    kind, expected = _expected(remote)
    return file_checksums(path)[kind] == expected


def _verify_and_move(part: Path, remote: RemoteFile, dest: Path, origin: str) -> Path:
    kind, expected = _expected(remote)
    actual = file_checksums(part)[kind]
    if actual != expected:
        part.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for the download from {origin}: expected {kind} {expected}, got {actual}; "
            "the downloaded file was deleted",
            file=remote.name,
        )
    os.replace(part, dest)
    logger.info("downloaded %s (%s verified)", dest, kind)
    return dest


def _temp_file(dest_dir: Path, name: str) -> tuple[IO[bytes], Path]:
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the caller
        dir=dest_dir, prefix=f".{name}.", suffix=".part", delete=False
    )
    return handle, Path(handle.name)


def _download(url: str, dest_dir: Path, name: str, *, opener: Opener, progress: bool) -> Path:
    """Stream ``url`` into a temporary file in ``dest_dir`` and return its path."""
    handle, part = _temp_file(dest_dir, name)
    try:
        with handle:
            response = opener(url)
            try:
                total = _content_length(response)
                with tqdm(
                    total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, disable=not progress
                ) as bar:
                    while chunk := response.read(_CHUNK):
                        handle.write(chunk)
                        bar.update(len(chunk))
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        raise DataError(f"download failed: {exc}", file=url) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return part


def _content_length(response: Any) -> int | None:
    length = getattr(response, "length", None)
    if isinstance(length, int):
        return length
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    return int(value) if value and str(value).isdigit() else None


def _extract(archive: Path, remote: RemoteFile, dest_dir: Path, origin: str) -> Path:
    member = remote.archive_member or remote.name
    part: Path | None = None
    try:
        with zipfile.ZipFile(archive) as zipped:
            try:
                source = zipped.open(member)
            except KeyError:
                names = zipped.namelist()
                raise DataError(
                    f"the archive from {origin} has no member {member!r} (it has {names[:10]}"
                    f"{' ...' if len(names) > 10 else ''})",
                    file=remote.name,
                ) from None
            handle, part = _temp_file(dest_dir, remote.name)
            with source, handle:
                while chunk := source.read(_CHUNK):
                    handle.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        if part is not None:
            part.unlink(missing_ok=True)
        raise DataError(f"the download from {origin} is not a valid zip archive: {exc}", file=remote.name) from None
    except BaseException:
        if part is not None:
            part.unlink(missing_ok=True)
        raise
    return _verify_and_move(part, remote, dest_dir / remote.name, f"{origin} ({member})")


def fetch(
    remote: RemoteFile,
    dest_dir: Path,
    *,
    opener: Opener = urllib.request.urlopen,
    progress: bool = True,
) -> Path:
    """Download one file, verify its checksum and move it to ``dest_dir / remote.name``.

    Parameters
    ----------
    remote
        Where from and the checksum the file (or, for a zip, the extracted ``archive_member``) must have.
    dest_dir
        The folder to put it in (created if needed).
    opener
        Opens a URL and returns a readable binary response; tests pass one that serves local bytes.
    progress
        Show a tqdm progress bar.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    DataError
        The download failed, or the checksum does not match (naming the file and both checksums); no file is
        left behind.

    Examples
    --------
    >>> import io, hashlib, tempfile
    >>> payload = b"1 1\\n1 2\\n"
    >>> remote = RemoteFile("seq.txt", "https://example.org/seq.txt", md5=hashlib.md5(payload).hexdigest())
    >>> path = fetch(remote, Path(tempfile.mkdtemp()), opener=lambda url: io.BytesIO(payload), progress=False)
    >>> path.read_bytes() == payload
    True
    """
    return fetch_all([remote], dest_dir, opener=opener, progress=progress)[0]


def fetch_all(
    remotes: Iterable[RemoteFile],
    dest_dir: Path,
    *,
    opener: Opener = urllib.request.urlopen,
    progress: bool = True,
    force: bool = False,
) -> list[Path]:
    """Download several files, fetching each URL once (several members of one zip share a download).

    Files already present with the right checksum are kept unless ``force``. See :func:`fetch`.

    Examples
    --------
    >>> import io, hashlib, tempfile, zipfile
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as z:
    ...     z.writestr("ml/a.txt", "a"); z.writestr("ml/b.txt", "b")
    >>> remotes = [
    ...     RemoteFile(n, "https://example.org/ml.zip", md5=hashlib.md5(n[0].encode()).hexdigest(),
    ...                archive_member=f"ml/{n}")
    ...     for n in ("a.txt", "b.txt")
    ... ]
    >>> paths = fetch_all(remotes, Path(tempfile.mkdtemp()),
    ...                   opener=lambda url: io.BytesIO(buffer.getvalue()), progress=False)
    >>> [p.read_text() for p in paths]
    ['a', 'b']
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    wanted = list(remotes)
    results: dict[str, Path] = {}
    by_url: dict[str, list[RemoteFile]] = {}
    for remote in wanted:
        _expected(remote)  # refuse files without a checksum before downloading anything
        target = dest_dir / remote.name
        if not force and target.is_file() and _matches(target, remote):
            logger.info("%s is already present and verified", target)
            results[remote.name] = target
            continue
        by_url.setdefault(remote.url, []).append(remote)
    for url, group in by_url.items():
        archived = [r for r in group if r.archive_member]
        plain = [r for r in group if not r.archive_member]
        for remote in plain:
            part = _download(url, dest_dir, remote.name, opener=opener, progress=progress)
            results[remote.name] = _verify_and_move(part, remote, dest_dir / remote.name, url)
        if archived:
            archive = _download(url, dest_dir, Path(url).name or "archive", opener=opener, progress=progress)
            try:
                for remote in archived:
                    results[remote.name] = _extract(archive, remote, dest_dir, url)
            finally:
                archive.unlink(missing_ok=True)
    return [results[remote.name] for remote in wanted]


class DownloadableDataset(Dataset):
    """A :class:`Dataset` that can fetch its ``remote_files`` into the data directory.

    Only datasets whose terms let users download the files themselves list ``remote_files``; for the others
    :meth:`download` explains that the files must be obtained by hand.
    """

    def download(
        self,
        data_dir: str | Path,
        *,
        opener: Opener = urllib.request.urlopen,
        progress: bool = True,
        force: bool = False,
    ) -> Path:
        """Fetch and verify every remote file into :meth:`path` and return that folder.

        Examples
        --------
        >>> from deeptarget.data.datasets.amazon import AmazonBeauty
        >>> AmazonBeauty().download("/data/public")  # doctest: +SKIP
        PosixPath('/data/public/amazon-beauty-seq')
        """
        if not self.remote_files:
            raise DataError(
                f"dataset {self.name!r} cannot be downloaded by DeepTarget; obtain the files "
                f"{list(self.required_files)} yourself (licence: {self.licence or 'see its README'})",
                file=str(self.path(Path(data_dir))),
            )
        folder = self.path(Path(data_dir).expanduser())
        logger.info("downloading %s (licence: %s) into %s", self.name, self.licence, folder)
        fetch_all(self.remote_files, folder, opener=opener, progress=progress, force=force)
        return folder
