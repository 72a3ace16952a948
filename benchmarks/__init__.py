"""StreamFace benchmarks: `python -m benchmarks` measures everything and writes results/."""
