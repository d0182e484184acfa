"""The authors' published files: where they live upstream, their checksums, and a verified cache.

The weights and calibration models of Maslov et al. are GPL-2.0 files in the authors' repository
(:data:`REPOSITORY` at the pinned commit :data:`COMMIT`).  facies-bench never ships them: they are
fetched on first use from ``{base}/{REPOSITORY}/{COMMIT}/{path}`` (``base`` is GitHub's raw-file
host unless ``FACIES_BENCH_PUBLISHED_URL`` points elsewhere, e.g. a mirror or a test server),
checked against the SHA-256 sums below, and kept under ``$FACIES_BENCH_HOME/published/{COMMIT}/``.
A file already there and matching its checksum is used as is, so a user without network access can
put the files there by hand.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from facies_bench.errors import DownloadError, UnknownNameError

REPOSITORY = "konstantin-a-maslov/glacier_facies_classification"
COMMIT = "b81cdc8589439e7599d45d32ec9bd4d2e9f20ac5"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
#: Environment variable that replaces :data:`DEFAULT_BASE_URL` (read on every fetch).
BASE_URL_ENV = "FACIES_BENCH_PUBLISHED_URL"
LICENCE = "GPL-2.0"


@dataclass(frozen=True)
class PublishedFile:
    """One upstream file: its path in the authors' repository, size and SHA-256."""

    path: str
    size: int
    sha256: str


_H5_FS4 = 863288
#: Model name -> weights file.  ``fs4/fold{k}`` are the paper's final models (after confident
#: learning); ``-before`` the ones trained on the raw labels.  Sums from the files at COMMIT.
WEIGHTS: dict[str, PublishedFile] = {
    "fs1/fold0": PublishedFile("weights/1/0_cnn_afterconfidentlearning_weights.h5", 851768,
                               "912598f4f43ddc82d8c9b8c20158e612263985344070acc41bc3e5aa8e7cac69"),
    "fs2/fold0": PublishedFile("weights/2/0_cnn_afterconfidentlearning_weights.h5", 856376,
                               "3193c33af2ec566fd699904afd16c5b80db34b439b35002beeb221e8fbec3a38"),
    "fs3/fold0": PublishedFile("weights/3/0_cnn_afterconfidentlearning_weights.h5", 860984,
                               "739053e1f29b2c26b32a60fceb54eb9b9c498c7d9b44ca3ccc42d0d1384390e2"),
    **{f"fs4/fold{k}": PublishedFile(f"weights/{k}_cnn_afterconfidentlearning_weights.h5", _H5_FS4, digest)
       for k, digest in enumerate((
           "95abeb4ef21f7e09bd9f7c625669d3170662b1f8a6d9a4c4a529f58385049fff",
           "1f3bea2219548981c54c5cf55d61d228990ce56d063e63816c5a4b9b8f016f73",
           "54873a5fdbeb9458e1b0b9821095b5e9a55a6825e2262a8ad98e6af9b471e067",
           "8c198b63d7af8c507996bf27c06f337ab2d5be6ee17df9ed4d16491678468786",
           "162cc5365e843210a068137e720fd013a0ec397240006e7a4a98db1c8cdb64f0",
           "a6bb0f8e7cb8ab8eac551c981c2d3a17666b6ae38a98969973ab87e2c60e464a"))},
    **{f"fs4/fold{k}-before": PublishedFile(f"weights/{k}_cnn_beforeconfidentlearning_weights.h5", _H5_FS4, digest)
       for k, digest in enumerate((
           "b520e14a252cad47e0f9b5776e39052d478214e8c96d5b031c9f38f7f1cf7e2f",
           "fb4cfefbd98493788fbaaf4c163d9d412f17826b0501134b390bd2452f3870ae",
           "12838a02649d7c954951799444bded7969b2e400c000c4a5b6041d1453d81d53",
           "33b8b3734fad4a9dbee0b962439756cd45227536164a4515a63181e3d88facde",
           "71004529854ea9bc2e72403a2046caeef7dd792dd7119695f8bb7b14d40bd334",
           "81c12b034e3bf8b2464a20fd580345c9c5ed229fd17c49bd416ad2c986604da4"))},
}
#: Test fold -> calibration model of ``fs4/fold{k}`` (a pickled scikit-learn KernelRidge).
CALIBRATION: dict[int, PublishedFile] = {
    k: PublishedFile(f"confidence_calibration_models/{k}_calibration_model.pickle", size, digest)
    for k, (size, digest) in enumerate((
        (832, "e0942a3009dc2c67b9a132c57a1a3f4179e1566b0740f84f89d389990286d7f6"),
        (808, "dccd2619c182b308be99e578bb956458bc574b30c995c5a55f2f966c8dda85dd"),
        (856, "083fb8f1d2ea518addf72f045c1d2d1cfe582d44fcdd46846b2cab3407921f5d"),
        (832, "b7678a35c689a69cfe24a08c224d914fe414550d9376d4079d7981abd7264140"),
        (808, "0436a67c5d46f624c9ed3c8a1a08dc17f56b5b2e48e5c01f867d10d5a8ec36cb"),
        (808, "da1fc43ad5f47f44bbb178bfb018994cadabacf96878f3f5526a6d9a6ed59dba")))
}
#: Ensembles: ``fs4`` = the six final fold models, as the authors map scenes.
ENSEMBLES: dict[str, tuple[str, ...]] = {"fs4": tuple(f"fs4/fold{k}" for k in range(6)),
                                         "fs4-before": tuple(f"fs4/fold{k}-before" for k in range(6))}
