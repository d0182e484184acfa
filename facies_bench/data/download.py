"""Download the published release from its Zenodo record, verified and resumable.

The record API (``{base_url}/records/{record}``) lists the files as
``files: [{key, size, checksum: "md5:<hex>", links: {self: <url>}}]``.  Each file is streamed into
``<key>.part`` (with a tqdm progress bar), resumed with an HTTP ``Range`` request when a transfer
breaks off or a ``.part`` is left from an earlier attempt, checked for size and checksum, and only
then renamed to its final name: a file under its final name is always a verified one.  Archives
(``.zip``, ``.tar.gz``, ``.tgz``, ``.tar``) are unpacked into a folder named after the archive,
again through a temporary folder renamed into place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facies_bench.errors import DownloadError

log = logging.getLogger(__name__)

ZENODO_API = "https://zenodo.org/api"
RECORD_ID = "18469893"
_CHUNK = 1 << 20
_ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a release record."""

    key: str
    size: int
    checksum: str  #: "<algorithm>:<hex digest>", e.g. "md5:..."
    url: str

    @property
    def algorithm(self) -> str:
        """Hash algorithm of the checksum (``md5``...)."""
        return self.checksum.split(":", 1)[0].lower()

    @property
    def digest(self) -> str:
        """Hex digest of the checksum."""
        return self.checksum.split(":", 1)[1].lower()


@dataclass
class DownloadResult:
    """What :func:`download_release` did."""

    record: str
    files: list[Path] = field(default_factory=list)
    extracted: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  #: keys already present and verified
    metadata: dict[str, Any] = field(default_factory=dict)


def _session(session=None):
    import requests

    if session is not None:
        return session
    s = requests.Session()
    s.headers["User-Agent"] = "facies-bench (+https://doi.org/10.5281/zenodo.18469893)"
    return s


