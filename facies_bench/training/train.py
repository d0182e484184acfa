"""Train a :class:`FaciesModel` with the standard recipe and keep the best validation checkpoint.

The hot loop works on whole batches of in-RAM tensors: index a shuffled batch, normalise,
augment (:func:`augment_batch`), forward in channels-last (optionally under bf16 autocast),
focal loss with the Eq. 1 sample weights, Adam step, cosine learning-rate step.  After each epoch
the model predicts the validation split; the state with the best mean Jaccard (ties: the
earliest epoch) is restored at the end.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from facies_bench.evaluation.metrics import mean_iou_score
from facies_bench.models.wrapper import FaciesModel, autocast_context
from facies_bench.recipe import TrainingRecipe
from facies_bench.training.augment import augment_batch
from facies_bench.training.loss import focal_loss, sample_weights
from facies_bench.training.split import ArraySplit

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainResult:
    """Outcome of :func:`train_torch_model`.

    Attributes:
        model: the model holding the best validation-mIoU weights, in eval mode.
        history: one dict per epoch: epoch, lr, loss, accuracy (training, augmented and
            weighted as in the recipe), val_loss, val_accuracy, val_miou, time_s.
        best_epoch: the kept epoch (0-based).
        best_val_miou: its validation mean IoU (the evaluator's ``mean_iou``: over the classes
            present in the validation labels).
        train_time_s: wall time of the whole training.
        recipe: the recipe used.
        device: the device trained on.
    """

    model: FaciesModel
    history: list[dict[str, float]]
    best_epoch: int
    best_val_miou: float
    train_time_s: float = 0.0
    recipe: TrainingRecipe = field(default_factory=TrainingRecipe)
    device: str = "cpu"


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda[:N]"`` (CPU with a warning when CUDA is unavailable) or ``"auto"``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        log.warning("device=%r requested but CUDA is not available; training on the CPU.", name)
        return torch.device("cpu")
    return torch.device(name)


@contextlib.contextmanager
def _bn_momentum(model: torch.nn.Module, momentum: float | None) -> Iterator[None]:
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)] if momentum is not None else []
    previous = [m.momentum for m in layers]
    for m in layers:
        m.momentum = momentum
    try:
        yield
    finally:
        for m, value in zip(layers, previous, strict=True):
            m.momentum = value


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads (unchanged when ``n`` is falsy), then restore."""
    if not n:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


#: glibc ``mallopt`` parameters; the values restored on exit (any ``mallopt`` call switches off
#: glibc's dynamic mmap threshold, so it is set to where that scheme ends up: 32 MiB, trim 2x).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_EXIT_MMAP_THRESHOLD, _EXIT_TRIM_THRESHOLD, _EXIT_MMAP_MAX = 32 * 1024 * 1024, 64 * 1024 * 1024, 65536


def _glibc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@contextlib.contextmanager
def heap_allocations(enabled: bool = True) -> Iterator[None]:
    """Serve large CPU tensors from the malloc heap instead of fresh ``mmap`` s (glibc only).

    glibc maps every allocation above 32 MiB afresh and unmaps it on free, so each of the
    ~140 MB activations of a 512-patch batch is page-faulted and zeroed by the kernel again at
    every layer of every step; that cost up to half the time of a training step on 2 cores.
    Inside this context large blocks stay in the heap and are reused; on exit mmap is allowed
    again above 32 MiB (glibc's saturated dynamic threshold, which keeps the 64-patch chunks of
    ``FaciesModel.iter_logits`` in the heap) and freed memory is returned to the system.  A
    no-op without glibc.
    """
    libc = _glibc() if enabled else None
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_MAX, _EXIT_MMAP_MAX)
        libc.mallopt(_M_MMAP_THRESHOLD, _EXIT_MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _EXIT_TRIM_THRESHOLD)
        libc.malloc_trim(0)


def cosine_factor(step: int, total_steps: int, final_ratio: float = 0.0) -> float:
    """Keras ``CosineDecay``: the learning-rate multiplier at optimiser step ``step`` (0-based)."""
    progress = min(step, total_steps) / max(1, total_steps)
    return (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress)) + final_ratio


