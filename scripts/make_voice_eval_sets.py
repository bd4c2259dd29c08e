"""Labelled whole-file sets for ``veracity evaluate --detector voice``, from data the voice
model never trained on.

    .venv/bin/python scripts/make_voice_eval_sets.py --data ../shared/data --out .cache/voice_eval

Writes ``labels.csv`` files (``path,label,group``; ``group`` is the speaker or engine voice of
each file, so that ``veracity evaluate`` draws a speaker's files together for its intervals; the
HierSpeech++ set, whose files name no speaker, has no such column) under ``--out``:

- ``hierspeechpp/``: the HierSpeech++ demo (zero-shot TTS and eight voice-conversion systems)
  against its own real references, the files as published (held out of training entirely);
- ``flite/``: flite TTS (four voices, a TTS engine never trained on) against the real
  recordings of the speakers held back from training (the corpus's ``split=val`` reals);
- ``heldback_neural/``: the neural TTS/VC files of the held-back speakers in the trained neural
  sources (Tortoise, CycleGAN-VC2, SpeechT5, VoiceCraft, YourTTS) against the same real
  recordings;
- ``piper/`` and ``kokoro/`` (where ``training.neural_tts`` finds its engines): two modern
  neural TTS systems reading the builder's sentences, against the same real recordings.
  Piper's VITS voice at three sampling settings: an engine that no voice model has trained on.
  Kokoro-82M in the two voices that the corpus's kokoro family holds out of training
  (``voice_data.KOKORO_VAL_VOICES``) and a mix of them per sentence: voices never trained on,
  even by a model trained on a corpus with that family (the shipped voice-lcnn-whisper-v4 and -v5 saw
  no Kokoro at all). Written at the engines' own rates (22.05 and 24 kHz) as 16-bit WAV.
- ``splices/``: partial fakes. A held-back speaker's real recordings are joined into files of
  10 s or more; each such file gets three partial fakes with 1, 2 and 4 s of it replaced by a
  piece of a held-back neural fake (the same speaker's where there is one), loudness-matched and
  cross-faded. Against the joined real files: how much of a file must be synthetic before the
  whole-file score notices (a spliced piece shares its windows with real speech).
- ``joined/``: longer files, where the window hop and the file's quantile over many windows
  matter: the held-back real recordings joined in order (speakers one after another, as in a
  conversation) and their trained-family neural fakes joined per generator, into files of 30 s
  or more.
- ``ivr_prompts/`` (where the Debian ``asterisk-core-sounds-*-wav`` packages are installed):
  real speech only, professional telephone-system prompts (8 kHz WAV as packaged), four
  consecutive prompts of one voice joined per file, at most ``IVR_FILES`` files per voice; unseen
  speakers and narrow-band audio, so what it measures is how many real files get flagged.

``--corpus`` names the built corpus whose ``split=val`` reals are the held-back recordings;
without one, the same split is worked out from the data (``voice_data.split_for``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import voice_data  # noqa: E402

if TYPE_CHECKING:
    import numpy as np

IVR_FILES = 16  # files per prompt voice
IVR_STRIDE = 20  # prompts between the starts of two files (alphabetical order spreads topics)
IVR_JOIN = 4  # prompts joined per file (one prompt is often under the 1.5 s of speech needed)


Row = tuple[str, ...]  # (path, label) or (path, label, group)


def write(folder: Path, rows: list[Row]) -> None:
    """``labels.csv`` for ``rows``: with a ``group`` column when every row names one."""
    folder.mkdir(parents=True, exist_ok=True)
    grouped = bool(rows) and all(len(r) == 3 for r in rows)
    with (folder / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "group"] if grouped else ["path", "label"])
        w.writerows(rows if grouped else [r[:2] for r in rows])
    print(
        f"{folder / 'labels.csv'}: {sum(r[1] == 'real' for r in rows)} real, {sum(r[1] == 'fake' for r in rows)} fake"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--corpus", type=Path, default=ROOT / ".cache" / "voice_data", help="for the held-back speakers"
    )
    ap.add_argument(
        "--only",
        choices=("ivr_prompts", "splices", "joined"),
        help="write only this set",
    )
    args = ap.parse_args()
    if args.only in (None, "ivr_prompts"):
        rows = ivr_prompts(args.out / "ivr_prompts")
        if rows or args.only:
            write(args.out / "ivr_prompts", rows)
    if args.only in ("splices", "joined"):
        held, fakes = heldback(args.data, args.corpus)
        make = splices if args.only == "splices" else joined
        write(args.out / args.only, make(args.out / args.only, args.data, held, fakes))
    if args.only:
        return 0
    demo = (args.data / "speech" / "demos" / "hierspeechpp_demo").resolve()
    rows = [
        (str(f), "real" if "real" in f.relative_to(demo).parts else "fake")
        for f in sorted(demo.rglob("*"))
        if f.suffix.lower() in (".flac", ".wav", ".mp3")
    ]
    write(args.out / "hierspeechpp", rows)
    import soundfile as sf

    flite_dir = args.out / "flite"
    flite_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, text in enumerate(voice_data.SENTENCES):
        for voice in voice_data.FLITE_VOICES:
            path = flite_dir / f"flite-{voice}-{k:02d}.wav"
            sf.write(path, voice_data.flite(text, voice), 16000, subtype="PCM_16")
            rows.append((path.name, "fake", f"flite:{voice}"))
    held, fakes = heldback(args.data, args.corpus)
    reals: list[Row] = [(str(voice_data.source_path(args.data, s).resolve()), "real", g) for s, g in held]
    write(flite_dir, rows + reals)
    write(
        args.out / "heldback_neural", [(str((args.data / s).resolve()), "fake", g) for s, g in fakes] + reals
    )
    write(args.out / "splices", splices(args.out / "splices", args.data, held, fakes))
    write(args.out / "joined", joined(args.out / "joined", args.data, held, fakes))
    for name, fake_rows in neural_tts_sets(args.out).items():
        write(args.out / name, fake_rows + reals)
    return 0


SPLICE_SECONDS = (1.0, 2.0, 4.0)  # one partial fake of each length per joined real file
SPLICE_JOIN_S = 10.0  # a joined real file holds at least this much audio
JOINED_S = 30.0  # a file of the joined set holds at least this much audio
JOIN_GAP_S = 0.25  # silence between the recordings joined
SPLICE_FADE_S = 0.02


def join_runs(data: Path, items: list[tuple[str, str]], seconds: float) -> list[tuple[str, np.ndarray]]:
    """(key, audio) for ``items`` (source, key) joined in order, ``JOIN_GAP_S`` of silence between
    recordings, into files of at least ``seconds`` per key; a key's shorter rest is dropped."""
    import numpy as np

    from detectors.audio import load_audio
    from detectors.speech import RATE

    gap = np.zeros(int(JOIN_GAP_S * RATE), np.float32)
    out: list[tuple[str, np.ndarray]] = []
    runs: dict[str, list[np.ndarray]] = {}
    length: dict[str, int] = {}  # samples in each key's run so far, gaps included
    for source, key in items:
        x = load_audio(voice_data.source_path(data, source), RATE)
        runs.setdefault(key, []).append(x)
        length[key] = length.get(key, 0) + len(x) + len(gap)
        if length[key] >= seconds * RATE:
            out.append((key, np.concatenate([y for x in runs.pop(key) for y in (x, gap)])))
            del length[key]
    return out


