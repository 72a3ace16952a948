"""Speaker corpora for the identity code (`benchmarks/identity_code.py`): GE2E embeddings, cached.

Two corpora, each a list of rows ``{"speaker", "split", "group", "clip", "band", "seconds",
"emb", "emb_1s", "emb_2s", "emb_3s"}`` (embeddings of the whole clip's speech and of its
first 1, 2 and 3 seconds, as a session's analyses see them):

* `espeak_corpus`: espeak-ng, 18 voice variants x 8 languages = 144 synthetic speakers,
  two texts each, each clip wideband and through an 8 kHz mu-law phone channel.
* `real_corpus`: the recorded speakers of ``tests/data/real_speakers.json`` (19 files'
  speakers, 17 people: codec2's forig/f2400 and morig/m2400 are one recording each through
  two codecs), from the packages ``tests/data/make_real_voices.sh`` unpacked into
  ``tests/data/real_voices/cache/root``. Asterisk prompt sets give 12 clips of about 6 s
  per speaker (distinct prompts), single recordings clips of 6 s (or halves), each clip
  wideband (its native band) and as an 8 kHz mu-law copy. ``split`` is the manifest's
  (``tune`` may be fitted on, ``heldout`` only measured).

Embeddings are computed once and cached (``--cache``, default /tmp/streamface-identity).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REAL_SPEAKERS = ROOT / "tests" / "data" / "real_speakers.json"
REAL_ROOT = ROOT / "tests" / "data" / "real_voices" / "cache" / "root"
DEFAULT_CACHE = Path("/tmp/streamface-identity")
RATE = 16_000
REAL_CLIPS = 12
SAME_PERSON = {"c2_f2400": "c2_forig", "c2_m2400": "c2_morig"}
"""Manifest speakers that are one recording through another codec: one person."""

TEXTS: dict[str, tuple[str, str]] = {
    "en": (
        "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
        "It is easy to tell the depth of a well.",
        "Rice is often served in round bowls. The juice of lemons makes fine punch. "
        "The box was thrown beside the parked truck.",
    ),
    "de": (
        "Der Hund lief schnell über die grüne Wiese und sprang dann in den kleinen See am Waldrand.",
        "Morgen fahren wir mit dem Zug nach Berlin, um meine Großeltern zu besuchen und Kuchen zu essen.",
    ),
    "fr": (
        "Le petit chat dort tranquillement sur le canapé pendant que la pluie tombe dehors toute la journée.",
        "Nous avons acheté du pain frais et du fromage au marché du village ce matin avant de partir.",
    ),
    "es": (
        "El perro corre por el parque mientras los niños juegan con la pelota bajo el sol de la tarde.",
        "Mañana vamos a visitar a mis abuelos en el campo y comeremos una paella muy rica juntos.",
    ),
    "hi": (
        "मैं हर सुबह अपने दोस्तों के साथ पार्क में टहलने जाता हूँ और फिर हम चाय पीते हैं।",
        "कल हम ट्रेन से दिल्ली जाएंगे और वहाँ अपने परिवार से मिलेंगे और खाना खाएंगे।",
    ),
    "cmn": (
        "我每天早上都和朋友一起去公园散步，然后我们一起喝茶聊天。",
        "明天我们要坐火车去北京看望爷爷奶奶，还要一起吃饺子。",
    ),
    "ru": (
        "Каждое утро я гуляю в парке с собакой, а потом пью горячий чай дома.",
        "Завтра мы поедем на поезде в Москву, чтобы навестить бабушку и дедушку.",
    ),
    "sw": (
        "Kila asubuhi ninatembea katika bustani pamoja na marafiki zangu na kisha tunakunywa chai.",
        "Kesho tutasafiri kwa treni kwenda Nairobi kuwatembelea babu na bibi yetu nyumbani.",
    ),
}
VARIANTS: dict[str, str] = {
    **{f"m{i}": "male" for i in range(1, 8)},
    **{f"f{i}": "female" for i in range(1, 6)},
    "Andy": "male", "Denis": "male", "antonio": "male",
    "Alicia": "female", "steph": "female", "belinda": "female",
}


def embed(speech: np.ndarray) -> np.ndarray:
    """The GE2E embedding as the session's analyzer computes it."""
    from streamface.voice import encoder
    from streamface.voice.analyzer import EMBEDDING_LEVEL_DBFS, EMBEDDING_PARTIAL_RATE

    return encoder.embed_utterance(speech, rate=EMBEDDING_PARTIAL_RATE, level_dbfs=EMBEDDING_LEVEL_DBFS)


def speech_of(x: np.ndarray) -> np.ndarray:
    """The speech of 16 kHz audio, as the session's VAD keeps it."""
    from streamface.audio.vad import extract_speech

    return extract_speech(np.asarray(x, np.float32))


def _embeddings(speech: np.ndarray) -> dict[str, list[float]]:
    out = {"emb": embed(speech)}
    for s in (1, 2, 3):
        out[f"emb_{s}s"] = embed(speech[: s * RATE])
    return {k: [round(float(v), 6) for v in e] for k, e in out.items()}


def _telephone(x: np.ndarray) -> np.ndarray:
    from streamface.audio.mulaw import decode_mulaw, encode_mulaw
    from streamface.audio.resample import resample_array

    x8 = resample_array(x, RATE, 8000)
    pcm = np.clip(np.round(x8 * 32768.0), -32768, 32767).astype(np.int16)
    mu = decode_mulaw(encode_mulaw(pcm)).astype(np.float32) / 32768.0
    return resample_array(mu, 8000, RATE)


