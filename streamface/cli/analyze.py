"""`streamface analyze AUDIO`: the voice profile of an audio file.

Prints perceived traits (what listeners would likely hear in the voice), never an
identity. With ``--json`` prints one JSON object (`VoiceProfile.to_json`). Unreadable
input or input without speech exits with status 2 and a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Declare the `analyze` subcommand."""
    parser = subparsers.add_parser(
        "analyze",
        help="print the voice profile of an audio file (perceived traits, not identity)",
        description=(
            "Decode an audio file (wav, flac, mp3, ogg/opus, m4a), keep its speech (voice "
            "activity detection) and profile the last --buffer-seconds of it: pitch, "
            "formants, vocal-tract length, loudness, perceived sex and age band with a "
            "confidence, and a speaker embedding. These are perceived traits of the voice, "
            "not facts about or the identity of the speaker. Exit status 2 when the file "
            "cannot be read or holds less than 1 s of speech."
        ),
    )
    parser.add_argument("audio", metavar="AUDIO", help="the audio file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--buffer-seconds",
        type=_positive_float,
        default=5.0,
        metavar="S",
        help="seconds of speech to profile, the most recent ones (default: 5)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value <= 600.0:
        raise argparse.ArgumentTypeError("must be > 0 and at most 600")
    return value


def run(args: argparse.Namespace) -> int:
    """Profile one file and print it."""
    from streamface.offline import one_core
    from streamface.voice.analyzer import default_analyzer, last_speech

    speech = last_speech(args.audio, buffer_seconds=args.buffer_seconds)  # fails fast
    one_core()  # the profile is measured and budgeted on one core (OpenBLAS; no torch needed)
    profile = default_analyzer().analyze(speech)
    if args.json:
        print(json.dumps(profile.to_json()))
        return 0
    print(summary(profile.to_json(include_embedding=False)))
    return 0


def summary(p: dict[str, Any]) -> str:
    """Human-readable lines for a profile's JSON."""
    sex = p["perceived_sex"]
    age = p["age_band"]
    p_f = sex["p_female"]
    p_label = p_f if sex["label"] == "female" else 1.0 - p_f
    lines = [
        "Voice profile: perceived traits of the voice, not the identity of the speaker.",
        f"  speech analysed   {p['speech_seconds']:.1f} s",
        f"  perceived sex     {sex['label']} (p = {p_label:.2f})",
        f"  age band          {age['label'].replace('_', ' ')} ("
        + ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in age["probs"].items())
        + ")",
        f"  confidence        {p['confidence']:.2f}",
    ]
    if p["f0_median_hz"] is not None:
        rng = p["f0_range_hz"]
        extra = f" (10-90 %: {rng[0]:.0f}-{rng[1]:.0f} Hz)" if rng else ""
        lines.append(f"  pitch (F0)        {p['f0_median_hz']:.0f} Hz{extra}")
    else:
        lines.append("  pitch (F0)        not measurable (no voiced speech found)")
    if p["formants_hz"]:
        formants = ", ".join(f"F{i + 1} {v:.0f}" for i, v in enumerate(p["formants_hz"]))
        lines.append(f"  formants          {formants} Hz")
    if p["vtl_cm"] is not None:
        lines.append(f"  vocal tract       ~{p['vtl_cm']:.1f} cm (from formant spacing)")
    if p["loudness_dbfs"] is not None:
        lines.append(f"  loudness          {p['loudness_dbfs']:.1f} dBFS")
    return "\n".join(lines)
