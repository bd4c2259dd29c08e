"""Noise-suppressed views of the voice corpus's training clips, for the trainer's ``--views P``.

    python -m training.voice_views --corpus .cache/voice_data [--per-clip 2] [--seed 0]

Real speech that went through noise suppression (podcast and newsroom tools, phone and meeting
apps) is flagged far more often than the untouched recording (the card's ``processed`` rows), so
this writes, for every training clip of either class, ``--per-clip`` copies through a noise
suppressor, and the trainer swaps a clip for one of its copies with probability P. Each copy
draws one of two kinds of suppressor (both classes alike, so the suppression itself teaches
nothing about the label):

- ``fft``: ffmpeg's FFT denoiser (``afftdn``) at a random reduction (6–30 dB) and noise floor
  (-50 to -25 dB); where ffmpeg is not installed, gating takes its place (``views.csv`` says which);
- ``gate``: spectral gating written here (a per-bin noise estimate from a low percentile of the
  clip's power, a gain with a random over-subtraction and floor, smoothed over frames).

Before either, with probability ``NOISE_P``, white or pink noise at 10–35 dB SNR (a noisy
recording being cleaned). Wavelet thresholding (ffmpeg ``afwtdn``) and sox's profile-based noise
reduction are left out, so that ``scripts/make_voice_eval_sets.py``'s sets of them stay unseen.
Copies keep the clip's length and RMS. Validation clips get none. Writes
``CORPUS/views/<clip>-<k>.flac`` and ``CORPUS/views.csv`` (clip path, view path, how it was made).
"""

from __future__ import annotations

import argparse
import csv
import functools
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np

log = logging.getLogger("veracity.voice_views")

RATE = 16000
VIEWS_DIR = "views"
VIEWS_CSV = "views.csv"
NOISE_P = 0.6
MAX_LAG = 4000  # samples: the most a suppressor may delay its output (afftdn: 400 here)


@functools.cache
def have_ffmpeg() -> bool:
    """Whether ffmpeg is on the PATH (looked up once per process, not once per copy)."""
    return shutil.which("ffmpeg") is not None