_NAME = re.compile(r"^fs(?P<fs>[1-4])/fold(?P<fold>[0-5])(?P<before>-before)?$")


def published_names() -> tuple[str, ...]:
    """Every single-model name (``fs4/fold0``...) and ensemble name (``fs4``...)."""
    return (*WEIGHTS, *ENSEMBLES)


def resolve_published(name: str) -> tuple[str, ...]:
    """The single-model names behind ``name`` (itself, or an ensemble's members).

    Raises:
        UnknownNameError: ``name`` is not a published model.
    """
    name = name.removeprefix("published:").strip().strip("/")
    if name in ENSEMBLES:
        return ENSEMBLES[name]
    if name in WEIGHTS:
        return (name,)
    msg = (f"Unknown published model {name!r}. Published: {', '.join(published_names())} "
           f"(use them as 'published:NAME').")
    raise UnknownNameError(msg)


def test_fold_of(name: str) -> int:
    """The test fold of a single published model (its calibration model's index)."""
    match = _NAME.match(name)
    if match is None:
        raise UnknownNameError(f"{name!r} is not a single published model (e.g. 'fs4/fold0').")
    return int(match["fold"])


def published_cache_dir() -> Path:
    """Where fetched files are kept: ``$FACIES_BENCH_HOME/published/<commit>/``."""
    from facies_bench.data.cache import cache_dir

    return cache_dir() / "published" / COMMIT


def published_url(file: PublishedFile) -> str:
    """Download URL of a published file (``$FACIES_BENCH_PUBLISHED_URL`` overrides the base)."""
    base = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return f"{base.rstrip('/')}/{REPOSITORY}/{COMMIT}/{file.path}"


def fetch_published_file(file: PublishedFile, *, progress: bool = False, retries: int = 1,
                         timeout: float = 30.0) -> Path:
    """The verified local copy of ``file``, fetched on first use.

    Raises:
        DownloadError: the file could not be fetched or failed its checksum; the message names
            the URL and the path where a copy fetched by hand is picked up.
    """
    from facies_bench.data.download import ReleaseFile, download_file

    outdir = published_cache_dir()
    url = published_url(file)
    release = ReleaseFile(key=file.path, size=file.size, checksum=f"sha256:{file.sha256}", url=url)
    try:
        return download_file(release, outdir, progress=progress, retries=retries, timeout=timeout)
    except DownloadError as exc:
        # a transfer failure says only its kind (the URL is named once); a checksum failure says the digests
        reason = type(exc.__cause__).__name__ if exc.__cause__ is not None else str(exc)
        msg = (f"Could not fetch the published file {url} ({reason}). Without network access, download it elsewhere "
               f"(GPL-2.0, from {REPOSITORY} at commit {COMMIT[:12]}) and put it at {outdir / file.path}; "
               f"its SHA-256 must be {file.sha256}.")
        raise DownloadError(msg) from exc
