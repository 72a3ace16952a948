"""The GE2E encoder on ONNX Runtime equals the torch network, and needs no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamface.audio.decode import decode_file
from streamface.errors import StreamFaceError
from streamface.voice import encoder, encoder_torch
from streamface.voice.analyzer import EMBEDDING_LEVEL_DBFS, EMBEDDING_PARTIAL_RATE

ROOT = Path(__file__).resolve().parents[1]
VOICES = ROOT / "tests" / "data" / "voices"
SHARED = ROOT.parent / "shared" / "voices"


def _voices() -> list[Path]:
    found = sorted(VOICES.glob("flite_*.flac"))[:3] + sorted(VOICES.glob("espeak_*.flac"))[:3]
    return found + sorted(SHARED.glob("*.wav"))[:2]


@pytest.mark.parametrize("path", _voices(), ids=lambda p: p.stem)
def test_onnx_embedding_equals_torch(path: Path) -> None:
    x = decode_file(path)
    model = encoder_torch.load_weights()
    for options in ({}, {"rate": EMBEDDING_PARTIAL_RATE, "level_dbfs": EMBEDDING_LEVEL_DBFS}):
        ours = encoder.embed_utterance(x, **options)  # type: ignore[arg-type]
        ref = encoder_torch.embed_utterance_torch(x, model, **options)
        assert ours.dtype == np.float32 and ours.shape == (256,)
        assert np.max(np.abs(ours - ref)) < 2e-6, options
        assert float(ours @ ref) > 0.999999


def test_onnx_partials_equal_torch_on_any_batch_and_length() -> None:
    import torch

    rng = np.random.default_rng(3)
    model = encoder_torch.load_weights()
    for batch, frames in ((1, 160), (4, 160), (2, 37)):
        mels = (rng.gamma(0.5, 2.0, (batch, frames, 40)) * 1e-3).astype(np.float32)
        ours = encoder.load_encoder()(mels)
        with torch.inference_mode():
            ref = model(torch.from_numpy(mels)).numpy()
        assert ours.shape == (batch, 256)
        np.testing.assert_allclose(ours, ref, atol=2e-6)


def test_bad_batches_are_refused() -> None:
    with pytest.raises(ValueError):
        encoder.load_encoder()(np.zeros((0, 160, 40), np.float32))
    with pytest.raises(ValueError):
        encoder.load_encoder()(np.zeros((1, 160, 39), np.float32))


def test_missing_graph_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(encoder, "ASSETS", tmp_path)
    with pytest.raises(StreamFaceError, match="reinstall streamface"):
        encoder.graph_path()


def test_corrupt_weights_give_the_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / encoder.ONNX_FILE).write_bytes(encoder.graph_path().read_bytes())
    (tmp_path / encoder.WEIGHTS_FILE).write_bytes(b"truncated")
    monkeypatch.setattr(encoder, "ASSETS", tmp_path)
    with pytest.raises(StreamFaceError, match="reinstall streamface"):
        encoder.SpeakerEncoder()


def test_shipped_graph_is_what_the_script_writes() -> None:
    pytest.importorskip("onnx")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "export_ge2e_onnx.py"), "--check"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_voice_analysis_imports_no_torch() -> None:
    code = (
        "import sys, numpy as np\n"
        "from streamface.audio.decode import decode_file\n"
        "from streamface.voice.analyzer import default_analyzer\n"
        f"x = decode_file({str(VOICES / 'flite_slt.flac')!r})\n"
        "p = default_analyzer().analyze(x[:48000])\n"
        "assert p.embedding.shape == (256,)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