def fetch_record(record: str = RECORD_ID, *, base_url: str = ZENODO_API, session=None,
                 timeout: float = 30.0) -> tuple[dict[str, Any], list[ReleaseFile]]:
    """The record's JSON and its files.

    Raises:
        DownloadError: the record cannot be fetched or lists no usable files.
    """
    import requests

    url = f"{base_url.rstrip('/')}/records/{record}"
    try:
        resp = _session(session).get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise DownloadError(f"Cannot reach the release record at {url}: {exc}. Check the network or --base-url.") from exc
    if resp.status_code != 200:
        raise DownloadError(f"The release record {url} answered HTTP {resp.status_code}; expected 200 with the record JSON. Check the record id {record!r}.")
    try:
        data = resp.json()
    except ValueError as exc:
        raise DownloadError(f"The release record {url} did not return JSON (got {resp.text[:80]!r}).") from exc
    entries = data.get("files")
    if isinstance(entries, dict):  # InvenioRDM: {"entries": [...]} or {"entries": {key: {...}}}
        entries = entries.get("entries", entries)
        entries = list(entries.values()) if isinstance(entries, dict) else entries
    if not entries:
        raise DownloadError(f"The release record {url} lists no files (expected a 'files' list of {{key, size, checksum, links}}).")
    files = []
    for e in entries:
        try:
            key = e["key"]
            checksum = e["checksum"]
            size = int(e["size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DownloadError(f"File entry {e!r} of record {url} lacks key/size/checksum: {exc}.") from exc
        if ":" not in checksum:
            checksum = f"md5:{checksum}"
        if checksum.split(":", 1)[0].lower() not in hashlib.algorithms_available:
            raise DownloadError(f"File {key!r} of record {url} has checksum {checksum!r} with an unknown algorithm.")
        link = (e.get("links") or {}).get("self") or f"{base_url.rstrip('/')}/records/{record}/files/{key}/content"
        if Path(key).is_absolute() or ".." in Path(key).parts:
            raise DownloadError(f"File {key!r} of record {url} has an unsafe name.")
        files.append(ReleaseFile(key=key, size=size, checksum=checksum, url=link))
    return data, files


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file's bytes with ``algorithm``."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, file: ReleaseFile) -> str | None:
    """None if the file matches the record, else the reason."""
    size = path.stat().st_size
    if size != file.size:
        return f"size {size} bytes, the record says {file.size}"
    digest = file_digest(path, file.algorithm)
    if digest != file.digest:
        return f"{file.algorithm} {digest}, the record says {file.digest}"
    return None


def download_file(file: ReleaseFile, outdir: str | os.PathLike, *, session=None, progress: bool = True,
                  retries: int = 3, timeout: float = 60.0) -> Path:
    """Download one release file into ``outdir`` (resuming a ``.part``), verify it, return its path.

    A file already present under its final name and matching the record is kept.

    Raises:
        DownloadError: the transfer failed ``retries + 1`` times, or size/checksum do not match
            (the ``.part`` is then deleted and nothing is left under the final name).
    """
    return _download(file, outdir, session=session, progress=progress, retries=retries, timeout=timeout)[0]


def _download(file: ReleaseFile, outdir: str | os.PathLike, *, session, progress: bool, retries: int,
              timeout: float) -> tuple[Path, bool]:
    import requests
    import urllib3
    from tqdm.auto import tqdm

    outdir = Path(outdir)
    dest = outdir / file.key
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if dest.exists():
        problem = _verify(dest, file)
        if problem is None:
            return dest, False
        log.warning("%s exists but does not match the record (%s); downloading it again.", dest, problem)
        dest.unlink()
    sess = _session(session)
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if have > file.size:
            part.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with sess.get(file.url, headers=headers, stream=True, timeout=timeout) as resp:
                if resp.status_code == 416 and have == file.size:
                    break  # already complete
                if resp.status_code not in (200, 206):
                    raise DownloadError(f"Downloading {file.url} answered HTTP {resp.status_code}; expected 200 or 206.")
                mode = "ab" if (have and resp.status_code == 206) else "wb"
                if mode == "wb":
                    have = 0
                with open(part, mode) as f, tqdm(total=file.size, initial=have, unit="B", unit_scale=True,
                                                 desc=file.key, disable=not progress, leave=False) as bar:
                    # read1 hands over whatever has arrived, so a broken transfer keeps every byte received
                    read = getattr(resp.raw, "read1", None) or resp.raw.read
                    while chunk := read(_CHUNK):
                        f.write(chunk)
                        bar.update(len(chunk))
            if part.stat().st_size >= file.size:
                break
            raise requests.ConnectionError(f"transfer ended after {part.stat().st_size} of {file.size} bytes")
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            attempt += 1
            got = part.stat().st_size if part.exists() else 0
            if attempt > retries:
                msg = (f"Downloading {file.key} from {file.url} failed after {attempt} attempt(s): {exc}. "
                       f"{got} of {file.size} bytes are kept in {part}; run the download again to resume.")
                raise DownloadError(msg) from exc
            log.warning("Transfer of %s interrupted at %d bytes (%s); resuming.", file.key, got, exc)
            time.sleep(min(2.0 ** attempt * 0.1, 5.0))
    problem = _verify(part, file)
    if problem is not None:
        part.unlink()
        raise DownloadError(f"Downloaded {file.key} from {file.url} is corrupt: {problem}. The partial file was deleted; run the download again.")
    os.replace(part, dest)
    return dest, True


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith(_ARCHIVE_SUFFIXES)


def _archive_stem(path: Path) -> str:
    name = path.name
    for suffix in _ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def extract_archive(path: str | os.PathLike, outdir: str | os.PathLike | None = None) -> Path:
    """Unpack an archive into ``outdir/<archive stem>`` (atomically); return that folder."""
    path = Path(path)
    target = Path(outdir or path.parent) / _archive_stem(path)
    if target.exists():
        return target
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if Path(name).is_absolute() or ".." in Path(name).parts:
                        raise DownloadError(f"Archive {path} holds an unsafe member name {name!r}; refusing to extract.")
                zf.extractall(tmp)
        else:
            with tarfile.open(path) as tf:
                tf.extractall(tmp, filter="data")
        os.replace(tmp, target)
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DownloadError(f"Cannot unpack {path}: {exc}.") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def download_release(outdir: str | os.PathLike, *, record: str = RECORD_ID, base_url: str = ZENODO_API,
                     session=None, progress: bool = True, extract: bool = True, retries: int = 3) -> DownloadResult:
    """Download (and unpack) every file of a release record into ``outdir``.

    Already present, verified files are not downloaded again; interrupted ones are resumed.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sess = _session(session)
    data, files = fetch_record(record, base_url=base_url, session=sess)
    result = DownloadResult(record=str(record), metadata=data.get("metadata", {}))
    for f in files:
        path, downloaded = _download(f, outdir, session=sess, progress=progress, retries=retries, timeout=60.0)
        if not downloaded:
            result.skipped.append(f.key)
        result.files.append(path)
        if extract and _is_archive(path):
            result.extracted.append(extract_archive(path, outdir))
    return result
