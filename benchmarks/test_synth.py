"""Generation time and peak memory of the synthetic dataset.

Run: ``python -m pytest benchmarks/test_synth.py --benchmark-enable -q -s``; set
``FACIES_SYNTH_BENCH_SCALE`` (default 0.25) to 1 for the full dataset.  Goal at scale 1:
<= 15 minutes and <= 8 GB.  Peak memory is the process's maximum resident set size
(``resource.getrusage``), measured in a fresh subprocess so earlier tests do not count.
Figures measured for generator version 3 (scale 0.05 and 1) are in docs/simulator.md, "Cost".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCALE = float(os.environ.get("FACIES_SYNTH_BENCH_SCALE", "0.25"))

_CHILD = """
import json, resource, sys, time
from facies_bench.synth import generate_store
t = time.perf_counter()
store = generate_store(sys.argv[1], scale=float(sys.argv[2]), seed=0, overwrite=True)
print(json.dumps({"seconds": time.perf_counter() - t, "n_samples": store.n_samples,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


@pytest.mark.benchmark(group="synth")
def test_generate_store(benchmark, tmp_path):
    def run():
        out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "s.zarr"), str(SCALE)],
                             check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    result = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result | {"scale": SCALE})
    print(f"\nscale {SCALE}: {result['n_samples']} samples in {result['seconds']:.0f} s, peak RSS {result['peak_rss_gb']:.2f} GB")
