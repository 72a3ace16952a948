"""Fit and measure the identity code (`streamface.face.identity`).

    python -m benchmarks.identity_code                  # measure the shipped basis
    python -m benchmarks.identity_code --fit            # refit it (writes identity_basis.json)
    python -m benchmarks.identity_code --compare OLD.json   # also measure an older basis

Corpora (`benchmarks/identity_corpus.py`, embeddings cached in /tmp): 144 synthetic
espeak-ng speakers (18 voices x 8 languages, two texts, wideband and phone) and the
recorded speakers of ``tests/data/real_speakers.json`` (12 clips of distinct prompts per
Asterisk speaker, parts of single recordings, each wideband and as 8 kHz mu-law). Only
the real *tune* speakers are ever fitted on; the *held-out* ones are only measured.

The basis is a regularised linear discriminant analysis of GE2E embeddings:

* classes are voices: a real person, or one espeak voice across its 8 languages (so
  language is within-speaker variation, not something a bit may encode);
* within-voice scatter is that of whole clips *and of their first second of speech*
  (the noise of a session's first face), texts, languages and channels;
* real and synthetic voices weigh alike in the between-voice scatter, the centre and the
  thresholds (each discriminant's weighted median), so every bit splits the *recorded*
  voices, not only the synthetic ones (fitted on synthetic voices alone, 2 of 5 bits
  were the same for every recorded speaker).

Measured, per speaker (then averaged over speakers), on clips of one speaker in two
"calls" (different clips, same band): the share of pairs with the whole code equal and
the share of trait families kept (`identity.FAMILIES`: each family's draws depend on 3
bits), from the first 1, 2, 3 s of speech of each clip and from whole clips; on
different speakers: whole-code collisions, families shared, and the share of pairs that
share more than half of the families (faces that look alike).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.identity_corpus import DEFAULT_CACHE, espeak_corpus, real_corpus

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REG = 0.3  # within-voice scatter regularisation (fraction of its mean eigenvalue)
KEEP = 16  # discriminants stored in the basis (the code uses the first CODE_BITS)
LANGS = ("en", "de", "fr", "es", "hi", "cmn", "ru", "sw")
KEYS = {"1 s": "emb_1s", "2 s": "emb_2s", "3 s": "emb_3s", "whole": "emb"}


def _unit(rows: list[dict]) -> list[dict]:
    for r in rows:
        for k in KEYS.values():
            v = np.asarray(r[k], np.float64)
            r[k] = v / max(float(np.linalg.norm(v)), 1e-12)
    return rows


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(v)
    cum = np.cumsum(w[order]) / w.sum()
    return float(v[order][np.searchsorted(cum, 0.5)])


def sex_direction() -> np.ndarray:
    """The unit direction of embedding space that the perceived-sex model reads."""
    from streamface.voice.traits import _sex_model

    weights, _ = _sex_model()
    return weights / float(np.linalg.norm(weights))


def fit_basis(rows: list[dict], reg: float = REG, keep: int = KEEP) -> dict:
    """Regularised LDA of the rows' embeddings (class = row["group"], a voice).

    Voices are grouped by domain (recorded or synthetic) and by sex, and each group is
    centred on its own mean: no discriminant spends itself on telling espeak from recorded
    speech, nor women from men. A bit that follows sex would be constant within a
    presentation, while hairstyles, and the colouring and skin drawn with them, are chosen
    per presentation: women would share a few skin tones and one hair colour. The basis is
    centred on the recorded voices (what a call brings).
    """
    import scipy.linalg

    voices = sorted({r["group"] for r in rows})
    real = {r["group"]: r["split"] != "synthetic" for r in rows}
    sex = {r["group"]: r["sex"] for r in rows}
    means = np.array([np.mean([r["emb"] for r in rows if r["group"] == v], axis=0) for v in voices])
    is_real = np.array([real[v] for v in voices])
    n_real, n_synthetic = int(is_real.sum()), int((~is_real).sum())
    weight = np.where(is_real, n_synthetic / n_real if n_real and n_synthetic else 1.0, 1.0)
    group = [(real[v], sex[v]) for v in voices]
    group_mean = {g: means[[h == g for h in group]].mean(axis=0) for g in sorted(set(group))}
    centre = np.mean([mu for (is_rec, _), mu in group_mean.items() if is_rec] or list(group_mean.values()), axis=0)
    index = {v: i for i, v in enumerate(voices)}
    dev = np.array([r[k] - means[index[r["group"]]] for r in rows for k in ("emb", "emb_1s")])
    within = dev.T @ dev / len(dev)
    m = means - np.array([group_mean[g] for g in group])
    between = (weight[:, None] * m).T @ m / weight.sum()
    # No axis may see the offsets between the groups either: a caller is projected from
    # the recorded voices' centre, so an offset along an axis would put a whole group on
    # one side of that bit (same skin, same hair). Nor the direction the perceived-sex
    # model reads (`traits.embedding_logit`, fitted on more voices than the group means
    # here): the code then carries nothing of the sex StreamFace reads from the voice.
    # With both scatters zero along these, every discriminant is orthogonal to them.
    first, *rest = group_mean.values()
    nuisance = np.array([mu - first for mu in rest] + [sex_direction()]).T
    q, _ = np.linalg.qr(nuisance)
    keep_out = np.eye(len(first)) - q @ q.T
    within = keep_out @ within @ keep_out
    between = keep_out @ between @ keep_out
    ridge = reg * np.trace(within) / within.shape[0]
    _, vecs = scipy.linalg.eigh(between, within + ridge * np.eye(within.shape[0]))
    axes = vecs[:, ::-1][:, :keep]
    axes = axes / np.linalg.norm(axes, axis=0, keepdims=True)
    proj = m @ axes
    thresholds = np.array([_weighted_median(proj[:, j], weight) for j in range(axes.shape[1])])
    return {"centre": centre, "axes": axes.T, "thresholds": thresholds}


def _bits(basis: dict, embs: np.ndarray, n: int) -> np.ndarray:
    return (embs - basis["centre"]) @ basis["axes"][:n].T > basis["thresholds"][:n]


def _pairs(rows: list[dict]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Same speaker (different clips, same band: two calls) and different-voice pairs."""
    same, diff = [], []
    for i, j in itertools.combinations(range(len(rows)), 2):
        a, b = rows[i], rows[j]
        if a["speaker"] == b["speaker"]:
            if a["clip"] != b["clip"] and a["band"] == b["band"]:
                same.append((i, j))
        elif a["group"] != b["group"]:
            diff.append((i, j))
    return same, diff


