"""Provenance recorded with every run: package version and the hardware it ran on (no git needed)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from functools import lru_cache
from typing import Any


def package_version() -> str:
    """Installed version of facies-bench (falls back to ``facies_bench.__version__``)."""
    from importlib import metadata

    try:
        return metadata.version("facies-bench")
    except metadata.PackageNotFoundError:
        import facies_bench

        return str(getattr(facies_bench, "__version__", "unknown"))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@lru_cache(maxsize=1)
def describe_hardware() -> dict[str, Any]:
    """CPU model, cores, memory, torch version and CUDA devices of this machine."""
    import torch

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    memory_gib = None
    try:
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    cuda = None
    if torch.cuda.is_available():
        cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "avx512_bf16": "avx512_bf16" in _cpu_flags(),
        "memory_gib": memory_gib,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda_devices": cuda,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
    }


def utc_now() -> str:
    """Current time as an ISO 8601 UTC string (seconds)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
