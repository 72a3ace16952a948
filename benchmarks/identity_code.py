"""Fit and measure the identity code (`streamface.face.identity`).

    python -m benchmarks.identity_code                  # measure the shipped basis
    python -m benchmarks.identity_code --fit            # refit it (writes identity_basis.json)
    python -m benchmarks.identity_code --compare OLD.json   # also measure an older basis
    python -m benchmarks.identity_code --alternatives   # also compare other quantisers

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
from collections.abc import Callable
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


# ---- alternatives to the sign code (`--alternatives`) ---------------------------------
#
# Each scheme maps embeddings [n, 256] to the cell of each trait family [n, 8] (0..7 for
# 8 sub-codes). Every scheme is fitted only on espeak and the tune speakers; what chose
# among them is the cross-validation below (espeak voices, tune people), not the
# held-out recorded speakers, which are only reported.

Coder = Callable[[np.ndarray], np.ndarray]
ALT_FOLDS = 3  # espeak voices held out: 6 of 18 voices per fold (both sexes), all languages
CODE_BITS_ALT = 10  # the shipped code's length


def _layout() -> list[np.ndarray]:
    from streamface.face.identity import FAMILIES

    return [np.array(bits) for bits, _ in FAMILIES.values()]


def _fit_projections(basis: dict, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The fit rows' clips (whole and first second) on the axes, minus the thresholds,
    and each clip's weight (as in `fit_basis`: the recorded voices weigh as much as the
    synthetic ones, a voice's clips share its weight)."""
    voices = sorted({r["group"] for r in rows})
    is_real = {v: any(r["group"] == v and r["split"] != "synthetic" for r in rows) for v in voices}
    n_real = sum(is_real.values())
    n_synthetic = len(voices) - n_real
    clips = {v: sum(r["group"] == v for r in rows) for v in voices}
    w_voice = {v: (n_synthetic / n_real if is_real[v] and n_real and n_synthetic else 1.0) for v in voices}
    x = np.array([r[k] for r in rows for k in ("emb", "emb_1s")])
    w = np.array([w_voice[r["group"]] / clips[r["group"]] for r in rows for _ in ("emb", "emb_1s")])
    return (x - basis["centre"]) @ basis["axes"].T - basis["thresholds"], w


