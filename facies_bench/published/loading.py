"""Published models as :class:`~facies_bench.models.wrapper.FaciesModel` objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from facies_bench.published.files import CALIBRATION, WEIGHTS, fetch_published_file, resolve_published, test_fold_of

PREFIX = "published:"
#: ``norm_stats`` values: the estimate derived from the weights, or inputs already normalised.
NORM_STATS_CHOICES = ("published", "identity")


def is_published_name(name: Any) -> bool:
    """True for ``"published:..."`` strings."""
    return isinstance(name, str) and name.startswith(PREFIX)


def load_published_model(name: str, *, norm_stats: Any = "published", device: str | torch.device = "cpu") -> Any:
    """One published model (``fs4/fold0``, ``fs4/fold0-before``, ``fs1/fold0``...) in eval mode.

    Args:
        name: a single published model, with or without the ``published:`` prefix.
        norm_stats: ``"published"`` (the estimate of the authors' normalisation, the default),
            ``"identity"`` / ``None`` (inputs already normalised), or anything
            :func:`~facies_bench.models.keras_import.load_norm_stats` takes (a store, a JSON file).
        device: where to put the model.

    Raises:
        UnknownNameError: not a single published model.
        DownloadError: the weights cannot be fetched (the message says where to put them by hand).
    """
    from facies_bench.models.keras_import import import_keras_weights

    members = resolve_published(name)
    if len(members) != 1:
        from facies_bench.errors import UnknownNameError

        raise UnknownNameError(f"{name!r} is an ensemble of {len(members)} models; use load_published_models for it.")
    single = members[0]
    path = fetch_published_file(WEIGHTS[single])
    label = "published"
    if isinstance(norm_stats, str) and norm_stats == "published":
        pass  # import_keras_weights reads the shipped estimate
    elif norm_stats is None or (isinstance(norm_stats, str) and norm_stats == "identity"):
        norm_stats, label = None, "identity"
    else:
        label = str(getattr(norm_stats, "path", norm_stats))
    model = import_keras_weights(path, norm_stats=norm_stats)
    fold = test_fold_of(single)
    model.meta.update({"published": single, "test_fold": fold, "normalisation": label, "licence": "GPL-2.0"})
    return model.to(device).eval()


def load_published_models(name: str, **kwargs: Any) -> list[Any]:
    """Every model behind ``name`` (an ensemble such as ``fs4``, or one model)."""
    return [load_published_model(member, **kwargs) for member in resolve_published(name)]


def load_published_calibrators(models: list[Any]) -> list[Any] | None:
    """The published calibration model of each fs4 "after" model, or None when any has none."""
    from facies_bench.published.calibration import calibrator_from_pickle

    names = [m.meta.get("published") for m in models]
    if not names or any(n is None or not n.startswith("fs4/") or n.endswith("-before") for n in names):
        return None
    out = []
    for n in names:
        fold = test_fold_of(n)
        out.append(calibrator_from_pickle(fetch_published_file(CALIBRATION[fold]), info={"fold": fold, "published": n}))
    return out