def joined(folder: Path, data: Path, held: list[tuple[str, str]], fakes: list[tuple[str, str]]) -> list[Row]:
    """The held-back real recordings joined in order, and their neural fakes joined per generator
    (the fake's folder), into files of at least ``JOINED_S`` seconds."""
    import soundfile as sf

    from detectors.speech import RATE

    folder.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for label, items in (
        ("real", [(s, "real") for s, _ in held]),
        ("fake", [(s, str(Path(s).parent)) for s, _ in fakes]),
    ):
        for k, (key, x) in enumerate(join_runs(data, items, JOINED_S)):
            path = folder / f"{label}-{k:03d}.wav"
            sf.write(path, x, RATE, subtype="PCM_16")
            rows.append((path.name, label, f"{key}#{k}" if label == "real" else key))
    return rows


def splices(
    folder: Path, data: Path, held: list[tuple[str, str]], fakes: list[tuple[str, str]], seed: int = 0
) -> list[Row]:
    """Partial fakes over longer real files. A held-back speaker's recordings are joined in
    order (``JOIN_GAP_S`` of silence between them) into real files of at least
    ``SPLICE_JOIN_S`` seconds (a shorter rest is dropped); each real file gets one partial fake
    per length in ``SPLICE_SECONDS``: that many seconds between its first and last speech
    replaced by speech from a held-back neural fake of the same speaker (any held-back neural
    fake where the speaker has none), scaled to the RMS of what it replaces, with raised-cosine
    cross-fades at both joins. Rows for both: a real file and its partial fakes share a group."""
    import numpy as np
    import soundfile as sf

    from detectors.audio import load_audio
    from detectors.speech import RATE, check

    @cache
    def donor(source: str) -> tuple[np.ndarray, tuple[tuple[float, float], ...]]:
        """A fake's audio and speech regions, decoded once however often it is drawn."""
        x = load_audio(data / source, RATE)
        return x, tuple(check(x).regions)

    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[str]] = {}
    for source, speaker in fakes:
        by_speaker.setdefault(speaker, []).append(source)
    everyone = [source for source, _ in fakes]
    if not everyone:
        return []
    fade = int(SPLICE_FADE_S * RATE)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade, dtype=np.float32))
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for k, (speaker, real) in enumerate(join_runs(data, held, SPLICE_JOIN_S)):
        path = folder / f"real-{k:03d}.wav"
        sf.write(path, real, RATE, subtype="PCM_16")
        rows.append((path.name, "real", f"{speaker}#{k}"))
        regions = check(real).regions
        donors = by_speaker.get(speaker) or everyone
        for seconds in SPLICE_SECONDS:
            n = int(seconds * RATE)
            a0, a1 = int(regions[0][0] * RATE), int(regions[-1][1] * RATE) - n  # within the speech
            fake, fregions = donor(donors[int(rng.integers(len(donors)))])
            if a1 <= a0 or not fregions or len(fake) < n:
                continue
            lo, hi = int(fregions[0][0] * RATE), min(int(fregions[-1][1] * RATE), len(fake)) - n
            b = int(rng.integers(lo, hi + 1)) if hi >= lo else max(0, min(lo, len(fake) - n))
            piece = fake[b : b + n].astype(np.float32)
            at = int(rng.integers(a0, a1 + 1))
            replaced = real[at : at + n]
            piece *= float(np.sqrt(np.mean(replaced**2)) / max(np.sqrt(np.mean(piece**2)), 1e-6))
            piece[:fade] = piece[:fade] * ramp + replaced[:fade] * (1 - ramp)
            piece[-fade:] = piece[-fade:] * ramp[::-1] + replaced[-fade:] * (1 - ramp[::-1])
            path = folder / f"splice-{k:03d}-{seconds:g}s.wav"
            sf.write(
                path,
                np.clip(np.concatenate([real[:at], piece, real[at + n :]]), -1, 1),
                RATE,
                subtype="PCM_16",
            )
            rows.append((path.name, "fake", f"{speaker}#{k}"))
    return rows


