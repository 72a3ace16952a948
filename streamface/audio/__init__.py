"""Audio layer: decode files, resample live chunks, detect speech, keep a speech buffer.

Everything downstream works on 16 kHz mono float32 (full scale 1.0):

* `decode_file` / `iter_decode`: files (wav, flac, mp3, ogg/opus, m4a) via PyAV.
* `AudioIngest`: live int16/float32 chunks at 8-48 kHz, mono or stereo, through a
  stateful resampler and voice activity detection into a `SpeechBuffer` that keeps the
  most recent N seconds of speech only.
* `decode_mulaw` / `encode_mulaw` / `telephone_band`: G.711 mu-law telephone audio.
"""

from streamface.audio.decode import decode_file, iter_decode
from streamface.audio.ingest import AudioIngest, IngestResult, IngestStats
from streamface.audio.mulaw import decode_mulaw, encode_mulaw, telephone_band
from streamface.audio.resample import (
    SUPPORTED_RATES,
    TARGET_RATE,
    BadChunkError,
    StreamResampler,
    prepare_chunk,
    resample_array,
)
from streamface.audio.speech_buffer import SpeechBuffer
from streamface.audio.vad import (
    FRAME_SAMPLES,
    VadConfig,
    VoiceActivityDetector,
    extract_speech,
    speech_mask,
)

__all__ = [
    "FRAME_SAMPLES",
    "SUPPORTED_RATES",
    "TARGET_RATE",
    "AudioIngest",
    "BadChunkError",
    "IngestResult",
    "IngestStats",
    "SpeechBuffer",
    "StreamResampler",
    "VadConfig",
    "VoiceActivityDetector",
    "decode_file",
    "decode_mulaw",
    "encode_mulaw",
    "extract_speech",
    "iter_decode",
    "prepare_chunk",
    "resample_array",
    "speech_mask",
    "telephone_band",
]
