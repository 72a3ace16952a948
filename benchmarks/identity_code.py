"""Fit and measure the identity code (`streamface.face.identity`).

    python -m benchmarks.identity_code            # measure the shipped basis
    python -m benchmarks.identity_code --fit      # refit it (writes identity_basis.json)

The corpus is made here from Debian's espeak-ng: 18 voice variants x 8 languages (en, de,
fr, es, hi, cmn, ru, sw) = 144 speakers, each reading two different texts, each clip
also sent through a telephone channel (8 kHz mu-law). A speaker is a (variant, language)
pair; two clips of one speaker differ in text and/or channel. Different speakers are
pairs of different variants (one variant in two languages is nearly one voice).

The basis is a regularised linear discriminant analysis (between-speaker over
within-speaker scatter) of GE2E embeddings; the code is the sign of the first
`CODE_BITS` discriminants against their medians. Measured:

* held out by language (fit on 4 languages, measure on the other 4, both ways): the
  share of same-speaker clip pairs with one code (full clips, and the first second of
  speech of each clip, which is what a session's first face sees), and the share of
  different-speaker pairs with one code (collisions), for 3-8 bits;
* on other recordings (flite voices no fit saw, the shared voices, the widened test
  voices): halves of one recording against halves of the others.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
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
REG = 0.3  # within-speaker scatter regularisation (fraction of its mean eigenvalue; 0.1-0.3 measured best held out)
KEEP = 12  # discriminants stored in the basis (the code uses the first CODE_BITS)


def _embed(speech: np.ndarray) -> np.ndarray:
    from streamface.voice import encoder
    from streamface.voice.analyzer import EMBEDDING_LEVEL_DBFS, EMBEDDING_PARTIAL_RATE

    return encoder.embed_utterance(speech, rate=EMBEDDING_PARTIAL_RATE, level_dbfs=EMBEDDING_LEVEL_DBFS)


def _speech(path: Path) -> np.ndarray:
    from streamface.audio.decode import decode_file
    from streamface.audio.vad import extract_speech

    return extract_speech(decode_file(path))


def _telephone(src: Path, dst: Path) -> None:
    mid = dst.with_suffix(".ulaw.wav")
    subprocess.run(["sox", "-D", str(src), "-r", "8000", "-e", "mu-law", str(mid)], check=True)
    subprocess.run(["sox", "-D", str(mid), "-r", "16000", "-e", "signed", "-b", "16", str(dst)], check=True)


def espeak_corpus(work: Path) -> list[dict]:
    """Embeddings of every (variant, language, text, channel) clip: full and first second."""
    rows = []
    for lang, texts in TEXTS.items():
        for variant, sex in VARIANTS.items():
            for clip, text in enumerate(texts):
                wide = work / f"{lang}_{variant}_{clip}.wav"
                subprocess.run(
                    ["espeak-ng", "-v", f"{lang}+{variant}", "-s", "160", "-w", str(wide), text],
                    check=True, capture_output=True,
                )
                tel = work / f"{lang}_{variant}_{clip}_tel.wav"
                _telephone(wide, tel)
                for channel, path in (("wide", wide), ("tel", tel)):
                    speech = _speech(path)
                    rows.append({
                        "speaker": f"{lang}+{variant}", "lang": lang, "variant": variant, "sex": sex,
                        "clip": clip, "channel": channel,
                        "emb": _embed(speech), "emb_1s": _embed(speech[:16_000]),
                    })
        print(f"corpus: {lang} done ({len(rows)} clips)", file=sys.stderr, flush=True)
    return rows


def fit_basis(rows: list[dict]) -> dict:
    """Regularised LDA of the rows' embeddings (speaker = row["speaker"])."""
    import scipy.linalg

    x = np.array([r["emb"] for r in rows], np.float64)
    spk = np.array([r["speaker"] for r in rows])
    centre = x.mean(axis=0)
    means = {k: x[spk == k].mean(axis=0) for k in sorted(set(spk))}
    within = sum(np.outer(v - means[k], v - means[k]) for v, k in zip(x, spk, strict=True)) / len(x)
    between = np.cov((np.array(list(means.values())) - centre).T)
    reg = REG * np.trace(within) / within.shape[0]
    _, vecs = scipy.linalg.eigh(between, within + reg * np.eye(within.shape[0]))
    axes = vecs[:, ::-1][:, :KEEP]
    axes = axes / np.linalg.norm(axes, axis=0, keepdims=True)
    thresholds = np.median((x - centre) @ axes, axis=0)
    return {"centre": centre, "axes": axes.T, "thresholds": thresholds}


