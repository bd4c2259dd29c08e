"""Train the music-or-speech classifier behind the voice detector's "music" abstention, in one
command, and write its weights, metadata and model card.

    python -m training.music --data ../shared/data --out weights [--seed 0]

Data:
- music: the game soundtracks that Debian packages ship (wesnoth-1.16-music: orchestral;
  frozen-bubble-data: electronic; fillets-ng-data: ambient), installed with
  ``apt-get install wesnoth-1.16-music frozen-bubble-data fillets-ng-data``;
- speech: ``speech/real`` and the real references in ``speech/demos`` of the shared data (each
  speaker's recordings joined), and the same speech mixed over music at 0–20 dB
  speech-to-music ratio (speech with a music bed is speech: the voice detector must not abstain
  on it).

Every source goes through what the voice pipeline does: decode to 16 kHz mono, voice activity
(webrtcvad) keeps the "speech" regions, which are joined and cut into 4 s windows and
loudness-normalised; a third of the windows of either class get a codec round trip.
Held out for validation: the whole fillets-ng soundtrack (a music source never seen in
training), one music track in five of the others, and one speaker in five.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from detectors import metrics
from detectors.audio import load_audio
from detectors.music import N_FEATURES, RATE, build_model, features
from detectors.speech import check, loudness_normalise
from training.voice_data import held_back
from veracity.errors import InputError

log = logging.getLogger("training.music")

NAME = "music-mlp-v1"
WINDOW_S = 4.0
MUSIC = (
    ("wesnoth", "/usr/share/games/wesnoth/1.16/data/core/music/*.ogg"),
    ("frozen-bubble", "/usr/share/games/frozen-bubble/snd/*zik*.ogg"),
    ("fillets-ng", "/usr/share/games/fillets-ng/music/*.ogg"),
)
HELD_OUT_MUSIC = "fillets-ng"
FRONT_END = (
    "log-mel (40 bands) statistics, low-energy ratio, 2–8 Hz modulation, spectral flux and flatness, "
    "onset periodicity"
)
MAX_WINDOWS = {"music": 10, "speech": 12}  # per music track / per speaker


def pipeline_windows(x: np.ndarray, limit: int) -> list[np.ndarray]:
    """What the voice pipeline would score: voice-active regions joined, 4 s windows."""
    sc = check(x)
    if not sc.regions:
        return []
    joined = np.concatenate([x[int(s * RATE) : int(e * RATE)] for s, e in sc.regions])
    n = int(WINDOW_S * RATE)
    return [joined[i : i + n] for i in range(0, len(joined) - n + 1, n)][:limit]


def collect(data: Path, seed: int, root: Path = Path("/")) -> dict[str, Any]:
    """Windows with labels (1 music, 0 speech), split, kind and source."""
    rng = np.random.default_rng(seed)
    wins: list[np.ndarray] = []
    meta: list[dict[str, str]] = []
    for source, pattern in MUSIC:
        tracks = sorted(root.glob(pattern.lstrip("/")))
        if not tracks:
            log.warning("%s music not installed (%s)", source, pattern)
        for t in tracks:
            try:
                x = load_audio(t, RATE, max_seconds=120)
            except InputError as exc:
                log.warning("skipped %s: %s", t, exc.message)
                continue
            split = "val" if source == HELD_OUT_MUSIC or held_back(t.name, seed) else "train"
            for w in pipeline_windows(x, MAX_WINDOWS["music"]):
                wins.append(w)
                meta.append(
                    {"label": "music", "kind": "music", "split": split, "source": f"{source}/{t.name}"}
                )
    by_speaker: dict[str, list[Path]] = {}
    for sub in ("real", "demos"):
        root_dir = data / "speech" / sub
        for f in sorted(root_dir.rglob("*")) if root_dir.is_dir() else []:
            rel = f.relative_to(root_dir).parts
            if f.suffix.lower() in (".flac", ".wav", ".mp3") and (sub == "real" or "real" in rel):
                by_speaker.setdefault(f"{sub}:{rel[0]}:{f.parent.name}", []).append(f)
    for speaker, group in sorted(by_speaker.items()):
        split = "val" if held_back(speaker, seed) else "train"
        parts = []
        for f in group[:40]:
            try:
                parts.append(load_audio(f, RATE, max_seconds=30))
            except InputError:
                continue
        if not parts:
            continue
        src = str(group[0].parent.relative_to(data))
        for w in pipeline_windows(np.concatenate(parts), MAX_WINDOWS["speech"]):
            wins.append(w)
            meta.append({"label": "speech", "kind": "speech", "split": split, "source": src})
    # speech over a music bed, from windows of the same split
    for split in ("train", "val"):
        speech = [i for i, m in enumerate(meta) if m["kind"] == "speech" and m["split"] == split]
        music = [i for i, m in enumerate(meta) if m["kind"] == "music" and m["split"] == split]
        if not music:
            continue
        for i in speech:
            j = int(rng.choice(music))
            s, m = wins[i], wins[j]
            snr = rng.uniform(0, 20)
            ps, pm = float(np.mean(s**2)) + 1e-10, float(np.mean(m**2)) + 1e-10
            wins.append((s + m * np.sqrt(ps / pm / 10 ** (snr / 10))).astype(np.float32))
            meta.append({"label": "speech", "kind": "speech+music", "split": split,
                         "source": meta[i]["source"] + " + " + meta[j]["source"]})  # fmt: skip
    from training.voice_data import CODECS, codec_roundtrip

    feats = []
    for w in wins:
        if rng.random() < 1 / 3:
            w = codec_roundtrip(w, CODECS[int(rng.integers(1, len(CODECS)))])
        feats.append(features(loudness_normalise(w, float(rng.uniform(-30, -18)))))
    return {"features": np.stack(feats) if feats else np.zeros((0, N_FEATURES), np.float32), "meta": meta}


def train(x: np.ndarray, y: np.ndarray, seed: int, epochs: int = 300) -> Any:
    import torch

    torch.manual_seed(seed)
    model = build_model()
    model.mean.copy_(torch.from_numpy(x.mean(0)))
    model.std.copy_(torch.from_numpy(x.std(0) + 1e-6))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    pos = float(y.mean())
    weight = torch.where(yt > 0, 0.5 / max(pos, 1e-6), 0.5 / max(1 - pos, 1e-6))
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt), yt, weight=weight)
        loss.backward()
        opt.step()
    model.eval()
    return model


def evaluate(
    model: Any, x: np.ndarray, meta: list[dict[str, str]], platt: metrics.Platt, ops: dict[str, float]
) -> dict[str, Any]:
    import torch

    with torch.inference_mode():
        p = np.asarray(platt(model(torch.from_numpy(x)).double().numpy()))
    kinds = np.array([m["kind"] for m in meta])
    y = (kinds == "music").astype(int)
    out: dict[str, Any] = {"windows": metrics.summary(y, p)}
    for kind in ("music", "speech", "speech+music"):
        sel = kinds == kind
        out[f"{kind}_windows"] = {
            "n": int(sel.sum()),
            "called_music": {op: float(np.mean(p[sel] >= t)) if sel.any() else None for op, t in ops.items()},
        }
    # per recording (the file rule: the median over its windows)
    by_src: dict[tuple[str, str], list[float]] = {}
    for m, v in zip(meta, p, strict=True):
        by_src.setdefault((m["kind"], m["source"]), []).append(float(v))
    for kind in ("music", "speech", "speech+music"):
        med = [float(np.median(v)) for (k, _), v in by_src.items() if k == kind]
        out[f"{kind}_recordings"] = {
            "n": len(med),
            "called_music": {
                op: float(np.mean([v >= t for v in med])) if med else None for op, t in ops.items()
            },
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--name", default=NAME)
    ap.add_argument("--music-root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    t0 = time.time()
    d = collect(args.data, args.seed, args.music_root)
    x, meta = d["features"], d["meta"]
    split = np.array([m["split"] for m in meta])
    y = np.array([m["label"] == "music" for m in meta], dtype=np.float64)
    tr, va = split == "train", split == "val"
    if len(set(y[tr])) < 2 or len(set(y[va])) < 2:
        log.error("need music and speech in both splits (is wesnoth-1.16-music installed?)")
        return 2
    model = train(x[tr], y[tr], args.seed, args.epochs)
    import torch

    with torch.inference_mode():
        val_logits = model(torch.from_numpy(x[va])).double().numpy()
    platt = metrics.Platt.fit(val_logits, y[va])
    pv = np.asarray(platt(val_logits))
    # operating points: the share of speech windows (clean or over music) wrongly called music
    speech_p = pv[y[va] == 0]
    ops = {op: metrics.threshold_at_fpr(speech_p, float(op)) for op in ("0.01", "0.05", "0.1")}
    val_meta = [m for m, v in zip(meta, va, strict=True) if v]
    ev = evaluate(model, x[va], val_meta, platt, ops)
    counts: dict[str, int] = {}
    for m in meta:
        k = f"{m['split']}:{m['kind']}"
        counts[k] = counts.get(k, 0) + 1
    from detectors.weights import save_weights
    from training import music_card

    n_params = sum(p.numel() for p in model.net.parameters())
    info = save_weights(
        args.out,
        args.name,
        model.state_dict(),
        {
            "task": "music-detection",
            "architecture": "MusicMLP",
            "arch": {"hidden": 32},
            "parameters": int(n_params),
            "input": {
                "rate": RATE,
                "channels": 1,
                "window_s": WINDOW_S,
                "features": N_FEATURES,
                "front_end": FRONT_END,
            },
            "output": "one logit per window; higher means music without speech",
            "calibration": {"method": "platt", "a": platt.a, "b": platt.b, "fitted_on": "validation windows"},
            "operating_points": ops,
            "default_operating_point": "0.01",
            "evaluation": ev,
            "training": {
                "command": f"python -m training.music --data {args.data} --out {args.out} --seed {args.seed}",
                "seed": args.seed,
                "epochs": args.epochs,
                "windows": counts,
                "seconds": round(time.time() - t0, 1),
            },
            "license": "weights: Apache-2.0 (trained by this project); music: the Debian packages' licences (see the card)",
        },
    )
    meta_doc = dict(info.meta)
    (args.out / meta_doc["card"]).write_text(music_card.render(meta_doc), encoding="utf-8")
    log.info("wrote %s: %s", info.path, json.dumps(ev["windows"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