def _cached(cache: Path, name: str, build: object) -> list[dict]:
    """The rows cached under ``name``, built once per speaker-encoder graph (the name carries
    a digest of the graph the analyses run, so a changed encoder never reads old embeddings)."""
    import hashlib

    from streamface.voice.encoder import graph_path

    digest = hashlib.sha256(graph_path().read_bytes()).hexdigest()[:10]
    path = cache / f"{Path(name).stem}-{digest}{Path(name).suffix}"
    if path.exists():
        rows: list[dict] = json.loads(path.read_text())
        return rows
    cache.mkdir(parents=True, exist_ok=True)
    rows = build()  # type: ignore[operator]
    path.write_text(json.dumps(rows))
    return rows


def espeak_corpus(cache: Path = DEFAULT_CACHE) -> list[dict]:
    """Embeddings of every (variant, language, text, band) espeak clip (cached)."""

    def build() -> list[dict]:
        from streamface.audio.decode import decode_file

        rows = []
        work = cache / "espeak"
        work.mkdir(parents=True, exist_ok=True)
        for lang, texts in TEXTS.items():
            for variant, sex in VARIANTS.items():
                for clip, text in enumerate(texts):
                    wav = work / f"{lang}_{variant}_{clip}.wav"
                    subprocess.run(
                        ["espeak-ng", "-v", f"{lang}+{variant}", "-s", "160", "-w", str(wav), text],
                        check=True, capture_output=True,
                    )
                    x = decode_file(wav)
                    for band, audio in (("16k", x), ("8k-mulaw", _telephone(x))):
                        speech = speech_of(audio)
                        rows.append({
                            "speaker": f"{lang}+{variant}", "group": variant, "lang": lang, "sex": sex,
                            "split": "synthetic", "clip": clip, "band": band,
                            "seconds": round(speech.size / RATE, 2), **_embeddings(speech),
                        })
            print(f"espeak corpus: {lang} done ({len(rows)} clips)", file=sys.stderr, flush=True)
        return rows

    return _cached(cache, "espeak.json", build)


def _real_clips(spk: dict, root: Path) -> list[tuple[str, np.ndarray]]:
    """(language, 16 kHz clip) of one manifest speaker: distinct prompts or recording parts."""
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    import build_real_voices as brv

    files_by_lang: list[tuple[str, list[Path]]] = []
    langs, patterns = spk["languages"], spk["files"]
    if len(langs) == len(patterns):
        files_by_lang = [(lang, brv._load(root, pat)) for pat, lang in zip(patterns, langs, strict=True)]
    else:
        files_by_lang = [(langs[0], [f for pat in patterns for f in brv._load(root, pat)])]
    out: list[tuple[str, np.ndarray]] = []
    per_lang = REAL_CLIPS // len(files_by_lang)
    for lang, files in files_by_lang:
        stems = {f.stem for f in files}
        # codec2's hts1a is a part of hts1: keep the longer recording only.
        files = [f for f in files if not (f.stem.endswith("a") and f.stem[:-1] in stems)]
        if len(files) > 3:  # a prompt set
            random.Random(f"identity:{spk['id']}:{lang}").shuffle(files)
            prompts = []
            for f in files:
                p = brv.trim(brv.decode(f))
                if p.size >= 0.3 * RATE:
                    prompts.append(p)
                if sum(q.size for q in prompts) > 7 * RATE * per_lang:
                    break
            clips = brv.clips_of(prompts, per_lang)
        else:  # one or two recordings: consecutive 6 s parts, or halves of a short one
            x = np.concatenate([brv.trim(brv.decode(f)) for f in files])
            n = min(per_lang, int(x.size // (6 * RATE)))
            if n >= 2:
                clips = [x[i * 6 * RATE: (i + 1) * 6 * RATE] for i in range(n)]
            elif x.size >= 4 * RATE:
                clips = [x[: x.size // 2], x[x.size // 2:]]
            else:
                clips = [x]
        out += [(lang, brv._norm(c)) for c in clips]
    return out


def real_corpus(cache: Path = DEFAULT_CACHE, root: Path = REAL_ROOT) -> list[dict]:
    """Embeddings of the recorded speakers' clips, wideband and phone (cached)."""

    def build() -> list[dict]:
        if not root.is_dir():
            raise SystemExit(f"{root} is missing: run tests/data/make_real_voices.sh first")
        table = json.loads(REAL_SPEAKERS.read_text())
        rows = []
        for spk in table["speakers"]:
            person = SAME_PERSON.get(spk["id"], spk["id"])
            for clip, (lang, x) in enumerate(_real_clips(spk, root)):
                for band, audio in (("16k", x), ("8k-mulaw", _telephone(x))):
                    speech = speech_of(audio)
                    if speech.size < RATE:
                        continue
                    rows.append({
                        "speaker": person, "group": person, "file_speaker": spk["id"], "lang": lang,
                        "sex": spk["sex"], "split": spk["split"], "clip": f"{spk['id']}:{clip}", "band": band,
                        "seconds": round(speech.size / RATE, 2), **_embeddings(speech),
                    })
            print(f"real corpus: {spk['id']} done ({len(rows)} clips)", file=sys.stderr, flush=True)
        return rows

    return _cached(cache, "real.json", build)


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    r = real_corpus()
    print(len(r), "real clips")
    e = espeak_corpus()
    print(len(e), "espeak clips")