def evaluate_split(model: FaciesModel, split: ArraySplit, *, recipe: TrainingRecipe, device: torch.device | str = "cpu") -> dict[str, float]:
    """Loss (focal, unweighted, label smoothing as in training), accuracy and mean IoU on a split."""
    model.eval()
    logits = torch.cat(list(model.iter_logits(split.patches, batch_size=recipe.eval_batch_size, precision=recipe.precision,
                                              device=device, channels_last=recipe.channels_last)))
    targets = torch.as_tensor(split.labels, device=logits.device)
    loss = focal_loss(logits, targets, gamma=recipe.focal_gamma, alpha=recipe.focal_alpha,
                      label_smoothing=recipe.label_smoothing, eps=recipe.clip_eps).item()
    pred = logits.argmax(1).cpu().numpy()
    return {"loss": float(loss), "accuracy": float((pred == split.labels).mean()),
            "miou": mean_iou_score(split.labels, pred, n_classes=model.n_classes)}


def _check_inputs(model: FaciesModel, train: ArraySplit, validation: ArraySplit) -> None:
    if not isinstance(model, FaciesModel):
        raise TypeError(f"train_torch_model expects a FaciesModel (raw patches in, logits out); got {type(model).__name__}.")
    for name, split in (("train", train), ("validation", validation)):
        if len(split) == 0:
            raise ValueError(f"The {name} split has no labelled samples; the recipe needs both a training and a validation split.")
        if split.n_channels != model.in_channels:
            msg = (f"The {name} split has {split.n_channels} channels but the model expects {model.in_channels} "
                   f"({', '.join(model.features)}); read the patches with features=model.features.")
            raise ValueError(msg)
        if split.labels.max() >= model.n_classes:
            raise ValueError(f"The {name} split has label {int(split.labels.max())}; valid codes are 0..{model.n_classes - 1}.")


@dataclass
class _TrainingTensors:
    """The training split as tensors (moved to the device for CUDA), and its batching."""

    x: torch.Tensor  #: (N, C, 33, 33) raw patches
    y: torch.Tensor  #: (N,) labels
    w: torch.Tensor  #: (N,) Eq. 1 sample weights
    n: int
    batch_size: int

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch (the last batch may be short)."""
        return math.ceil(self.n / self.batch_size)


def _training_tensors(train: ArraySplit, recipe: TrainingRecipe, device: torch.device) -> _TrainingTensors:
    x_all = torch.from_numpy(train.patches)
    y_all = torch.from_numpy(train.labels)
    w_all = torch.from_numpy(sample_weights(train.labels, train.scene, class_weights=recipe.class_weights,
                                            scene_weights=recipe.scene_weights))
    if device.type == "cuda":
        x_all, y_all, w_all = x_all.to(device), y_all.to(device), w_all.to(device)
    return _TrainingTensors(x=x_all, y=y_all, w=w_all, n=len(train), batch_size=int(recipe.batch_size))


def _optimizer(model: FaciesModel, recipe: TrainingRecipe,
               total_steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Adam (AdamW with weight decay) and the cosine learning-rate schedule over ``total_steps`` steps."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if recipe.weight_decay else torch.optim.Adam
    optimizer = opt_cls(params, lr=recipe.lr, betas=(recipe.adam_betas[0], recipe.adam_betas[1]), eps=recipe.adam_eps, weight_decay=recipe.weight_decay)
    final_ratio = recipe.lr_final / recipe.lr if recipe.lr else 0.0
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_factor(step, total_steps, final_ratio))
    return optimizer, scheduler


def _train_epoch(model: FaciesModel, data: _TrainingTensors, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LambdaLR, *, gen: torch.Generator, recipe: TrainingRecipe,
                 device: torch.device, fmt: torch.memory_format) -> tuple[float, float]:
    """One pass over the shuffled training split; its mean (weighted) loss and accuracy."""
    model.train()
    perm = torch.randperm(data.n, generator=gen).to(data.x.device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for start in range(0, data.n, data.batch_size):
        idx = perm[start:start + data.batch_size]
        xb = data.x.index_select(0, idx).to(device, non_blocking=True)
        yb = data.y.index_select(0, idx).to(device, non_blocking=True)
        wb = data.w.index_select(0, idx).to(device, non_blocking=True)
        xb = augment_batch(model.normalize(xb), gen, brightness=recipe.brightness, contrast=recipe.contrast,
                           flips=recipe.flips, rot90=recipe.rot90).contiguous(memory_format=fmt)
        with autocast_context(device, recipe.precision):
            logits = model.backbone(xb)
        loss = focal_loss(logits, yb, sample_weight=wb, gamma=recipe.focal_gamma, alpha=recipe.focal_alpha,
                          label_smoothing=recipe.label_smoothing, eps=recipe.clip_eps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.detach().argmax(1) == yb).sum()
    return float(loss_sum) / data.n, float(correct) / data.n


@dataclass
class _BestCheckpoint:
    """The state of the best validation mean IoU so far (ties: the earliest epoch)."""

    epoch: int = -1
    miou: float = -math.inf
    state: dict[str, torch.Tensor] | None = None

    def update(self, model: torch.nn.Module, epoch: int, miou: float) -> None:
        """Keep a copy of ``model``'s state when ``miou`` beats the best so far."""
        if miou > self.miou:
            self.miou, self.epoch = miou, epoch
            self.state = copy.deepcopy(model.state_dict())

    def restore(self, model: torch.nn.Module) -> None:
        """Load the kept state into ``model`` (no-op before any epoch)."""
        if self.state is not None:
            model.load_state_dict(self.state)


