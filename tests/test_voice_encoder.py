"""GE2E speaker encoder: our network + resemblyzer's weights, mel features, determinism.

The encoder runs on ONNX Runtime (`voice.encoder`); the torch definition of the same
network (`voice.encoder_torch`) is the reference it must equal.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from streamface.audio.decode import decode_file
from streamface.errors import StreamFaceError
from streamface.voice import encoder, encoder_torch, mel

VOICES = Path(__file__).resolve().parent / "data" / "voices"
REFERENCE = json.loads((VOICES / "resemblyzer_reference.json").read_text())


def test_weights_ship_inside_the_package_with_their_licence() -> None:
    path = encoder.weights_path()
    assert path.name == "ge2e_encoder.npz"
    assert path.parent == Path(encoder.__file__).resolve().parent / "assets"
    licence = (path.parent / "LICENSE").read_text()
    assert "Apache License" in licence and "Resemble.AI" in licence
    assert "ge2e_encoder.npz" in (path.parent / "NOTICE").read_text()


def test_missing_weights_give_the_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(encoder, "ASSETS", tmp_path)
    with pytest.raises(StreamFaceError, match="reinstall streamface"):
        encoder.weights_path()


@pytest.mark.parametrize("name", ["pretrained.pt", "ge2e_encoder.npz"])
def test_unreadable_weights_give_the_install_hint(tmp_path: Path, name: str) -> None:
    bad = tmp_path / name
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(StreamFaceError, match="reinstall streamface"):
        encoder_torch.load_weights(bad)


def test_shipped_weights_equal_resemblyzers_checkpoint() -> None:
    """The .npz holds resemblyzer's values unchanged (checked where resemblyzer is installed)."""
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("resemblyzer is not installed (only needed to check the conversion)")
    source = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    original = encoder_torch.load_weights(source).state_dict()
    shipped = encoder_torch.load_weights().state_dict()
    assert original.keys() == shipped.keys()
    for key, value in original.items():
        assert torch.equal(value, shipped[key]), key


def test_network_shape_matches_resemblyzer() -> None:
    assert encoder.load_encoder() is encoder.load_encoder()  # cached once per process
    model = encoder_torch.load_weights()
    assert model.lstm.input_size == 40
    assert model.lstm.hidden_size == 256
    assert model.lstm.num_layers == 3
    assert tuple(model.linear.weight.shape) == (256, 256)
    assert not model.training


def test_slaney_filterbank_matches_librosa() -> None:
    fb = mel.mel_filterbank()
    assert fb.shape == (40, 201)
    np.testing.assert_allclose(fb.sum(axis=1), REFERENCE["filterbank_row_sums"], rtol=1e-6)
    assert fb.argmax(axis=1).tolist() == REFERENCE["filterbank_argmax"]


def test_mel_spectrogram_matches_librosa() -> None:
    x = mel.normalize_volume(decode_file(VOICES / REFERENCE["file"]))
    m = mel.mel_spectrogram(x[:16000])
    assert m.shape == (101, 40)
    assert m.dtype == np.float32
    np.testing.assert_allclose(m.sum(axis=1), REFERENCE["mel_frame_sums"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m.mean(axis=0), REFERENCE["mel_band_means"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("frames", [1, 30, 64, 65, 94, 101, 501, 777])
def test_mel_filter_in_row_blocks_is_the_one_product(frames: int) -> None:
    # Blocks of rows keep OpenBLAS on one thread (its spinning helper thread cost more CPU
    # than the analysis); every row must still get the full product's value.
    power = np.random.default_rng(frames).random((frames, 201)) ** 4
    bank_t = mel.mel_filterbank().T
    got = mel._filter(power, bank_t)
    assert got.shape == (frames, bank_t.shape[1])
    np.testing.assert_allclose(got, power @ bank_t, rtol=1e-12, atol=0.0)


def test_embedding_matches_resemblyzer() -> None:
    x = decode_file(VOICES / REFERENCE["file"])
    assert x.size == REFERENCE["samples"]
    e = encoder.embed_utterance(x)  # resemblyzer's defaults: rate 1.3, coverage 0.75
    ref = np.asarray(REFERENCE["embedding"], dtype=np.float64)
    assert float(e @ ref) > 0.9995
    assert np.max(np.abs(e - ref)) < 0.01


def test_embedding_is_deterministic_and_normalised() -> None:
    x = decode_file(VOICES / "flite_slt.flac")
    a = encoder.embed_utterance(x)
    b = encoder.embed_utterance(x.copy())
    assert a.dtype == np.float32 and a.shape == (256,)
    assert a.tobytes() == b.tobytes()
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert np.all(a >= 0.0)  # ReLU before the normalisation


def test_torch_reference_does_not_depend_on_thread_count() -> None:
    x = decode_file(VOICES / "flite_rms.flac")
    model = encoder_torch.load_weights()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = encoder_torch.embed_utterance_torch(x, model)
        torch.set_num_threads(2)
        b = encoder_torch.embed_utterance_torch(x, model)
    finally:
        torch.set_num_threads(before)
    assert float(a @ b) > 0.99999


def test_partial_slices_follow_resemblyzer() -> None:
    # 5 s at 1.3 partials/s: 160-frame partials every 77 frames, last one dropped (< 75 %).
    slices = encoder.partial_slices(80_000)
    assert [(s.start, s.stop) for s in slices] == [
        (0, 160),
        (77, 237),
        (154, 314),
        (231, 391),
        (308, 468),
    ]
    # Short input still gives one (zero-padded) partial.
    assert encoder.partial_slices(8_000) == [slice(0, 160)]
    # Back-to-back partials for the fast setting.
    assert [s.start for s in encoder.partial_slices(80_000, rate=0.625)] == [0, 160, 320]


def test_same_speaker_closer_than_different_speakers() -> None:
    def emb(name: str) -> np.ndarray:
        return encoder.embed_utterance(decode_file(VOICES / name))

    slt, slt_b = emb("flite_slt.flac"), emb("flite_slt_b.flac")
    rms, rms_b = emb("flite_rms.flac"), emb("flite_rms_b.flac")
    kal = emb("flite_kal16.flac")
    same = min(float(slt @ slt_b), float(rms @ rms_b))
    different = max(float(slt @ rms), float(slt @ kal), float(rms_b @ slt_b), float(kal @ slt_b))
    assert same > 0.85
    assert same > different + 0.1


def test_quiet_audio_is_raised_like_resemblyzer() -> None:
    x = decode_file(VOICES / "flite_awb.flac")
    x = x * (10 ** (-30 / 20) / np.sqrt(np.mean(x.astype(np.float64) ** 2)))  # at -30 dBFS
    at_target = encoder.embed_utterance(x.astype(np.float32))
    quiet = encoder.embed_utterance((x * 0.01).astype(np.float32))  # -70 dBFS, raised to -30
    assert float(at_target @ quiet) > 0.9999


def test_fixed_level_makes_the_embedding_gain_independent() -> None:
    x = decode_file(VOICES / "flite_awb.flac")
    loud = encoder.embed_utterance(x, level_dbfs=-20.0)
    quiet = encoder.embed_utterance(x * 0.02, level_dbfs=-20.0)
    assert float(loud @ quiet) > 0.9999


def test_embed_rejects_empty_input() -> None:
    with pytest.raises(ValueError):
        encoder.embed_utterance(np.zeros(0, dtype=np.float32))
