"""Formant frequencies (F1-F4) by linear prediction, and a vocal-tract-length estimate.

Per voiced frame: resample (11 kHz, or 8 kHz for telephone-band audio), pre-emphasise,
Hamming window (30 ms), autocorrelation LPC (Levinson-Durbin), roots of the predictor
polynomial; poles with a bandwidth under 450 Hz between 200 Hz and the band edge are the
formant candidates, lowest first. Medians over frames are the formant estimates.

Vocal-tract length (VTL) follows the uniform-tube model, where formant n sits at
(2n - 1) * c / (4 L): the formant spacing dF is the least-squares slope of F_n against
(2n - 1) / 2 (Reby & McComb 2003), and L = c / (2 dF). Men average ~17 cm (dF ~1000 Hz),
women ~14.5-15 cm, ten-year-olds ~12 cm. Telephone audio (300-3400 Hz) has no F4 and a
weak F1, so there only F1-F3 are used, with F3 weighted most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamface.audio.polyphase import resample_poly

SPEED_OF_SOUND_CM_S = 35_000.0  # warm, humid air in the vocal tract
MAX_FRAMES = 60
MAX_BANDWIDTH_HZ = 450.0
MIN_FORMANT_HZ = 200.0


@dataclass(frozen=True)
class FormantEstimate:
    """Robust formant medians and the vocal-tract length they imply.

    Attributes:
        formants_hz: Median F1..F4 (F1..F3 on telephone-band audio); None if unmeasured.
        vtl_cm: Vocal-tract length from formant spacing, None if unmeasured.
        spacing_hz: Formant spacing dF behind `vtl_cm`.
        frames: Number of frames measured.
        band_limited: True when the audio has no energy above ~4.5 kHz (telephone).
    """

    formants_hz: tuple[float, ...] | None
    vtl_cm: float | None
    spacing_hz: float | None
    frames: int
    band_limited: bool


def is_band_limited(wav16k: np.ndarray) -> bool:
    """True when speech holds (almost) nothing above 4.5 kHz, as 8 kHz telephone audio.

    Speech recorded wideband keeps fricatives and aspiration above 4.5 kHz (at least about
    -35 dB re the 300-3400 Hz band); audio that went through an 8 kHz channel has < -50 dB.
    """
    x = np.asarray(wav16k, dtype=np.float64)
    n = 512
    if x.size < n:
        return False
    count = x.size // n
    spec = np.abs(np.fft.rfft(x[: count * n].reshape(count, n) * np.hanning(n), axis=1)) ** 2
    power = spec.mean(axis=0)
    freqs = np.fft.rfftfreq(n, 1 / 16_000)
    speech = power[(freqs >= 300) & (freqs <= 3400)].sum()
    high = power[(freqs >= 4500) & (freqs <= 7000)].sum()
    if speech <= 0:
        return False
    return bool(high / speech < 10 ** (-42 / 10))


def lpc(frames: np.ndarray, order: int) -> np.ndarray:
    """LPC coefficients [1, a1..ap] per row (autocorrelation method, Levinson-Durbin)."""
    n, length = frames.shape
    nfft = 1 << int(np.ceil(np.log2(2 * length)))
    spec = np.fft.rfft(frames, nfft, axis=1)
    r = np.fft.irfft(spec.real**2 + spec.imag**2, nfft, axis=1)[:, : order + 1]
    r[:, 0] *= 1.0 + 1e-9  # white-noise correction keeps it well conditioned
    r[:, 0] += 1e-12
    a = np.zeros((n, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("nj,nj->n", a[:, 1:i], r[:, i - 1 : 0 : -1]) if i > 1 else r[:, 1]
        k = -acc / err
        prev = a[:, 1:i].copy()
        a[:, 1:i] = prev + k[:, None] * prev[:, ::-1]
        a[:, i] = k
        err = err * (1.0 - k**2)
        err = np.maximum(err, 1e-15)
    return a


def pole_formants(a: np.ndarray, fs: float, top_hz: float) -> np.ndarray:
    """Formant candidates per row (Hz, ascending, NaN-padded) from LPC polynomials."""
    n, p1 = a.shape
    order = p1 - 1
    comp = np.zeros((n, order, order))
    comp[:, 0, :] = -a[:, 1:]
    comp[:, np.arange(1, order), np.arange(order - 1)] = 1.0
    roots = np.linalg.eigvals(comp)
    freqs = np.angle(roots) * fs / (2 * np.pi)
    bws = -np.log(np.maximum(np.abs(roots), 1e-9)) * fs / np.pi
    keep = (roots.imag > 0) & (freqs > MIN_FORMANT_HZ) & (freqs < top_hz) & (bws < MAX_BANDWIDTH_HZ)
    freqs = np.where(keep, freqs, np.inf)
    freqs.sort(axis=1)
    freqs[~np.isfinite(freqs)] = np.nan
    return freqs


def spacing(formants: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Formant spacing dF per row: weighted LS slope of F_n on (2n - 1) / 2 through 0."""
    k = formants.shape[1]
    x = (2 * np.arange(1, k + 1) - 1) / 2.0
    w = np.ones(k) if weights is None else weights
    valid = np.isfinite(formants)
    f = np.where(valid, formants, 0.0)
    num = (f * x * w).sum(axis=1)
    den = (valid * x**2 * w).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def estimate(
    wav16k: np.ndarray,
    frame_centres: np.ndarray,
    *,
    band_limited: bool | None = None,
    short_tract: bool = False,
) -> FormantEstimate:
    """Formants and vocal-tract length from voiced frames.

    Args:
        wav16k: 16 kHz mono speech.
        frame_centres: sample indices (16 kHz) of voiced frames to analyse.
        band_limited: force telephone-band analysis; detected when None.
        short_tract: analyse up to 7 kHz (wideband only), for high voices whose F3-F4
            may lie above the adult ceiling of 4.9 kHz (Praat's advice: ~5 kHz for men,
            5.5 kHz for women, up to 8 kHz for children).
    """
    x = np.asarray(wav16k, dtype=np.float64)
    if band_limited is None:
        band_limited = is_band_limited(x)
    if band_limited:
        fs, up, down, order, top, nform = 8_000, 1, 2, 8, 3_300.0, 3
        weights = np.array([0.5, 1.0, 1.0])
    elif short_tract:
        fs, up, down, order, top, nform = 16_000, 1, 1, 14, 7_000.0, 4
        weights = np.array([0.5, 1.0, 1.0, 1.0])
    else:
        fs, up, down, order, top, nform = 11_000, 11, 16, 12, 4_900.0, 4
        weights = np.array([0.5, 1.0, 1.0, 1.0])
    centres = np.asarray(frame_centres, dtype=np.int64)
    if centres.size > MAX_FRAMES:
        centres = centres[np.linspace(0, centres.size - 1, MAX_FRAMES).round().astype(int)]
    if centres.size < 3:
        return FormantEstimate(None, None, None, 0, band_limited)
    y = resample_poly(x, up, down)
    y = np.append(y[0], y[1:] - np.exp(-2 * np.pi * 50.0 / fs) * y[:-1])  # pre-emphasis
    length = int(round(0.030 * fs))
    half = length // 2
    starts = np.clip((centres * up) // down - half, 0, max(0, y.size - length))
    if y.size < length:
        return FormantEstimate(None, None, None, 0, band_limited)
    idx = starts[:, None] + np.arange(length)[None, :]
    frames = y[idx] * np.hamming(length)
    energy = (frames**2).sum(axis=1)
    frames = frames[energy > 1e-10]
    if frames.shape[0] < 3:
        return FormantEstimate(None, None, None, 0, band_limited)
    cand = pole_formants(lpc(frames, order), fs, top)
    table = np.full((cand.shape[0], nform), np.nan)
    k = min(nform, cand.shape[1])
    table[:, :k] = cand[:, :k]
    # Drop frames whose lowest candidate is implausibly high for F1 (F1 missed).
    table[table[:, 0] > 1_300.0] = np.nan
    medians = []
    for j in range(nform):
        col = table[:, j]
        col = col[np.isfinite(col)]
        medians.append(float(np.median(col)) if col.size >= 3 else float("nan"))
    per_frame = spacing(table, weights)
    good = np.isfinite(per_frame) & (np.isfinite(table).sum(axis=1) >= 3)
    if np.count_nonzero(good) < 3:
        formants = tuple(medians) if all(np.isfinite(medians)) else None
        return FormantEstimate(formants, None, None, int(frames.shape[0]), band_limited)
    d_f = float(np.median(per_frame[good]))
    vtl = SPEED_OF_SOUND_CM_S / (2.0 * d_f)
    formants_out = tuple(medians) if all(np.isfinite(medians)) else None
    return FormantEstimate(formants_out, vtl, d_f, int(frames.shape[0]), band_limited)