def train_torch_model(model: FaciesModel, train: ArraySplit, validation: ArraySplit, *, recipe: TrainingRecipe | None = None,
                      seed: int = 0, progress: ProgressCallback | None = None) -> TrainResult:
    """Train ``model`` with the standard recipe; keep the best validation mean-IoU checkpoint.

    Args:
        model: a :class:`FaciesModel` (raw patches in); its normalisation is applied to every batch
            before augmentation, so brightness/contrast act in normalised units as in the paper.
        train: training split (samples with label -1 are ignored).
        validation: validation split (samples with label -1 are ignored).
        recipe: the recipe (default: the paper's, 1000 epochs).
        seed: seeds shuffling, augmentation and dropout; the same seed, data, recipe, thread
            count and device give the same result.  The global torch RNG is restored afterwards.
        progress: called as ``progress(epoch, metrics)`` after every epoch (``metrics`` as in
            ``TrainResult.history``).

    Returns:
        A :class:`TrainResult`; ``result.model`` is ``model`` itself, holding the best weights,
        in eval mode, on the training device.
    """
    recipe = recipe or TrainingRecipe()
    train, validation = train.labelled(), validation.labelled()
    _check_inputs(model, train, validation)
    device = resolve_device(recipe.device)
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    start_time = time.perf_counter()
    with torch.random.fork_rng(devices=fork_devices), torch_threads(recipe.num_threads), _bn_momentum(model, recipe.bn_momentum), \
            heap_allocations(device.type == "cpu"):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        fmt = torch.channels_last if recipe.channels_last else torch.contiguous_format
        model.to(device)
        model.to(memory_format=fmt)
        data = _training_tensors(train, recipe, device)
        optimizer, scheduler = _optimizer(model, recipe, recipe.epochs * data.steps_per_epoch)
        history: list[dict[str, float]] = []
        best = _BestCheckpoint()
        for epoch in range(recipe.epochs):
            t0 = time.perf_counter()
            loss, accuracy = _train_epoch(model, data, optimizer, scheduler, gen=gen, recipe=recipe, device=device, fmt=fmt)
            val = evaluate_split(model, validation, recipe=recipe, device=device)
            metrics = {"epoch": epoch, "lr": float(optimizer.param_groups[0]["lr"]), "loss": loss,
                       "accuracy": accuracy, "val_loss": val["loss"], "val_accuracy": val["accuracy"],
                       "val_miou": val["miou"], "time_s": time.perf_counter() - t0}
            history.append(metrics)
            best.update(model, epoch, val["miou"])
            log.info("epoch %d: loss %.4g acc %.3f val_miou %.3f", epoch, metrics["loss"], metrics["accuracy"], val["miou"])
            if progress is not None:
                progress(epoch, dict(metrics))
        best.restore(model)
        model.eval()
    return TrainResult(model=model, history=history, best_epoch=best.epoch, best_val_miou=float(best.miou),
                       train_time_s=time.perf_counter() - start_time, recipe=recipe, device=str(device))