def _codes(embs: np.ndarray, basis: dict, bits: int) -> list[int]:
    from streamface.face.identity import code_bits

    return [code_bits(e, basis["centre"], basis["axes"][:bits], basis["thresholds"][:bits]) for e in embs]


def held_out(rows: list[dict], bits_range: range) -> list[dict]:
    """Fit on half the languages, measure on the other half (both ways)."""
    langs = list(TEXTS)
    out = []
    for fit_langs in (langs[0::2], langs[1::2]):
        basis = fit_basis([r for r in rows if r["lang"] in fit_langs])
        test = [r for r in rows if r["lang"] not in fit_langs]
        for bits in bits_range:
            full = _codes(np.array([r["emb"] for r in test]), basis, bits)
            first = _codes(np.array([r["emb_1s"] for r in test]), basis, bits)
            same, same_channel, same_1s, diff = [], [], [], []
            for i, j in itertools.combinations(range(len(test)), 2):
                a, b = test[i], test[j]
                if a["speaker"] == b["speaker"]:
                    same.append(full[i] == full[j])
                    if a["channel"] == b["channel"]:
                        same_channel.append(full[i] == full[j])
                        same_1s.append(first[i] == first[j])
                elif a["variant"] != b["variant"]:
                    diff.append(full[i] == full[j])
            out.append({
                "fit_languages": fit_langs, "bits": bits,
                "same_speaker_agreement": round(float(np.mean(same)), 3),
                "same_speaker_same_channel_agreement": round(float(np.mean(same_channel)), 3),
                "same_speaker_first_second_agreement": round(float(np.mean(same_1s)), 3),
                "different_speaker_collision": round(float(np.mean(diff)), 4),
                "pairs_same": len(same), "pairs_different": len(diff),
            })
    return out


def unseen_voices() -> dict:
    """Shipped basis on voices no fit saw: recording halves and repeated flite speakers."""
    from streamface.face.identity import identity_code

    clips: list[tuple[str, np.ndarray]] = []
    shared = Path("/work/shared/voices")
    sources = sorted((ROOT / "tests" / "data" / "voices").glob("*.flac"))
    if shared.is_dir():
        sources += sorted(shared.glob("*.wav"))
    for path in sources:
        speech = _speech(path)
        name = path.stem.removesuffix("_2").removesuffix("_b")
        half = speech.size // 2
        clips.append((name, _embed(speech[:half])))
        clips.append((name, _embed(speech[half:])))
    codes = [identity_code(e) for _, e in clips]
    same = [codes[i] == codes[i + 1] for i in range(0, len(codes), 2)]
    diff = [
        codes[i] == codes[j]
        for i, j in itertools.combinations(range(len(codes)), 2)
        if clips[i][0] != clips[j][0]
    ]
    return {
        "recordings": len(sources),
        "halves_agreement": round(float(np.mean(same)), 3),
        "different_voice_collision": round(float(np.mean(diff)), 4),
        "distinct_codes": len(set(codes)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit and write the shipped basis")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from streamface.face import identity

    with tempfile.TemporaryDirectory() as tmp:
        rows = espeak_corpus(Path(tmp))
    if args.fit:
        basis = fit_basis(rows)
        identity.save_basis(basis["centre"], basis["axes"], basis["thresholds"])
        identity.load_basis.cache_clear()
        print(f"wrote {identity.BASIS_PATH}", file=sys.stderr)
    result = {
        "about": "identity code: same-speaker agreement and different-speaker collisions",
        "code_bits": identity.CODE_BITS,
        "held_out_by_language": held_out(rows, range(3, 9)),
        "unseen_voices": unseen_voices(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "identity_code.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
