"""The GE2E speaker encoder: our own network definition, resemblyzer's weights as package data.

The network is the one Resemblyzer's `VoiceEncoder` defines (Wan et al. 2018, "Generalized
end-to-end loss for speaker verification"): a 3-layer LSTM over 40 mel bands (hidden 256),
a linear layer 256 -> 256 on the last layer's final hidden state, ReLU, L2 normalisation.
The weights are resemblyzer 0.1.4's `pretrained.pt` (Apache-2.0, see
``voice/assets/LICENSE`` and ``NOTICE``), reduced to the LSTM and linear layers and stored
float32, unchanged, as ``voice/assets/ge2e_encoder.npz`` (``scripts/convert_ge2e_weights.py``
made it). They ship inside this package, so a plain ``pip install streamface`` can embed
voices; `resemblyzer` is never imported or needed. Nothing is fetched at run time.

An utterance is embedded like `VoiceEncoder.embed_utterance`: 160-frame (1.6 s) partials
at 1.3 partials per second (about 50 % overlap), the last one kept when at least 75 %
covered, their embeddings averaged and L2-normalised.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn

from streamface.errors import StreamFaceError
from streamface.voice.mel import (
    HOP,
    N_MELS,
    SAMPLE_RATE,
    mel_spectrogram,
    normalize_volume,
    set_level,
)

logger = logging.getLogger(__name__)

HIDDEN = 256
EMBEDDING_DIM = 256
LAYERS = 3
PARTIAL_FRAMES = 160  # 1.6 s
PARTIAL_RATE = 1.3  # partials per second (resemblyzer's default)
MIN_COVERAGE = 0.75
ASSETS = Path(__file__).resolve().parent / "assets"
WEIGHTS_FILE = "ge2e_encoder.npz"
INSTALL_HINT = "reinstall streamface (pip install --force-reinstall streamface)"


class SpeakerEncoder(nn.Module):
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


def weights_path() -> Path:
    """The GE2E weights file that ships inside this package (``voice/assets``).

    Raises:
        StreamFaceError: the file is missing (a broken install).
    """
    path = ASSETS / WEIGHTS_FILE
    if not path.is_file():
        raise StreamFaceError(f"speaker-encoder weights missing at {path}: {INSTALL_HINT}")
    return path


def load_weights(path: str | Path) -> SpeakerEncoder:
    """A new encoder in eval mode with the GE2E weights from `path`.

    Args:
        path: A ``.npz`` of the LSTM and linear layers (as shipped, see
            ``scripts/convert_ge2e_weights.py``), or resemblyzer's own ``pretrained.pt``.

    Raises:
        StreamFaceError: the file is missing, unreadable or not GE2E weights.
    """
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                state = {k: torch.from_numpy(arrays[k].copy()) for k in arrays.files}
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
        model = SpeakerEncoder()
        # resemblyzer's checkpoint also carries GE2E's similarity scale and bias, unused here.
        wanted = {k: v for k, v in state.items() if k.split(".")[0] in ("lstm", "linear")}
        model.load_state_dict(wanted, strict=True)
    except Exception as exc:  # noqa: BLE001 - any failure means unusable weights
        raise StreamFaceError(
            f"speaker-encoder weights at {path} are unreadable ({type(exc).__name__}); "
            f"{INSTALL_HINT}"
        ) from exc
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


_lock = threading.Lock()
_encoder: SpeakerEncoder | None = None


def load_encoder() -> SpeakerEncoder:
    """The process-wide encoder, loaded once (thread-safe), in eval mode on the CPU."""
    global _encoder
    if _encoder is not None:
        return _encoder
    with _lock:
        if _encoder is None:
            path = weights_path()
            _encoder = load_weights(path)
            logger.debug("loaded GE2E speaker encoder from %s", path)
    return _encoder


def partial_slices(
    n_samples: int,
    rate: float = PARTIAL_RATE,
    min_coverage: float = MIN_COVERAGE,
    partial_frames: int = PARTIAL_FRAMES,
) -> list[slice]:
    """Mel-frame slices of the partial utterances (resemblyzer's `compute_partial_slices`).

    Slices may reach past the end of the signal; the caller zero-pads the waveform to
    ``slices[-1].stop * HOP`` samples first.
    """
    frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / rate) / HOP))
    if not 0 < step <= partial_frames:
        raise ValueError(f"partial rate {rate} out of range")
    steps = max(1, frames - partial_frames + step + 1)
    slices = [slice(i, i + partial_frames) for i in range(0, steps, step)]
    last = slices[-1]
    coverage = (n_samples - last.start * HOP) / ((last.stop - last.start) * HOP)
    if coverage < min_coverage and len(slices) > 1:
        slices = slices[:-1]
    return slices


def embed_utterance(
    wav: np.ndarray,
    *,
    rate: float = PARTIAL_RATE,
    min_coverage: float = MIN_COVERAGE,
    normalize: bool = True,
    level_dbfs: float | None = None,
) -> np.ndarray:
    """The 256-d L2-normalised embedding of one speaker's speech (float32).

    Args:
        wav: 16 kHz mono float32 speech (silence already removed, as in the speech buffer).
        rate: partials per second (0.625 .. 10); fewer partials are faster.
        min_coverage: keep a last, zero-padded partial when at least this much is audio.
        normalize: raise quiet audio to -30 dBFS first, as resemblyzer's preprocessing does.
        level_dbfs: instead, scale the audio to exactly this RMS level (up or down), which
            makes the embedding independent of the input gain (the encoder sees linear mel
            power, so a 26 dB level change alone moves resemblyzer's embedding to a cosine
            of ~0.9).
    """
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1 or wav.size == 0:
        raise ValueError("embed_utterance needs a non-empty 1-D signal")
    if level_dbfs is not None:
        wav = set_level(wav, level_dbfs)
    elif normalize:
        wav = normalize_volume(wav)
    slices = partial_slices(wav.size, rate, min_coverage)
    needed = slices[-1].stop * HOP
    if needed >= wav.size:
        wav = np.pad(wav, (0, needed - wav.size))
    mel = mel_spectrogram(wav)
    batch = np.stack([mel[s] for s in slices])
    model = load_encoder()
    with torch.inference_mode():
        partial = model(torch.from_numpy(batch)).numpy()
    raw = partial.astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(raw))
    if norm <= 0.0 or not np.isfinite(norm):
        return np.zeros(EMBEDDING_DIM, dtype=np.float32)
    return (raw / norm).astype(np.float32)
