"""Convert resemblyzer's GE2E checkpoint into the compact weights file StreamFace ships.

Reads ``pretrained.pt`` from an installed ``resemblyzer`` (0.1.4, Apache-2.0; only needed
to run this script, never at run time), keeps the LSTM and linear layers (the checkpoint
also carries the optimizer state and GE2E's similarity scale and bias, unused for
embedding) and writes them, float32, unchanged, as a NumPy ``.npz`` (no pickle) to
``streamface/voice/assets/ge2e_encoder.npz``.

    pip install --no-deps resemblyzer==0.1.4
    python scripts/convert_ge2e_weights.py
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parents[1] / "streamface" / "voice" / "assets" / "ge2e_encoder.npz"


def main() -> int:
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        print("resemblyzer is not installed: pip install --no-deps resemblyzer==0.1.4", file=sys.stderr)
        return 2
    source = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    state = torch.load(source, map_location="cpu", weights_only=True)["model_state"]
    arrays = {
        k: v.numpy().astype(np.float32)
        for k, v in state.items()
        if k.split(".")[0] in ("lstm", "linear")
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez(OUT, **arrays)  # uncompressed: float weights barely compress, loads faster
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    print(f"{OUT} ({OUT.stat().st_size} bytes) from {source} (sha256 {digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