def _sex_gap(bits: np.ndarray, rows: list[dict]) -> float:
    """The largest gap, over bits, between the share of women's and men's voices with it set.

    Per voice first (its clips' mean), so a voice with many clips counts once.
    """
    voices = sorted({r["group"] for r in rows})
    share = {v: bits[[r["group"] == v for r in rows]].mean(axis=0) for v in voices}
    sex = {r["group"]: r["sex"] for r in rows}
    women = [share[v] for v in voices if sex[v] == "female"]
    men = [share[v] for v in voices if sex[v] == "male"]
    if not women or not men:
        return 0.0
    return float(np.max(np.abs(np.mean(women, axis=0) - np.mean(men, axis=0))))


def measure(basis: dict, rows: list[dict], scheme: str) -> dict:
    """Agreement (per speaker, averaged) and collisions of one scheme on some rows.

    ``scheme``: "families" (the shipped one: `identity.FAMILIES` over `CODE_BITS` bits) or
    "code5" (the first design: every draw keyed by the whole 5-bit code).
    """
    from streamface.face.identity import CODE_BITS, FAMILIES

    if scheme == "families":
        n, subsets = CODE_BITS, [np.array(bits) for bits, _ in FAMILIES.values()]
    else:
        n, subsets = 5, [np.arange(5)]
    same, diff = _pairs(rows)
    out: dict = {"speakers": len({r["speaker"] for r in rows}), "pairs_same": len(same), "pairs_different": len(diff)}
    for label, key in KEYS.items():
        b = _bits(basis, np.array([r[key] for r in rows]), n)
        kept_by: dict[str, list[float]] = defaultdict(list)
        whole_by: dict[str, list[float]] = defaultdict(list)
        for i, j in same:
            eq = b[i] == b[j]
            kept_by[rows[i]["speaker"]].append(float(np.mean([eq[s].all() for s in subsets])))
            whole_by[rows[i]["speaker"]].append(float(eq.all()))
        out[label] = {
            "same_whole_code": round(float(np.mean([np.mean(v) for v in whole_by.values()])), 3),
            "same_families_kept": round(float(np.mean([np.mean(v) for v in kept_by.values()])), 3),
            "per_speaker_families_kept": {k: round(float(np.mean(v)), 2) for k, v in sorted(kept_by.items())},
        }
        if label in ("1 s", "whole"):
            shared = np.array([np.mean([(b[i] == b[j])[s].all() for s in subsets]) for i, j in diff])
            same_sex = np.array([rows[i]["sex"] == rows[j]["sex"] for i, j in diff])
            out[label] |= {
                "different_whole_code_collide": round(float(np.mean([(b[i] == b[j]).all() for i, j in diff])), 4),
                "different_families_shared": round(float(shared.mean()), 3),
                "different_share_over_half": round(float(np.mean(shared > 0.5)), 4),
                # what a viewer compares: faces of one presentation (hair is drawn per sex)
                "different_same_sex_families_shared": round(float(shared[same_sex].mean()), 3),
                "different_same_sex_share_over_half": round(float(np.mean(shared[same_sex] > 0.5)), 4),
                "bit_sex_gap_max": round(_sex_gap(b, rows), 2),
            }
    return out


