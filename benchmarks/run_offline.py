"""`make bench-offline`: every benchmark of the offline pipeline, the feature store and the
model's online call, one after the other, each in its own process so that none inherits
another's memory or caches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = (
    "bench_simulator.py",
    "bench_features.py",
    "bench_feature_store.py",
    "bench_materialize.py",
    "bench_attributions.py",
)


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        failed |= subprocess.run([sys.executable, str(HERE / name)], check=False).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
