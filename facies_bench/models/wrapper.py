"""``FaciesModel``: a backbone with its feature set and normalisation attached.

It takes RAW patches (as stored), min-max normalises them per feature with the store's global
minima and maxima (held as buffers, so they travel with the checkpoint) and returns the
backbone's logits.  ``predict_proba`` is the batched numpy entry point used by the protocol,
the mapper and users of ``facies_bench.load_model``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from facies_bench import schema
from facies_bench.errors import UnknownNameError

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")
#: Value that nodata (NaN) inputs take after normalisation: 0, the feature's minimum (as the mapper).
NODATA_FILL = 0.0

#: Patches per forward pass inside ``iter_logits``: 64 patches keep each (64, 64, 33, 33) float32
#: activation under glibc's 32 MiB mmap threshold and closer to the caches than 512 or more.
INFERENCE_CHUNK = 64


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """An inference copy of ``module`` with each ``Conv2d -> BatchNorm2d`` pair merged into the conv.

    Pairs are found inside ``nn.Sequential`` containers (the paper CNN's ``ConvBlock``); the
    batch norm (its running statistics, i.e. eval mode) becomes ``nn.Identity``.  The fold is
    computed in float64, so outputs agree with the unfolded module to float32 rounding.
    ``module`` itself is not modified; without any such pair it is returned as is.
    """
    def pairs(root: nn.Module) -> Iterator[tuple[nn.Sequential, str, nn.Conv2d, nn.BatchNorm2d]]:
        for seq in root.modules():
            if isinstance(seq, nn.Sequential):
                names = list(seq._modules)
                for a, b in itertools.pairwise(names):
                    conv, bn = seq._modules[a], seq._modules[b]
                    if (type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d and bn.running_var is not None
                            and conv.out_channels == bn.num_features):
                        yield seq, b, conv, bn

    if next(pairs(module), None) is None:
        return module
    folded = copy.deepcopy(module)
    with torch.no_grad():
        for seq, b, conv, bn in list(pairs(folded)):
            running_mean, running_var = bn.running_mean, bn.running_var
            if running_mean is None or running_var is None:  # pairs() yields only layers with running statistics
                continue
            scale = torch.rsqrt(running_var.double() + bn.eps)
            if bn.weight is not None:
                scale = scale * bn.weight.double()
            bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
            bias = (bias - running_mean.double()) * scale + (bn.bias.double() if bn.bias is not None else 0.0)
            weight = conv.weight.double() * scale.view(-1, 1, 1, 1)
            conv.weight.copy_(weight.to(conv.weight.dtype))
            if conv.bias is None:
                conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=False)
            else:
                conv.bias.copy_(bias.to(conv.bias.dtype))
            seq._modules[b] = nn.Identity()
    return folded


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX), rather than emulating it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


@functools.cache
def _warn_emulated_bf16() -> None:
    # Once per process: on an AVX2-only CPU bf16 convolutions are emulated, and a paper-CNN training
    # step measured 8x slower than fp32 (AMD EPYC, torch 2.14.1), where AVX512-BF16 made it 1.5x faster
    log.warning("This CPU has no native bf16 (%s, no AVX512-BF16 or AMX): bf16 runs emulated, several "
                "times slower than fp32. Use --precision fp32 here.", torch.backends.cpu.get_cpu_capability())


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``precision="bf16"`` on ``device``; a no-op for ``"fp32"``.

    bf16 on a CPU without native bf16 instructions logs a warning once per process.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}. Valid: {', '.join(PRECISIONS)}.")
    if precision == "fp32":
        return contextlib.nullcontext()
    if device.type == "cpu" and not cpu_has_native_bf16():
        _warn_emulated_bf16()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


class FaciesModel(nn.Module):
    """A backbone on raw patches: normalisation -> backbone -> (B, K) logits.

    Args:
        backbone: module mapping (B, C, H, W) normalised patches to (B, K) logits.
        features: the C feature names, in channel order (``schema.FEATURE_NAMES`` spelling).
        feature_min: (C,) per-feature minimum; ``None`` means inputs are already normalised.
        feature_max: (C,) per-feature maximum; ``None`` means inputs are already normalised.
        model_name: registry name of the backbone (``cnn_baseline``...).
        hparams: keyword arguments the backbone was built with.
        builder: ``module:qualname`` of the builder, so checkpoints rebuild without a registry.
        n_classes: K.
        meta: free-form provenance kept in checkpoints (fold, seed, source file...).

    Normalisation is ``(x - min) / (max - min)`` per channel; a channel with ``max == min``
    is only shifted.
    """

    # Buffers (registered in __init__), declared for type checkers.
    feature_min: torch.Tensor
    feature_max: torch.Tensor
    _scale: torch.Tensor
    _shift: torch.Tensor

    def __init__(self, backbone: nn.Module, *, features: Sequence[str], feature_min: Sequence[float] | np.ndarray | None = None,
                 feature_max: Sequence[float] | np.ndarray | None = None, model_name: str | None = None,
                 hparams: dict[str, Any] | None = None, builder: str | None = None, n_classes: int = schema.N_CLASSES,
                 meta: dict[str, Any] | None = None):
        super().__init__()
        self.backbone = backbone
        self.features = tuple(schema.resolve_features(list(features))) if features else ()
        if tuple(features) != self.features:
            msg = f"Features {tuple(features)} must be distinct names in schema order {schema.FEATURE_NAMES}."
            raise UnknownNameError(msg)
        c = len(self.features)
        lo = np.zeros(c, np.float32) if feature_min is None else np.asarray(feature_min, np.float32).reshape(-1)
        hi = np.ones(c, np.float32) if feature_max is None else np.asarray(feature_max, np.float32).reshape(-1)
        if lo.shape != (c,) or hi.shape != (c,):
            msg = f"feature_min/feature_max have shapes {lo.shape}/{hi.shape}; expected ({c},) for features {', '.join(self.features)}."
            raise ValueError(msg)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            raise ValueError(f"feature_min/feature_max must be finite; got {lo.tolist()} / {hi.tolist()}.")
        self.register_buffer("feature_min", torch.from_numpy(lo.copy()))
        self.register_buffer("feature_max", torch.from_numpy(hi.copy()))
        span = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        self.register_buffer("_scale", torch.from_numpy(1.0 / span).view(1, c, 1, 1), persistent=False)
        self.register_buffer("_shift", torch.from_numpy(lo.copy()).view(1, c, 1, 1), persistent=False)
        self.normalised_input = feature_min is None and feature_max is None
        self.model_name = model_name
        self.hparams = dict(hparams or {})
        self.builder = builder
        self.n_classes = int(n_classes)
        self.meta = dict(meta or {})

    # ------------------------------------------------------------------------------------
    @classmethod
    def from_registry(cls, name: str, *, features: int | str | Sequence[str], store: Any = None,
                      feature_min: Sequence[float] | None = None, feature_max: Sequence[float] | None = None,
                      seed: int | None = None, hparams: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> FaciesModel:
        """Build a registered torch model and wrap it.

        Args:
            name: registry key of a torch model.
            features: feature set id (1-4), comma-separated names or a list of names.
            store: a :class:`~facies_bench.data.store.FaciesStore` giving the normalisation
                (its global per-feature min/max for ``features``); or pass ``feature_min`` /
                ``feature_max``; or neither for identity normalisation.
            feature_min: per-feature minima of ``features`` (instead of ``store``).
            feature_max: per-feature maxima of ``features`` (instead of ``store``).
            seed: seeds the backbone's initialisation (the global torch RNG is restored after).
            hparams: override the entry's default hyperparameters.
            meta: provenance kept in checkpoints.
        """
        from facies_bench.models._registry import create_model, get_model_entry

        names = schema.resolve_features(features)
        entry = get_model_entry(name)
        if entry.kind != "torch":
            raise ValueError(f"Model {name!r} is an {entry.kind}; FaciesModel wraps torch models only.")
        if store is not None:
            idx = store.feature_indices(names)
            feature_min, feature_max = store.feature_min[idx], store.feature_max[idx]
        merged = {**entry.hparams, **(hparams or {})}
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
            backbone = create_model(name, in_channels=len(names), **(hparams or {}))
        return cls(backbone, features=names, feature_min=feature_min, feature_max=feature_max, model_name=name,
                   hparams=merged, builder=entry.target_path if entry.importable else None,
                   meta={**({"submission": entry.source} if not entry.importable and entry.source else {}), **(meta or {})})

    # ------------------------------------------------------------------------------------
    @property
    def in_channels(self) -> int:
        """Number of input features."""
        return len(self.features)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Min-max normalise raw (B, C, H, W) patches with the attached statistics.

        Nodata (NaN, e.g. Landsat 7 SLC-off gaps inside a patch) becomes :data:`NODATA_FILL`
        after normalisation, i.e. the feature's minimum, as in the mapper.
        """
        return torch.nan_to_num((x - self._shift) * self._scale, nan=NODATA_FILL)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw (B, C, H, W) patches -> (B, K) logits."""
        return self.backbone(self.normalize(x))

    def _check_patches(self, patches: np.ndarray | torch.Tensor) -> None:
        shape = tuple(patches.shape)
        if len(shape) != 4 or shape[1] != self.in_channels:
            msg = (f"Patches have shape {shape}; this model expects (N, {self.in_channels}, H, W) raw patches with "
                   f"features {', '.join(self.features)} (read them with store.read_patches(rows, features=model.features)).")
            raise ValueError(msg)

    def iter_logits(self, patches: np.ndarray | torch.Tensor, *, batch_size: int = 1024, precision: str = "fp32",
                    device: str | torch.device | None = None, channels_last: bool = True,
                    compile: bool = False, normalised: bool = False) -> Iterator[torch.Tensor]:
        """Yield (b, K) float32 logits batch by batch (no autograd).

        ``patches`` are raw, unless ``normalised`` says they are already min-max normalised with
        this model's statistics (as the mapper's windows are).

        In eval mode on the CPU the backbone runs as an inference copy: batch norm folded into
        the convolutions (:func:`fold_batchnorm`) and, for ``precision="bf16"``, bf16 weights
        and activations throughout (instead of autocast's per-call weight casts); each batch
        is fed in chunks of :data:`INFERENCE_CHUNK` patches.  With ``compile`` that copy also
        goes through ``torch.compile`` (Inductor fuses the element-wise ELU and pooling work
        that eager mode runs as separate passes: about 1.15x on the paper's CNN in bf16).  The
        compiled copy is kept until the weights change; compiling takes 5-30 s and needs a C++
        compiler, so it pays off from about 50,000 patches.  If compiling fails the eager copy
        is used, with a warning.
        """
        self._check_patches(patches)
        autocast_context(torch.device("cpu"), precision)  # validates precision
        dev = torch.device(device) if device is not None else next(self.parameters(), self.feature_min).device
        data = torch.as_tensor(patches)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        net: Callable[..., torch.Tensor] = self.backbone
        dtype, ctx, chunk = torch.float32, autocast_context(dev, precision), int(batch_size)
        compiled = False
        if dev.type == "cpu" and not self.backbone.training:
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            ctx, chunk = contextlib.nullcontext(), min(chunk, INFERENCE_CHUNK)
            net, compiled = self._inference_net(dtype, dev, fmt, compile, chunk=chunk, size=tuple(data.shape[2:]))
        with torch.inference_mode(), ctx:
            for start in range(0, data.shape[0], int(batch_size)):
                xb = data[start:start + int(batch_size)].to(dev, torch.float32, non_blocking=True)
                parts = []
                for i in range(0, xb.shape[0], chunk):
                    # normalised chunk by chunk, while it is in cache; one copy to dtype and layout
                    part = xb[i:i + chunk] if normalised else self.normalize(xb[i:i + chunk])
                    part = part.to(dtype=dtype, memory_format=fmt)
                    n = part.shape[0]
                    if compiled and n < chunk:  # one static shape: no recompilation for the tail
                        part = torch.cat([part, part.new_zeros((chunk - n, *part.shape[1:]))]).contiguous(memory_format=fmt)
                    parts.append(net(part)[:n].float())
                yield parts[0] if len(parts) == 1 else torch.cat(parts)

    def _inference_net(self, dtype: torch.dtype, device: torch.device, fmt: torch.memory_format, compile: bool, *,
                       chunk: int = INFERENCE_CHUNK, size: tuple[int, ...] = (schema.PATCH_SIZE, schema.PATCH_SIZE)
                       ) -> tuple[Callable[..., torch.Tensor], bool]:
        """The folded (and optionally compiled) inference copy of the backbone, and whether it is compiled.

        A compiled copy, or a failed attempt, is remembered until the weights change.
        """
        key = None
        if compile:
            try:
                weights = tuple((t.data_ptr(), t._version) for t in (*self.backbone.parameters(), *self.backbone.buffers()))
                key = (dtype, str(device), fmt, chunk, size, weights)
            except RuntimeError:  # inference tensors carry no version counter: nothing to cache on
                pass
            cached = self.__dict__.get("_compiled_inference")
            if key is not None and cached is not None and cached[0] == key and cached[1] is not None:
                return cached[1], True
        net = fold_batchnorm(self.backbone)
        if dtype == torch.bfloat16:
            net = (copy.deepcopy(net) if net is self.backbone else net).to(torch.bfloat16)
        # Module.to accepts memory_format (torch docs), which its typing overloads leave out.
        net = net.to(device, memory_format=fmt)  # type: ignore[call-overload]
        if not compile or (key is not None and self.__dict__.get("_compiled_inference", (None,))[0] == key):
            return net, False  # not asked for, or compiling these weights failed before
        compiled: Callable[..., torch.Tensor] | None = None
        candidate = torch.compile(net, dynamic=False)
        try:
            with torch.inference_mode():
                candidate(torch.zeros((chunk, self.in_channels, *size), dtype=dtype, device=device).contiguous(memory_format=fmt))
        except Exception as exc:  # Inductor needs a working C++ toolchain; fall back rather than fail
            log.warning("torch.compile failed (%s: %s); predicting with the eager inference copy.", type(exc).__name__, exc)
        else:
            compiled = candidate
        if key is not None:
            self.__dict__["_compiled_inference"] = (key, compiled)  # not a submodule: stays out of state_dict
        return (net, False) if compiled is None else (compiled, True)

    def predict_proba(self, patches: np.ndarray | torch.Tensor, *, batch_size: int = 1024, precision: str = "fp32",
                      device: str | torch.device | None = None, compile: bool = False) -> np.ndarray:
        """Softmax probabilities for raw patches.

        Args:
            patches: (N, C, H, W) raw features in ``self.features`` order (numpy or tensor).
            batch_size: patches per forward pass.
            precision: ``"fp32"`` or ``"bf16"`` (autocast).
            device: where to run; defaults to where the model's parameters are.
            compile: run a ``torch.compile``-d inference copy (see :meth:`iter_logits`).

        Returns:
            (N, K) float32 probabilities in ``schema.CLASSES`` order.

        The model is switched to eval mode (and left there).
        """
        self.eval()
        out = [torch.softmax(logits, dim=1).cpu() for logits in self.iter_logits(patches, batch_size=batch_size, precision=precision, device=device, compile=compile)]
        if not out:
            return np.empty((0, self.n_classes), np.float32)
        return torch.cat(out).numpy().astype(np.float32, copy=False)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_compiled_inference", None)  # compiled code neither pickles nor deep-copies
        return state

    def extra_repr(self) -> str:
        """Model name, features and normalisation, for ``repr``."""
        return f"model_name={self.model_name!r}, features={list(self.features)}, normalised_input={self.normalised_input}"
