"""How long after a speaker switch the face changes, at the backed-off and the 1 s cadence.

A first speaker talks for 11-16 s (flite slt then slt_2, cut at each whole second), then
a second one (flite rms + rms_2, or espeak f4 twice); `streamface.offline.drive` runs a
`Session` over it in media time with the test suite's cheap engine and mapper (the
speaker decision depends on the embeddings only). Per cadence: the seconds from the
switch to the "new_speaker" face change, one per cut. ``CADENCE_CALM_S`` = 1.0 is the
1 s cadence before the back-off. Usage: ``python -m benchmarks.cadence_latency [--calm 5]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VOICES = ROOT.parent / "shared" / "voices"
CUTS_S = (11.0, 12.0, 13.0, 14.0, 15.0, 16.0)


def run(quick: bool = False, calms: tuple[float, ...] = ()) -> dict[str, Any]:
    """Latencies per cadence and second speaker (None: no new speaker found).

    ``calms``: back-off cadences to measure besides 1 s and the shipped one.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes import ShapesEngine, fake_mapper  # type: ignore[import-not-found]

    import streamface.session as session_module
    from streamface.audio.decode import decode_file
    from streamface.offline import Audio, drive

    def voice(*names: str) -> np.ndarray:
        return np.concatenate([decode_file(VOICES / n) for n in names])

    first = voice("flite_female_slt.wav", "flite_female_slt_2.wav")
    seconds = {
        "flite rms": voice("flite_male_rms.wav", "flite_male_rms_2.wav"),
        "espeak f4": voice("espeak_female_f4.wav", "espeak_female_f4.wav"),
    }
    shipped = session_module.CADENCE_CALM_S
    out: dict[str, Any] = {"cuts_s": list(CUTS_S)}
    for calm in sorted({1.0, shipped, *calms}):
        for name, second in seconds.items():
            latencies: list[float | None] = []
            for cut in CUTS_S[:2] if quick else CUTS_S:
                session = session_module.Session(ShapesEngine(96), fps=30, mapper=fake_mapper)
                session._calm_cadence_s = calm
                audio = np.concatenate([first[: int(cut * 16000)], second])
                for _ in drive(session, Audio(audio, 16000), 30):
                    pass
                found = [t for t, reason in session.face_changes if reason == "new_speaker"]
                latencies.append(round(found[0] - cut, 2) if found else None)
                session.close()
            key = f"calm_{calm:g}s_{name.replace(' ', '_')}"
            out[f"{key}_latency_s"] = latencies
            known = [x for x in latencies if x is not None]
            out[f"{key}_mean_latency_s"] = round(float(np.mean(known)), 2) if known else None
    return out


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two cuts instead of six")
    parser.add_argument("--calm", type=float, action="append", default=[], help="another back-off cadence (s) to measure")
    args = parser.parse_args()
    print(json.dumps(run(args.quick, tuple(args.calm)), indent=2))