def _weighted_quantile(v: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(v)
    cum = np.cumsum(w[order]) / w.sum()
    return float(v[order][min(int(np.searchsorted(cum, q)), len(v) - 1)])


def kde_minimum_shifts(proj: np.ndarray, w: np.ndarray, lo: float, hi: float, width: float = 0.25) -> np.ndarray:
    """Per axis: the lowest point of a Gaussian KDE (bandwidth ``width`` standard
    deviations) between the ``lo`` and ``hi`` quantiles, as a shift of the threshold."""
    out = []
    for v in proj.T:
        sd = float(np.sqrt(np.average((v - np.average(v, weights=w)) ** 2, weights=w)))
        grid = np.linspace(_weighted_quantile(v, w, lo), _weighted_quantile(v, w, hi), 200)
        density = (w[None, :] * np.exp(-0.5 * ((grid[:, None] - v[None, :]) / (width * sd)) ** 2)).sum(axis=1)
        out.append(grid[int(np.argmin(density))])
    return np.array(out)


def _sign_coder(basis: dict, layout: list[np.ndarray], shift: np.ndarray | None = None) -> Coder:
    n = int(max(s.max() for s in layout)) + 1
    th = basis["thresholds"][:n] + (0.0 if shift is None else shift[:n])

    def code(embs: np.ndarray) -> np.ndarray:
        bits = ((embs - basis["centre"]) @ basis["axes"][:n].T > th).astype(int)
        return np.stack([sum(bits[:, b] << i for i, b in enumerate(s)) for s in layout], axis=1)

    return code


def _kmeans_coder(basis: dict, fit_rows: list[dict], layout: list[np.ndarray]) -> Coder:
    """8 cells per family: k-means centroids of the fit clips in the family's 3-D projection."""
    from scipy.cluster.vq import kmeans2

    n = int(max(s.max() for s in layout)) + 1
    proj, w = _fit_projections(basis, fit_rows)
    sd = np.sqrt(np.average(proj[:, :n] ** 2, axis=0, weights=w))
    sample = (proj[:, :n] / sd)[np.random.default_rng(0).choice(len(proj), 4000, p=w / w.sum())]
    books = [kmeans2(sample[:, s], 8, minit="++", seed=0, iter=50)[0] for s in layout]

    def code(embs: np.ndarray) -> np.ndarray:
        x = ((embs - basis["centre"]) @ basis["axes"][:n].T - basis["thresholds"][:n]) / sd
        return np.stack([np.argmin(((x[:, s][:, None] - c[None]) ** 2).sum(-1), axis=1)
                         for s, c in zip(layout, books, strict=True)], axis=1)

    return code


def _cross_coder(basis: dict, fit_rows: list[dict], layout: list[np.ndarray]) -> Coder:
    """8 equal cells per family from 4 axes: which axis is largest in magnitude, and its sign
    (the cross-polytope's Voronoi cells, axes scaled to the fit clips' spread)."""
    n = int(max(s.max() for s in layout)) + 1
    proj, w = _fit_projections(basis, fit_rows)
    sd = np.sqrt(np.average(proj[:, :n] ** 2, axis=0, weights=w))

    def code(embs: np.ndarray) -> np.ndarray:
        x = ((embs - basis["centre"]) @ basis["axes"][:n].T - basis["thresholds"][:n]) / sd
        return np.stack([np.argmax(np.concatenate([x[:, s], -x[:, s]], axis=1), axis=1) for s in layout], axis=1)

    return code


def _rank_flip_rates(espeak: list[dict], tune: list[dict], n: int = KEEP) -> np.ndarray:
    """Each discriminant rank's flip rate between two first seconds of one voice, on voices
    its fit did not see (espeak voices held out, tune people left out two at a time)."""
    rates = []
    folds = _espeak_folds(espeak)
    people = sorted({r["speaker"] for r in tune})
    splits = [([r for r in espeak if r["group"] not in f] + tune, [r for r in espeak if r["group"] in f])
              for f in folds]
    splits += [(espeak + [r for r in tune if r["speaker"] not in pair], [r for r in tune if r["speaker"] in pair])
               for pair in itertools.combinations(people, 2)]
    for fit_rows, test in splits:
        basis = fit_basis(fit_rows)
        b = _bits(basis, np.array([r["emb_1s"] for r in test]), n)
        by: dict[str, list[np.ndarray]] = defaultdict(list)
        for i, j in _pairs(test)[0]:
            by[test[i]["speaker"]].append(b[i] != b[j])
        rates.append(np.mean([np.mean(v, axis=0) for v in by.values()], axis=0))
    half = len(folds)
    return (np.mean(rates[:half], axis=0) + np.mean(rates[half:], axis=0)) / 2


def _espeak_folds(espeak: list[dict]) -> list[set[str]]:
    women = sorted({r["group"] for r in espeak if r["sex"] == "female"})
    men = sorted({r["group"] for r in espeak if r["sex"] == "male"})
    return [set(women[i::ALT_FOLDS]) | set(men[i::ALT_FOLDS]) for i in range(ALT_FOLDS)]


def alternative_schemes(espeak: list[dict], tune: list[dict]) -> dict[str, Callable[[list[dict]], Coder]]:
    """The schemes compared: name -> (fit rows -> coder)."""
    layout = _layout()
    order = np.argsort(_rank_flip_rates(espeak, tune))[:CODE_BITS_ALT]
    by_flip = [np.array([order[b] for b in s]) for s in layout]
    fewer = [s[:2] if f < 3 else s for f, s in enumerate(layout)]  # skin, hairstyle, colouring: 2 bits
    extra = (6, 5, 7, 8, 9, 2, 3, 4)  # a fourth axis per family, none already in its triple
    four = [np.array([*s, x]) for s, x in zip(layout, extra, strict=True)]

    def kde(lo: float, hi: float) -> Callable[[list[dict]], Coder]:
        def make(rows: list[dict]) -> Coder:
            basis = fit_basis(rows)
            proj, w = _fit_projections(basis, rows)
            return _sign_coder(basis, layout, kde_minimum_shifts(proj[:, :CODE_BITS_ALT], w, lo, hi))
        return make

    return {
        "shipped: signs at the median, 3 bits per family": lambda rows: _sign_coder(fit_basis(rows), layout),
        "thresholds at the KDE minimum within the 30-70 % quantiles": kde(0.3, 0.7),
        "thresholds at the KDE minimum within the 40-60 % quantiles": kde(0.4, 0.6),
        "k-means, 8 cells in each family's 3 axes": lambda rows: _kmeans_coder(fit_basis(rows), rows, layout),
        "cross-polytope, 8 equal cells in 4 axes per family": lambda rows: _cross_coder(fit_basis(rows), rows, four),
        "axes given to families by cross-validated flip rate": lambda rows: _sign_coder(fit_basis(rows), by_flip),
        "skin, hairstyle, colouring on 2 bits (4 sub-codes)": lambda rows: _sign_coder(fit_basis(rows), fewer),
        "basis regularised 10x more (reg 3.0)": lambda rows: _sign_coder(fit_basis(rows, reg=3.0), layout),
    }


def measure_cells(code: Coder, rows: list[dict]) -> dict:
    """Per-speaker agreement and strangers' sharing of the families' cells (1 s and whole)."""
    same, diff = _pairs(rows)
    out: dict = {}
    for label in ("1 s", "whole"):
        c = code(np.array([r[KEYS[label]] for r in rows]))
        kept: dict[str, list[float]] = defaultdict(list)
        whole: dict[str, list[float]] = defaultdict(list)
        for i, j in same:
            kept[rows[i]["speaker"]].append(float(np.mean(c[i] == c[j])))
            whole[rows[i]["speaker"]].append(float((c[i] == c[j]).all()))
        shared = np.array([np.mean(c[i] == c[j]) for i, j in diff if rows[i]["sex"] == rows[j]["sex"]])
        counts = [np.bincount(col, minlength=8) / len(col) for col in c.T]
        out[label] = {
            "same_families_kept": round(float(np.mean([np.mean(v) for v in kept.values()])), 3) if kept else None,
            "same_identical_face": round(float(np.mean([np.mean(v) for v in whole.values()])), 3) if whole else None,
            "different_same_sex_families_shared": round(float(shared.mean()), 3) if shared.size else None,
            "different_same_sex_share_over_half": round(float(np.mean(shared > 0.5)), 4) if shared.size else None,
            "cell_entropy_bits": round(float(np.mean([-(p[p > 0] * np.log2(p[p > 0])).sum() for p in counts])), 2),
            "cell_sex_gap_max": round(_cell_sex_gap(c, rows), 2),
            "per_speaker_families_kept": {k: round(float(np.mean(v)), 2) for k, v in sorted(kept.items())},
        }
    return out


def _cell_sex_gap(cells: np.ndarray, rows: list[dict]) -> float:
    """`_sex_gap` for cells: the largest gap between women's and men's voices' share of a cell."""
    onehot = np.concatenate([np.eye(8)[col] for col in cells.T], axis=1)
    return _sex_gap(onehot.astype(bool), rows)


def _speaker_bootstrap(code_a: Coder, code_b: Coder, rows: list[dict], n: int = 2000) -> list[float]:
    """5/50/95 % points of the gain in (families kept - strangers' share), first second,
    b over a, resampling the speakers."""
    same, diff = _pairs(rows)
    embs = np.array([r["emb_1s"] for r in rows])
    speakers = sorted({r["speaker"] for r in rows})
    index = {s: k for k, s in enumerate(speakers)}
    terms = []
    for code in (code_a, code_b):
        c = code(embs)
        kept = np.zeros(len(speakers))
        count = np.zeros(len(speakers))
        for i, j in same:
            kept[index[rows[i]["speaker"]]] += np.mean(c[i] == c[j])
            count[index[rows[i]["speaker"]]] += 1
        pairs = [(index[rows[i]["speaker"]], index[rows[j]["speaker"]], float(np.mean(c[i] == c[j])))
                 for i, j in diff if rows[i]["sex"] == rows[j]["sex"]]
        terms.append((kept, count, pairs))
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(n):
        w = np.bincount(rng.integers(0, len(speakers), len(speakers)), minlength=len(speakers))
        score = []
        for kept, count, pairs in terms:
            has = count > 0
            k = float((w[has] * kept[has] / count[has]).sum() / max(w[has].sum(), 1))
            pw = np.array([w[a] * w[b] for a, b, _ in pairs], float)
            s = float((pw * np.array([v for *_, v in pairs])).sum() / max(pw.sum(), 1.0))
            score.append(k - s)
        gains.append(score[1] - score[0])
    return [round(float(np.percentile(gains, q)), 3) for q in (5, 50, 95)]


def alternatives(real: list[dict], espeak: list[dict]) -> dict:
    """Every scheme: cross-validated on espeak voices and tune people (what chose), and on
    the held-out recorded speakers and espeak held out by language (reported)."""
    tune = [r for r in real if r["split"] == "tune"]
    held = [r for r in real if r["split"] == "heldout"]
    schemes = alternative_schemes(espeak, tune)
    shipped = next(iter(schemes.values()))(espeak + tune)
    out: dict = {
        "kde_minima": _kde_minima_report(espeak + tune),
        "partitions_monte_carlo": partition_stability(),
        "shipped_bit_flip_rate_heldout_1s": _flip_rates(fit_basis(espeak + tune), held),
    }
    for name, make in schemes.items():
        cv_espeak = [measure_cells(make([r for r in espeak if r["group"] not in f] + tune),
                                   [r for r in espeak if r["group"] in f])["1 s"] for f in _espeak_folds(espeak)]
        people = sorted({r["speaker"] for r in tune})
        cv_tune = [measure_cells(make(espeak + [r for r in tune if r["speaker"] not in p]),
                                 [r for r in tune if r["speaker"] in p])["1 s"] for p in itertools.combinations(people, 2)]
        code = make(espeak + tune)
        by_lang = []
        for fit_langs in (LANGS[0::2], LANGS[1::2]):
            test = [r for r in espeak if r["lang"] not in fit_langs]
            by_lang.append(measure_cells(make([r for r in espeak if r["lang"] in fit_langs] + tune), test))
        out[name] = {
            "cv_espeak_voices_1s": _mean_dicts(cv_espeak),
            "cv_tune_people_1s": _mean_dicts(cv_tune),
            "real_heldout": measure_cells(code, held),
            "real_heldout_gain_over_shipped_1s_p5_p50_p95": _speaker_bootstrap(shipped, code, held),
            "espeak_by_language": by_lang,
        }
        print(name, json.dumps({k: v for k, v in out[name].items() if k != "espeak_by_language"}), file=sys.stderr)
    return out


def _kde_minima_report(rows: list[dict]) -> dict:
    """Where the density minima fall on the shipped fit: the quantile of each axis's KDE
    minimum within each window, and the density there relative to at the median."""
    basis = fit_basis(rows)
    proj, w = _fit_projections(basis, rows)
    proj = proj[:, :CODE_BITS_ALT]
    out = {}
    for lo, hi in ((0.3, 0.7), (0.4, 0.6)):
        shift = kde_minimum_shifts(proj, w, lo, hi)
        quantiles, ratios = [], []
        for v, t in zip(proj.T, shift, strict=True):
            sd = float(np.sqrt(np.average((v - np.average(v, weights=w)) ** 2, weights=w)))
            density = [float((w * np.exp(-0.5 * ((x - v) / (0.25 * sd)) ** 2)).sum()) for x in (t, 0.0)]
            quantiles.append(round(float(w[v < t].sum() / w.sum()), 2))
            ratios.append(round(density[0] / density[1], 2))
        out[f"{lo}-{hi}"] = {"quantile_of_minimum": quantiles, "density_at_minimum_over_at_median": ratios}
    return out


def _flip_rates(basis: dict, rows: list[dict]) -> list[float]:
    """Each bit's flip rate between two first seconds of one speaker (mean over speakers)."""
    b = _bits(basis, np.array([r["emb_1s"] for r in rows]), CODE_BITS_ALT)
    by: dict[str, list[np.ndarray]] = defaultdict(list)
    for i, j in _pairs(rows)[0]:
        by[rows[i]["speaker"]].append(b[i] != b[j])
    return [round(float(v), 3) for v in np.mean([np.mean(v, axis=0) for v in by.values()], axis=0)]


def partition_stability(rhos: tuple[float, ...] = (0.6, 0.75, 0.85), n: int = 200_000) -> dict:
    """How often two noisy looks at one point fall in the same of 8 equal cells, for
    Gaussian axes whose two looks correlate ``rho``: octants of 3 axes (the shipped sign
    code), the cross-polytope of 4 axes, and the regular simplex of 7 axes (the
    conjectured most noise-stable partition into 8)."""
    rng = np.random.default_rng(0)
    simplex = np.linalg.svd(np.eye(8) - 1 / 8)[0][:, :7]
    cells: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]] = {
        "octants_3_axes": (3, lambda x: (x > 0).astype(int) @ np.array([1, 2, 4])),
        "cross_polytope_4_axes": (4, lambda x: np.argmax(np.concatenate([x, -x], axis=1), axis=1)),
        "simplex_7_axes": (7, lambda x: np.argmax(x @ simplex.T, axis=1)),
    }
    out: dict = {}
    for rho in rhos:
        out[str(rho)] = {}
        for name, (d, cell) in cells.items():
            s = rng.standard_normal((n, d))
            a, b = (np.sqrt(rho) * s + np.sqrt(1 - rho) * rng.standard_normal((n, d)) for _ in range(2))
            out[str(rho)][name] = round(float(np.mean(cell(a) == cell(b))), 3)
    return out


def _mean_dicts(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k != "per_speaker_families_kept"]
    return {k: round(float(np.mean([r[k] for r in rows if r[k] is not None])), 3)
            if any(r[k] is not None for r in rows) else None for k in keys}


def _load_basis(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {k: np.asarray(data[k], np.float64) for k in ("centre", "axes", "thresholds")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit and write the shipped basis")
    parser.add_argument("--compare", type=Path, help="an older basis JSON to measure beside it (5-bit code)")
    parser.add_argument("--alternatives", action="store_true",
                        help="also compare other quantisers (identity_code-alternatives.json)")
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
    if args.alternatives:
        alt = {"about": "alternatives to the sign code: cells of each trait family", **alternatives(real, espeak)}
        (RESULTS / "identity_code-alternatives.json").write_text(json.dumps(alt, indent=1) + "\n")
    (RESULTS / "identity_code.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