def fit_to(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` cut or zero-padded to ``n`` samples."""
    return np.pad(y[:n], (0, max(0, n - len(y)))).astype(np.float32)


def with_noise(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """``x`` plus white or pink noise at a random 10–35 dB SNR."""
    snr = float(rng.uniform(10, 35))
    noise = rng.normal(size=len(x))
    colour = "white"
    if rng.random() < 0.5:  # pink: 1/f power, shaped in the frequency domain
        spec = np.fft.rfft(noise)
        spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
        noise, colour = np.fft.irfft(spec, n=len(x)), "pink"
    p_x, p_n = float(np.mean(x**2)) + 1e-10, float(np.mean(noise**2)) + 1e-12
    noisy = x + noise * np.sqrt(p_x / p_n / 10 ** (snr / 10))
    return noisy.astype(np.float32), f"{colour} noise {snr:.0f} dB, "


def fft_denoise(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """ffmpeg's ``afftdn`` over ``x`` (raw float samples through pipes) at random settings."""
    nr, nf = float(rng.uniform(6, 30)), float(rng.uniform(-50, -25))
    filt = f"afftdn=nr={nr:.1f}:nf={nf:.1f}"
    raw = ["-f", "f32le", "-ar", str(RATE), "-ac", "1"]
    cmd = ["ffmpeg", "-v", "error", "-nostdin", *raw, "-i", "pipe:0", "-af", filt, *raw, "pipe:1"]
    tail = np.zeros(MAX_LAG, np.float32)  # room for the filter's delay, removed below
    done = subprocess.run(  # noqa: S603 (a fixed command; the input is samples)
        cmd, input=np.concatenate([x, tail]).astype("<f4").tobytes(), capture_output=True, check=True
    )
    y = np.frombuffer(done.stdout, "<f4")
    return fit_to(y[delay(x, y) :], len(x)), filt


def delay(x: np.ndarray, y: np.ndarray, max_lag: int = MAX_LAG) -> int:
    """How many samples (0 to ``max_lag``) ``y`` lags ``x`` by: the peak of their cross-correlation."""
    n = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    c = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)
    return int(np.argmax(c[: max_lag + 1]))


def spectral_gate(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Spectral gating: per frequency bin a noise power (from a low percentile of the clip's frames),
    a gain max(1 - beta noise / power, floor) smoothed over three frames, overlap-added back."""
    n_fft, hop = 512, 128
    pct, beta, floor_db = float(rng.uniform(5, 25)), float(rng.uniform(1, 6)), float(rng.uniform(-40, -6))
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    pad = np.pad(x, (n_fft, n_fft))
    starts = np.arange(0, len(pad) - n_fft + 1, hop)
    frames = np.stack([pad[s : s + n_fft] * window for s in starts])
    spec = np.fft.rfft(frames, axis=1)
    power = np.abs(spec) ** 2
    # the noise's mean power per bin from a low percentile (a noise-only bin's power is exponential:
    # its q-quantile is -ln(1 - q) times its mean)
    noise = np.percentile(power, pct, axis=0, keepdims=True) / -np.log1p(-pct / 100)
    gain = np.maximum(1 - beta * noise / np.maximum(power, 1e-12), 10 ** (floor_db / 20))
    g = np.pad(gain, ((1, 1), (0, 0)), mode="edge")  # smoothed over three frames (less musical noise)
    gain = (g[:-2] + g[1:-1] + g[2:]) / 3
    out = np.fft.irfft(spec * gain, n=n_fft, axis=1) * window
    y = np.zeros(len(pad))
    norm = np.zeros(len(pad))
    for k, s in enumerate(starts):
        y[s : s + n_fft] += out[k]
        norm[s : s + n_fft] += window**2
    y = y / np.maximum(norm, 1e-3)
    return fit_to(
        y[n_fft : n_fft + len(x)], len(x)
    ), f"gate p{pct:.0f} beta {beta:.1f} floor {floor_db:.0f} dB"


def view_of(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One noise-suppressed copy of ``x`` (same length and RMS) and how it was made."""
    made = ""
    y = x.astype(np.float32)
    if rng.random() < NOISE_P:
        y, made = with_noise(y, rng)
    use_fft = rng.random() < 0.5 and have_ffmpeg()  # else gating: same draws
    y, how = (fft_denoise if use_fft else spectral_gate)(y, rng)
    rms_x, rms_y = float(np.sqrt(np.mean(x**2))), float(np.sqrt(np.mean(y**2)))
    if rms_y > 1e-8:
        y = y * (rms_x / rms_y)
    return np.clip(y, -1, 1).astype(np.float32), made + how


def build(corpus: Path, per_clip: int = 2, seed: int = 0) -> int:
    """Write the views of every training clip of ``corpus``; returns how many were written."""
    import soundfile as sf

    with (corpus / "meta.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    (corpus / VIEWS_DIR).mkdir(exist_ok=True)
    if not have_ffmpeg():
        log.warning("ffmpeg not found: every view is made by spectral gating")
    out = []
    for i, row in enumerate(rows):
        if row["split"] != "train":
            continue
        x = sf.read(corpus / row["path"], dtype="float32")[0]
        rng = np.random.default_rng([seed, i])
        for k in range(per_clip):
            y, how = view_of(x, rng)
            name = f"{VIEWS_DIR}/{Path(row['path']).stem}-{k}.flac"
            sf.write(corpus / name, y, RATE)
            out.append({"clip": row["path"], "view": name, "made": how})
        if len(out) % 500 < per_clip:
            log.info("%d views written", len(out))
    with (corpus / VIEWS_CSV).open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["clip", "view", "made"])
        w.writeheader()
        w.writerows(out)
    return len(out)


def load_views(corpus: Path, rows: list[dict[str, str]]) -> dict[int, list[np.ndarray]]:
    """The views of ``corpus`` by the index of their clip in ``rows`` (empty without ``views.csv``)."""
    import soundfile as sf

    path = corpus / VIEWS_CSV
    if not path.is_file():
        return {}
    index = {r["path"]: i for i, r in enumerate(rows)}
    views: dict[int, list[np.ndarray]] = {}
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["clip"] in index:
                views.setdefault(index[r["clip"]], []).append(sf.read(corpus / r["view"], dtype="float32")[0])
    return views


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--per-clip", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not (args.corpus / "meta.csv").is_file():
        raise SystemExit(f"{args.corpus} holds no corpus (meta.csv); build one with training.voice_data")
    n = build(args.corpus, args.per_clip, args.seed)
    log.info("%d views in %s", n, args.corpus / VIEWS_DIR)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
