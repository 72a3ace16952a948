"""The GE2E speaker encoder as a torch module: the reference for the ONNX graph.

`streamface.voice.encoder` runs the network on ONNX Runtime (no torch at run time); this
module defines the same network in torch, as Resemblyzer's `VoiceEncoder` does, and loads
the shipped weights (or resemblyzer's own ``pretrained.pt``) into it. The tests compare the
two, and ``scripts/export_ge2e_onnx.py`` documents the graph that must match it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from streamface.errors import StreamFaceError
from streamface.voice.encoder import (
    EMBEDDING_DIM,
    HIDDEN,
    INSTALL_HINT,
    LAYERS,
    N_MELS,
    average,
    partial_mels,
    read_weights,
    weights_path,
)


class TorchSpeakerEncoder(nn.Module):
    """GE2E speaker encoder: LSTM(40 -> 256, 3 layers) -> Linear(256) -> ReLU -> L2 norm."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBEDDING_DIM)
        self.relu = nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """Embed a batch of partial utterances.

        Args:
            mels: (batch, frames, 40) linear mel power, float32.

        Returns:
            (batch, 256) L2-normalised embeddings (non-negative after the ReLU).
        """
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)


def load_weights(path: str | Path | None = None) -> TorchSpeakerEncoder:
    """A new torch encoder in eval mode with the GE2E weights from `path`.

    Args:
        path: A ``.npz`` of the LSTM and linear layers (default: the shipped one), or
            resemblyzer's own ``pretrained.pt``.

    Raises:
        StreamFaceError: the file is missing, unreadable or not GE2E weights.
    """
    path = weights_path() if path is None else Path(path)
    if path.suffix == ".npz":
        state = {k: torch.from_numpy(v.copy()) for k, v in read_weights(path).items()}
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
        except Exception as exc:  # noqa: BLE001 - any failure means unusable weights
            raise StreamFaceError(
                f"speaker-encoder weights at {path} are unreadable ({type(exc).__name__}); "
                f"{INSTALL_HINT}"
            ) from exc
    model = TorchSpeakerEncoder()
    # resemblyzer's checkpoint also carries GE2E's similarity scale and bias, unused here.
    wanted = {k: v for k, v in state.items() if k.split(".")[0] in ("lstm", "linear")}
    try:
        model.load_state_dict(wanted, strict=True)
    except Exception as exc:  # noqa: BLE001
        raise StreamFaceError(
            f"speaker-encoder weights at {path} are not GE2E weights ({type(exc).__name__}); "
            f"{INSTALL_HINT}"
        ) from exc
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def embed_utterance_torch(wav: np.ndarray, model: TorchSpeakerEncoder | None = None, **options: object) -> np.ndarray:
    """`encoder.embed_utterance` computed by the torch network (same options)."""
    batch = partial_mels(wav, **options)  # type: ignore[arg-type]
    net = model or load_weights()
    with torch.inference_mode():
        partials = net(torch.from_numpy(batch)).numpy()
    return average(partials)
