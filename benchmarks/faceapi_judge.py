"""The second independent judge for `face_quality`: face-api (tfjs) beside dlib.

`@vladmandic/face-api` (SSD MobileNet v1 detector, 68-point landmarks for alignment,
ageGenderNet, faceExpressionNet and the 128-d faceRecognitionNet descriptor, all trained
on photographs) runs in node on the tfjs WebAssembly backend via
`benchmarks/faceapi/judge.mjs`. Its weights ship inside the npm package; nothing is
downloaded at run time. Install once with ``npm ci --prefix benchmarks/faceapi`` (the
Makefile's ``judge`` target; ``make test`` runs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from benchmarks.face_quality import Case, Verdict

JUDGE_DIR = Path(__file__).resolve().parent / "faceapi"
JUDGE_SCRIPT = JUDGE_DIR / "judge.mjs"
INSTALL_HINT = "npm ci --prefix benchmarks/faceapi"


def unavailable() -> str | None:
    """Why the judge cannot run here (with the install hint), or None when it can."""
    if shutil.which("node") is None:
        return f"node is not on PATH; install Node.js >= 18, then run `{INSTALL_HINT}`"
    if not (JUDGE_DIR / "node_modules" / "@vladmandic" / "face-api").is_dir():
        return f"face-api is not installed ({JUDGE_DIR / 'node_modules'} is missing); run `{INSTALL_HINT}`"
    return None


def read_rows(cases: list[Case], timeout_s: float = 900.0) -> list[dict[str, Any]]:
    """Run the node judge once over all cases; its raw row per case, in order.

    Raises:
        RuntimeError: when the judge is not installed, fails, or skips an image.
    """
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    with tempfile.TemporaryDirectory(prefix="faceapi-judge-") as tmp:
        paths = []
        for i, case in enumerate(cases):
            path = Path(tmp) / f"{i:04d}.png"
            Image.fromarray(case.image).save(path)
            paths.append(str(path))
        proc = subprocess.run(
            ["node", str(JUDGE_SCRIPT), *paths],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"face-api judge failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    rows = {row["path"]: row for row in map(json.loads, proc.stdout.splitlines()) if row}
    missing = [p for p in paths if p not in rows]
    if missing:
        raise RuntimeError(f"face-api judge gave no verdict for {len(missing)} image(s), e.g. {missing[0]}")
    return [rows[p] for p in paths]


def read_faces(cases: list[Case], timeout_s: float = 900.0) -> list[Verdict]:
    """One verdict per case, in order (`read_rows` read as sex, age, expression, descriptor).

    Raises:
        RuntimeError: when the judge is not installed, fails, or skips an image.
    """
    verdicts = []
    for row in read_rows(cases, timeout_s):
        if not row["detected"]:
            verdicts.append(Verdict(detected=False, p_female=None, age=None))
            continue
        p = float(row["gender_probability"])
        descriptor = row.get("descriptor")
        verdicts.append(
            Verdict(
                True,
                p if row["gender"] == "female" else 1.0 - p,
                float(row["age"]),
                expression=row.get("expression"),
                descriptor=tuple(float(v) for v in descriptor) if descriptor else None,
            )
        )
    return verdicts