def evaluate(real: list[dict], espeak: list[dict], basis: dict, schemes: tuple[str, ...]) -> dict:
    """The shipped basis on the held-out real speakers, and refits held out by language."""
    tune = [r for r in real if r["split"] == "tune"]
    held = [r for r in real if r["split"] == "heldout"]
    out: dict = {"real_heldout": {s: measure(basis, held, s) for s in schemes}, "espeak_by_language": []}
    for fit_langs in (LANGS[0::2], LANGS[1::2]):
        b = fit_basis([r for r in espeak if r["lang"] in fit_langs] + tune)
        test = [r for r in espeak if r["lang"] not in fit_langs]
        out["espeak_by_language"].append(
            {"fit_languages": list(fit_langs), **{s: measure(b, test, s) for s in schemes}}
        )
    return out


def _load_basis(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {k: np.asarray(data[k], np.float64) for k in ("centre", "axes", "thresholds")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit and write the shipped basis")
    parser.add_argument("--compare", type=Path, help="an older basis JSON to measure beside it (5-bit code)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache folder")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from streamface.face import identity

    real = _unit(real_corpus(args.cache))
    espeak = _unit(espeak_corpus(args.cache))
    tune = [r for r in real if r["split"] == "tune"]
    if args.fit:
        basis = fit_basis(espeak + tune)
        identity.save_basis(basis["centre"], basis["axes"], basis["thresholds"])
        identity.load_basis.cache_clear()
        print(f"wrote {identity.BASIS_PATH}", file=sys.stderr)
    basis = _load_basis(identity.BASIS_PATH)
    result: dict = {
        "about": "identity code: per-speaker agreement of two calls and different-speaker sharing",
        "code_bits": identity.CODE_BITS,
        "shipped": evaluate(real, espeak, basis, ("families", "code5")),
    }
    if args.compare:
        old = _load_basis(args.compare)
        held = [r for r in real if r["split"] == "heldout"]
        result["compare"] = {"basis": str(args.compare), "real_heldout": {"code5": measure(old, held, "code5")}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "identity_code.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
