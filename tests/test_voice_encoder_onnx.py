"""The GE2E encoder on ONNX Runtime equals the torch network (float32 graph), its int8 graph
stays within a cosine of 0.999 of it, and neither needs torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamface.audio.decode import decode_file
from streamface.errors import StreamFaceError
from streamface.voice import encoder, encoder_torch
from streamface.voice.analyzer import (
    EMBEDDING_LEVEL_DBFS,
    EMBEDDING_PARTIAL_RATE,
    VoiceAnalyzer,
    speech_of_file,
)

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
        ours = encoder.embed_utterance(x, int8=False, **options)  # type: ignore[arg-type]
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
        ours = encoder.load_encoder(int8=False)(mels)
        with torch.inference_mode():
            ref = model(torch.from_numpy(mels)).numpy()
        assert ours.shape == (batch, 256)
        np.testing.assert_allclose(ours, ref, atol=2e-6)


@pytest.mark.parametrize("path", _voices()[::2], ids=lambda p: p.stem)
def test_the_int8_graph_embeds_within_a_cosine_of_0999_and_keeps_perceived_sex(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    speech = speech_of_file(path)
    analyzer = VoiceAnalyzer()
    for seconds in (1.08, 5.0):
        x = speech[: int(seconds * 16000)]
        options = {"rate": EMBEDDING_PARTIAL_RATE, "level_dbfs": EMBEDDING_LEVEL_DBFS}
        ours = encoder.embed_utterance(x, **options)  # type: ignore[arg-type]
        ref = encoder.embed_utterance(x, int8=False, **options)  # type: ignore[arg-type]
        assert 0.999 < float(ours @ ref) < 1.0 - 1e-6, seconds  # close, and really the int8 graph
        sex = analyzer.analyze(x).perceived_sex.label
        with monkeypatch.context() as m:
            m.setitem(encoder._encoders, True, encoder.load_encoder(int8=False))
            assert analyzer.analyze(x).perceived_sex.label == sex, seconds


def test_the_int8_graph_quantises_the_second_and_third_layers_only() -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(encoder.graph_path(int8=True)), load_external_data=False)
    ops = [node.op_type for node in model.graph.node if node.op_type.endswith("LSTM")]
    assert ops == ["LSTM", "DynamicQuantizeLSTM", "DynamicQuantizeLSTM"]
    assert encoder.QUANTIZED_LAYERS == (1, 2)


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
    for int8 in (True, False):
        (tmp_path / encoder.graph_path(int8).name).write_bytes(encoder.graph_path(int8).read_bytes())
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
