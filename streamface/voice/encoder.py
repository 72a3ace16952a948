"""The GE2E speaker encoder on ONNX Runtime: Resemblyzer's weights as package data, no torch.

The network is the one Resemblyzer's `VoiceEncoder` defines (Wan et al. 2018, "Generalized
end-to-end loss for speaker verification"): a 3-layer LSTM over 40 mel bands (hidden 256),
a linear layer 256 -> 256 on the last layer's final hidden state, ReLU, L2 normalisation.
The weights are resemblyzer 0.1.4's `pretrained.pt` (Apache-2.0, see
``voice/assets/LICENSE`` and ``NOTICE``), reduced to the LSTM and linear layers and stored
float32, unchanged, as ``voice/assets/ge2e_encoder.npz`` (``scripts/convert_ge2e_weights.py``
made it). They ship inside this package, so a plain ``pip install streamface`` can embed
voices; `resemblyzer` is never imported or needed. Nothing is fetched at run time.

It runs as an ONNX graph on ONNX Runtime, one thread: importing torch for it cost every
command about a second of start-up. Two graphs ship, both written by
``scripts/export_ge2e_onnx.py`` with initializers that point at the arrays inside the
``.npz``: ``ge2e_encoder.onnx`` (float32, the network as it is; the torch definition in
`streamface.voice.encoder_torch` is the reference the tests compare it with) and
``ge2e_encoder_int8.onnx``, which every analysis runs: the second and third LSTM layers
int8 (`QUANTIZED_LAYERS`), half the encoder's time (6.4 vs 12.8 ms for a 5 s buffer on
one core). On 140 buffers of recorded and synthetic speech its embeddings were within a
cosine of 0.9991 of the float32 ones (median 0.9997; one speaker's first second against
their first 5 s: 0.81): no perceived sex changed, and 15 identity codes differed in one bit
(`tests/test_voice_encoder_onnx.py`).

An utterance is embedded like `VoiceEncoder.embed_utterance`: 160-frame (1.6 s) partials
at 1.3 partials per second (about 50 % overlap), the last one kept when at least 75 %
covered, their embeddings averaged and L2-normalised.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

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
ONNX_FILE = "ge2e_encoder.onnx"
ONNX_INT8_FILE = "ge2e_encoder_int8.onnx"
QUANTIZED_LAYERS = (1, 2)
"""The LSTM layers int8 in ``ONNX_INT8_FILE`` (the first one's input, linear mel power, has
a range that one per-tensor activation scale cannot hold)."""
INSTALL_HINT = "reinstall streamface (pip install --force-reinstall streamface)"


def _asset(name: str, what: str) -> Path:
    path = ASSETS / name
    if not path.is_file():
        raise StreamFaceError(f"{what} missing at {path}: {INSTALL_HINT}")
    return path


def weights_path() -> Path:
    """The GE2E weights file that ships inside this package (``voice/assets``).

    Raises:
        StreamFaceError: the file is missing (a broken install).
    """
    return _asset(WEIGHTS_FILE, "speaker-encoder weights")


def graph_path(int8: bool = True) -> Path:
    """The encoder's ONNX graph that ships inside this package (``voice/assets``): the one
    the analyses run (``int8``) or the float32 reference.

    Raises:
        StreamFaceError: the file is missing (a broken install).
    """
    return _asset(ONNX_INT8_FILE if int8 else ONNX_FILE, "speaker-encoder graph")


def read_weights(path: str | Path) -> dict[str, np.ndarray]:
    """The LSTM and linear weights of a ``.npz`` (torch's names and layout), float32.

    Raises:
        StreamFaceError: the file is missing, unreadable or not GE2E weights.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            state = {k: np.asarray(arrays[k], dtype=np.float32) for k in arrays.files}
        _check_shapes(state)
    except Exception as exc:  # noqa: BLE001 - any failure means unusable weights
        raise StreamFaceError(
            f"speaker-encoder weights at {path} are unreadable ({type(exc).__name__}); "
            f"{INSTALL_HINT}"
        ) from exc
    return state


def _check_shapes(state: dict[str, np.ndarray]) -> None:
    for layer in range(LAYERS):
        size = N_MELS if layer == 0 else HIDDEN
        expect = {
            f"lstm.weight_ih_l{layer}": (4 * HIDDEN, size),
            f"lstm.weight_hh_l{layer}": (4 * HIDDEN, HIDDEN),
            f"lstm.bias_ih_l{layer}": (4 * HIDDEN,),
            f"lstm.bias_hh_l{layer}": (4 * HIDDEN,),
        }
        for name, shape in expect.items():
            if state[name].shape != shape:
                raise ValueError(f"{name} has shape {state[name].shape}, expected {shape}")
    if state["linear.weight"].shape != (EMBEDDING_DIM, HIDDEN):
        raise ValueError("linear.weight has the wrong shape")


class SpeakerEncoder:
    """The GE2E network on ONNX Runtime's CPU provider, one thread (thread-safe).

    Args:
        graph: The ONNX graph (default: the shipped one, `graph_path`); its weights are
            read from the ``ge2e_encoder.npz`` beside it.
        int8: With no ``graph``: the int8 graph (default) or the float32 reference.

    Raises:
        StreamFaceError: a file is missing or unusable.
    """

    def __init__(self, graph: str | Path | None = None, *, int8: bool = True) -> None:
        import onnxruntime as ort

        weights_path()  # a missing weights file gets the install hint, not ORT's message
        graph = graph_path(int8) if graph is None else Path(graph)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self._session: Any = ort.InferenceSession(
                str(graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - a corrupt graph or weights: a broken install
            raise StreamFaceError(
                f"speaker encoder at {graph.parent} is unusable ({type(exc).__name__}); {INSTALL_HINT}"
            ) from exc

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        """Embed a batch of partial utterances.

        Args:
            mels: (batch, frames, 40) linear mel power, float32.

        Returns:
            (batch, 256) L2-normalised embeddings, float32 (non-negative after the ReLU).
        """
        batch = np.ascontiguousarray(mels, dtype=np.float32)
        if batch.ndim != 3 or batch.shape[2] != N_MELS or batch.shape[0] == 0:
            raise ValueError(f"mels must be (batch, frames, {N_MELS}), got {batch.shape}")
        out: np.ndarray = self._session.run(None, {"mels": batch})[0]
        return out


_lock = threading.Lock()
_encoders: dict[bool, SpeakerEncoder] = {}


def load_encoder(int8: bool = True) -> SpeakerEncoder:
    """The process-wide encoder (``int8``: the one analyses run; else the float32
    reference), loaded once (thread-safe)."""
    found = _encoders.get(int8)
    if found is not None:
        return found
    with _lock:
        if int8 not in _encoders:
            _encoders[int8] = SpeakerEncoder(int8=int8)
            logger.debug("loaded the GE2E speaker encoder (%s) from %s", "int8" if int8 else "float32", ASSETS)
    return _encoders[int8]


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


def partial_mels(
    wav: np.ndarray,
    *,
    rate: float = PARTIAL_RATE,
    min_coverage: float = MIN_COVERAGE,
    normalize: bool = True,
    level_dbfs: float | None = None,
) -> np.ndarray:
    """The encoder's input for an utterance: (partials, 160, 40) mel power (see `embed_utterance`)."""
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
    return np.stack([mel[s] for s in slices])


def average(partials: np.ndarray) -> np.ndarray:
    """The utterance embedding from its partials' embeddings: mean, L2-normalised, float32."""
    raw = np.asarray(partials).astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(raw))
    if norm <= 0.0 or not np.isfinite(norm):
        return np.zeros(EMBEDDING_DIM, dtype=np.float32)
    return (raw / norm).astype(np.float32)


def embed_utterance(
    wav: np.ndarray,
    *,
    rate: float = PARTIAL_RATE,
    min_coverage: float = MIN_COVERAGE,
    normalize: bool = True,
    level_dbfs: float | None = None,
    int8: bool = True,
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
        int8: run the int8 graph (default, as analyses do) or the float32 reference.
    """
    batch = partial_mels(
        wav, rate=rate, min_coverage=min_coverage, normalize=normalize, level_dbfs=level_dbfs
    )
    return average(load_encoder(int8)(batch))