def ivr_prompts(folder: Path, root: Path = Path("/")) -> list[Row]:
    """Asterisk's prompt voices (``sounds/<lang>_<REGION>_<f|m>_<Name>/*.wav``; the bare
    language folders are links to them): ``IVR_JOIN`` consecutive prompts joined per file."""
    import numpy as np
    import soundfile as sf

    rows: list[Row] = []
    for voice in sorted((root / "usr/share/asterisk/sounds").glob("??_??_[fm]_*")):
        prompts = sorted(voice.glob("*.wav"))
        for k in range(IVR_FILES):
            group = prompts[k * IVR_STRIDE : k * IVR_STRIDE + IVR_JOIN]
            if len(group) < IVR_JOIN:
                break
            parts = [sf.read(f, dtype="int16") for f in group]
            rates = {rate for _, rate in parts}
            if len(rates) != 1:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{voice.name}-{k:02d}.wav"
            sf.write(path, np.concatenate([x for x, _ in parts]), rates.pop(), subtype="PCM_16")
            rows.append((path.name, "real", voice.name))
    return rows


def heldback(data: Path, corpus: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The held-back speakers' real sources and trained-family neural fakes (not HierSpeech++),
    each as (source, speaker); a fake's speaker is the voice its generator names (the corpus's
    ``speaker`` field)."""
    if (corpus / "meta.csv").is_file():
        with (corpus / "meta.csv").open(newline="") as fh:
            rows = [
                r for r in csv.DictReader(fh) if r["split"] == "val" and "hierspeechpp" not in r["source"]
            ]
    else:
        print(f"{corpus / 'meta.csv'} not found: held-back speakers worked out from the data")
        rows = [
            {"source": c.source, "label": c.label, "family": c.family, "speaker": c.speaker}
            for _, c in voice_data.sources(data, None)
            if voice_data.split_for(c, 0) == "val" and "hierspeechpp" not in c.source
        ]
    real = sorted({(r["source"], r["speaker"]) for r in rows if r["label"] == "real"})
    fake = sorted({(r["source"], r["speaker"]) for r in rows if r["family"] == "neural"})
    return real, fake


def neural_tts_sets(out: Path) -> dict[str, list[Row]]:
    """Piper and Kokoro reading the builder's sentences (the engines this machine has)."""
    import numpy as np
    import soundfile as sf

    from training import neural_tts

    sets: dict[str, list[Row]] = {}
    have = neural_tts.available()
    if "piper" in have:
        piper, folder, rows = neural_tts.Piper(), out / "piper", []
        folder.mkdir(parents=True, exist_ok=True)
        for k, text in enumerate(voice_data.SENTENCES):
            for j, (noise, length) in enumerate(((0.667, 1.0), (0.4, 0.9), (0.9, 1.15))):
                path = folder / f"piper-joe-{k:02d}-{j}.wav"
                sf.write(path, piper(text, noise=noise, length=length), piper.rate, subtype="PCM_16")
                rows.append((path.name, "fake", "piper:joe"))
        sets["piper"] = rows
    if "kokoro" in have:
        kokoro, folder, rows = neural_tts.Kokoro(), out / "kokoro", []
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        for k, text in enumerate(voice_data.SENTENCES):
            for voice in voice_data.kokoro_voices(list(voice_data.KOKORO_VAL_VOICES), rng):
                path = folder / f"kokoro-{voice_data.kokoro_tag(voice)}-{k:02d}.wav"
                sf.write(path, kokoro(text, voice), kokoro.rate, subtype="PCM_16")
                rows.append((path.name, "fake", f"kokoro:{voice_data.kokoro_tag(voice)}"))
        sets["kokoro"] = rows
    return sets


if __name__ == "__main__":
    raise SystemExit(main())
