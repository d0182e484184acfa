"""Throughput of the paper's CNN on this machine's CPU: training (samples/s) and inference (patches/s).

Run explicitly::

    python -m pytest benchmarks/test_cnn_throughput.py --benchmark-enable -q -s

Training: batches of 512 patches of 11 channels from in-RAM arrays through the real trainer
(``train_torch_model``: batch gather, normalisation, fused augmentation, focal loss with sample
weights, Adam step, cosine schedule), one epoch of ``N_TRAIN`` samples per round.  Inference:
``FaciesModel.predict_proba`` on raw patches.  fp32 and bf16 (autocast) run in the same session;
``test_summary`` prints the ratios between them and to the authors' Keras figures on this 2-core
CPU (about 280 samples/s training, 830 patches/s inference; the goal is twice that).
``test_bf16_macro_f1_matches_fp32`` trains the CNN on the tiny store in both precisions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facies_bench import schema
from facies_bench.models import FaciesModel, PaperCNN
from facies_bench.training import ArraySplit, TrainingRecipe, train_torch_model

#: The authors' Keras (TensorFlow 2.11) figures on this 2-core CPU (issue 5).
KERAS_TRAIN_SAMPLES_S = 280.0
KERAS_INFER_PATCHES_S = 830.0
N_TRAIN = 1024
N_INFER = 1024
THREADS = 2
RESULTS: dict[str, float] = {}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = max(N_TRAIN, N_INFER)
    patches = rng.random((n, schema.N_FEATURES, 33, 33), dtype=np.float32)
    labels = rng.integers(0, schema.N_CLASSES, n)
    scenes = rng.integers(0, 40, n)
    train = ArraySplit(patches[:N_TRAIN], labels[:N_TRAIN], scenes[:N_TRAIN], np.arange(N_TRAIN))
    validation = train.subset(slice(0, 8))
    return train, validation, patches[:N_INFER]


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    from facies_bench.testing import make_tiny_store

    return make_tiny_store(tmp_path_factory.mktemp("bench") / "tiny.zarr", seed=0)


def _model() -> FaciesModel:
    torch.manual_seed(0)
    return FaciesModel(PaperCNN(schema.N_FEATURES), features=schema.FEATURE_NAMES, model_name="cnn_baseline")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_throughput(benchmark, data, precision):
    train, validation, _ = data
    recipe = TrainingRecipe(epochs=1, batch_size=512, precision=precision, num_threads=THREADS)
    model = _model()
    benchmark.pedantic(train_torch_model, args=(model, train, validation), kwargs={"recipe": recipe, "seed": 0},
                       rounds=3, iterations=1, warmup_rounds=1)
    rate = N_TRAIN / benchmark.stats.stats.median
    RESULTS[f"train_{precision}"] = rate
    benchmark.extra_info.update({"samples_per_s": rate, "vs_keras": rate / KERAS_TRAIN_SAMPLES_S})


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_inference_throughput(benchmark, data, precision):
    _, _, patches = data
    model = _model().eval()
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        benchmark.pedantic(model.predict_proba, args=(patches,), kwargs={"batch_size": 512, "precision": precision},
                           rounds=3, iterations=1, warmup_rounds=1)
    finally:
        torch.set_num_threads(previous)
    rate = N_INFER / benchmark.stats.stats.median
    RESULTS[f"infer_{precision}"] = rate
    benchmark.extra_info.update({"patches_per_s": rate, "vs_keras": rate / KERAS_INFER_PATCHES_S})


def test_summary():
    """Print the figures and ratios measured above in this session."""
    if len(RESULTS) < 4:
        pytest.skip("run with --benchmark-enable (all four throughput benchmarks) for the summary")
    lines = ["", "PaperCNN CPU throughput (median of 3 rounds, this session)"]
    for kind, ref, unit in (("train", KERAS_TRAIN_SAMPLES_S, "samples/s"), ("infer", KERAS_INFER_PATCHES_S, "patches/s")):
        f32, b16 = RESULTS[f"{kind}_fp32"], RESULTS[f"{kind}_bf16"]
        lines.append(f"  {kind}: fp32 {f32:7.1f} {unit} ({f32 / ref:.2f}x Keras {ref:.0f}), bf16 {b16:7.1f} {unit} "
                     f"({b16 / ref:.2f}x Keras), bf16/fp32 {b16 / f32:.2f}x")
    print("\n".join(lines))


def test_bf16_macro_f1_matches_fp32(tiny_store):
    """Short trainings of the CNN on the tiny store: bf16 macro-F1 equals fp32 within seed noise."""
    from sklearn.metrics import f1_score

    k = 0
    train = ArraySplit.concatenate([ArraySplit.from_store(tiny_store, tiny_store.fold_rows(f)) for f in schema.train_folds(k)])
    validation = ArraySplit.from_store(tiny_store, tiny_store.fold_rows(schema.validation_fold(k)))
    test = ArraySplit.from_store(tiny_store, tiny_store.fold_rows(k))
    scores: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for precision in scores:
        for seed in range(3):
            model = _tiny_model(tiny_store, seed)
            recipe = TrainingRecipe.quick().replace(epochs=4, batch_size=32, precision=precision, num_threads=THREADS)
            train_torch_model(model, train, validation, recipe=recipe, seed=seed)
            pred = model.predict_proba(test.patches, precision=precision).argmax(1)
            scores[precision].append(f1_score(test.labels, pred, average="macro", labels=range(schema.N_CLASSES), zero_division=0))
    f32, b16 = np.array(scores["fp32"]), np.array(scores["bf16"])
    noise = max(f32.std(ddof=1), b16.std(ddof=1), 0.02)
    print(f"\nmacro-F1 on test fold {k} (3 seeds): fp32 {f32.mean():.3f} +- {f32.std(ddof=1):.3f}, "
          f"bf16 {b16.mean():.3f} +- {b16.std(ddof=1):.3f}")
    assert abs(f32.mean() - b16.mean()) <= 2 * noise


def _tiny_model(store, seed: int) -> FaciesModel:
    torch.manual_seed(seed)
    return FaciesModel(PaperCNN(schema.N_FEATURES), features=store.feature_names, feature_min=store.feature_min,
                       feature_max=store.feature_max, model_name="cnn_baseline")
