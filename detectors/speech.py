"""Speech preprocessing for voice analysis: loudness, voice activity, windows, and the
reasons to abstain (no speech, too little speech, a steady tone, heavy clipping).

Pure functions on mono float32 samples in [-1, 1]; nothing here loads a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 16_000
FRAME_MS = 30
MIN_SPEECH_S = 1.5
MAX_CLIPPED = 0.01  # fraction of samples at full scale
MAX_TONALITY = 0.9  # share of a frame's energy in its strongest frequency (± one bin)
MAX_TONE_DRIFT = 2.0  # bins: a tone's strongest frequency stays put; a voice's pitch moves


def rms_dbfs(x: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * np.log10(max(r, 1e-10))


def loudness_normalise(
    x: np.ndarray, target_dbfs: float = -23.0, mask: np.ndarray | None = None
) -> np.ndarray:
    """Scale so that the RMS level (of the samples in ``mask`` when given) is ``target_dbfs``;
    peaks are kept under full scale."""
    ref = x[mask] if mask is not None and mask.any() else x
    level = rms_dbfs(ref)
    if level <= -100:
        return x.astype(np.float32)
    gain = 10 ** ((target_dbfs - level) / 20)
    peak = float(np.max(np.abs(x))) * gain
    if peak > 0.99:
        gain *= 0.99 / peak
    return (x * gain).astype(np.float32)


def vad_frames(
    x: np.ndarray, rate: int = RATE, aggressiveness: int = 2, frame_ms: int = FRAME_MS
) -> np.ndarray:
    """One boolean per ``frame_ms`` frame: webrtcvad's speech decision."""
    import webrtcvad

    if rate not in (8000, 16000, 32000, 48000):
        raise ValueError("webrtcvad needs 8, 16, 32 or 48 kHz")
    vad = webrtcvad.Vad(aggressiveness)
    n = rate * frame_ms // 1000
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    frames = len(pcm) // n
    return np.array(
        [vad.is_speech(pcm[i * n : (i + 1) * n].tobytes(), rate) for i in range(frames)], dtype=bool
    )


def regions(
    mask: np.ndarray, frame_s: float = FRAME_MS / 1000, max_gap_s: float = 0.3, min_len_s: float = 0.09
) -> list[tuple[float, float]]:
    """Speech regions (start, end) in seconds from per-frame decisions, bridging short gaps."""
    out: list[list[float]] = []
    for i, on in enumerate(mask):
        if not on:
            continue
        start = i * frame_s
        if out and start - out[-1][1] <= max_gap_s:
            out[-1][1] = start + frame_s
        else:
            out.append([start, start + frame_s])
    return [(s, e) for s, e in out if e - s >= min_len_s]


def tonality(x: np.ndarray, rate: int = RATE, frame_ms: int = 64) -> float:
    """Median share of frame energy in the strongest frequency (± 1 bin) when that frequency is
    steady: near 1 for a tone; 0 when the strongest frequency moves, as a voice's pitch does."""
    n = rate * frame_ms // 1000
    frames = len(x) // n
    if frames == 0:
        return 0.0
    f = x[: frames * n].reshape(frames, n) * np.hanning(n)
    p = np.abs(np.fft.rfft(f, axis=1)) ** 2
    total = p.sum(axis=1) + 1e-12
    k = p.argmax(axis=1)
    idx = np.arange(frames)
    peak = p[idx, k] + p[idx, np.maximum(k - 1, 0)] + p[idx, np.minimum(k + 1, p.shape[1] - 1)]
    loud = total > total.max() * 1e-3
    if not loud.any():
        return 0.0
    share = float(np.median((peak / total)[loud]))
    # a steady tone keeps its strongest bin; clean voiced speech (synthetic included) can put
    # most energy in one harmonic, but its pitch moves from frame to frame
    drift = float(np.std(k[loud]))
    return share if drift <= MAX_TONE_DRIFT else 0.0


@dataclass(frozen=True)
class SpeechCheck:
    """What the audio holds, and the abstention reason when it cannot be judged."""

    duration_s: float
    speech_s: float
    regions: tuple[tuple[float, float], ...]
    clipped: float
    tonality: float
    reason: str | None  # no-speech | too-little-speech | tone | clipped | None

    @property
    def usable(self) -> bool:
        return self.reason is None


ABSTAIN_REASONS = {
    "no-speech": "no speech was found",
    "too-little-speech": f"less than {MIN_SPEECH_S} s of speech",
    "tone": "a steady tone, not speech",
    "clipped": "the audio is heavily clipped",
}


def abstain_reason(speech_s: float, tone: float, clipped: float) -> str | None:
    """Why a recording cannot be judged (a key of ABSTAIN_REASONS), or None."""
    if speech_s == 0:
        return "no-speech"
    if tone > MAX_TONALITY:
        return "tone"
    if speech_s < MIN_SPEECH_S:
        return "too-little-speech"
    if clipped > MAX_CLIPPED:
        return "clipped"
    return None


def check(x: np.ndarray, rate: int = RATE) -> SpeechCheck:
    duration = len(x) / rate
    clipped = float(np.mean(np.abs(x) >= 0.999)) if x.size else 0.0
    mask = vad_frames(x, rate) if x.size >= rate * FRAME_MS // 1000 else np.zeros(0, bool)
    regs = tuple(regions(mask))
    speech_s = float(sum(e - s for s, e in regs))
    speech = (
        np.concatenate([x[int(s * rate) : int(e * rate)] for s, e in regs])
        if regs
        else np.zeros(0, np.float32)
    )
    tone = tonality(speech, rate) if speech.size else 0.0
    reason = abstain_reason(speech_s, tone, clipped)
    return SpeechCheck(duration, speech_s, regs, clipped, tone, reason)
