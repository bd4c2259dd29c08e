"""Labelled evaluation sets for ``veracity evaluate --detector face``, built from ../shared/data.

    .venv/bin/python scripts/make_face_eval_sets.py --data ../shared/data --out .cache/face_eval

Writes under --out:
- ``deepfacelive/``: each side-by-side DeepFaceLive demo split into two H.264 videos, the
  real source (left half, label real) and its live swap (right half, label fake), both
  re-encoded the same way; ``labels.csv`` also has a ``split`` column saying whether the
  video was in the training (train) or held-out (val) split of training.face_data.
- ``stylegan_ffhq/labels.csv``: the synthetic_vs_real photos, with the same split column.
- ``other_real/labels.csv``: the sample photos of face_recognition, openface and insightface
  (real, never trained on; pre-aligned copies left out): a false-positive check.
Each folder also has ``heldout.csv`` with the held-out rows only (``evaluate`` ignores the
extra ``split`` column; its ``group`` column names the source video of the two DeepFaceLive
halves, so that evaluate's bootstrap intervals draw whole videos). Absolute paths are fine: ``evaluate`` joins relative ones to the CSV's folder.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.face_data import split_of  # noqa: E402


def split_video(src: Path, left: Path, right: Path) -> None:
    import av

    with av.open(str(src)) as inp:
        vs = inp.streams.video[0]
        rate = vs.average_rate or 30
        w, h = vs.codec_context.width, vs.codec_context.height
        half = (w // 2) & ~1
        outs = []
        for path in (left, right):
            c = av.open(str(path), "w")
            s = c.add_stream("libx264", rate=rate)
            s.width, s.height, s.pix_fmt = half, h & ~1, "yuv420p"
            s.options = {"crf": "20", "preset": "veryfast"}
            outs.append((c, s))
        for frame in inp.decode(vs):
            img = frame.to_ndarray(format="rgb24")
            for k, (c, s) in enumerate(outs):
                part = img[: h & ~1, k * (w // 2) : k * (w // 2) + half]
                for p in s.encode(av.VideoFrame.from_ndarray(part.copy(), format="rgb24")):
                    c.mux(p)
        for c, s in outs:
            for p in s.encode():
                c.mux(p)
            c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--seed", type=int, default=0, help="the seed training.face_data used (for the split column)"
    )
    ap.add_argument("--val-videos", type=int, default=4)
    args = ap.parse_args()

    demos = args.data / "faces" / "face_swap_pairs" / "deepfacelive_demos"
    videos = sorted(demos.glob("*.mp4"))
    ranked = sorted(videos, key=lambda v: hashlib.sha256(f"{args.seed}:{v.name}".encode()).hexdigest())
    val = {v.name for v in ranked[: args.val_videos]}
    out = args.out / "deepfacelive"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for v in videos:
        left, right = out / f"{v.stem}_real.mp4", out / f"{v.stem}_swap.mp4"
        if not (left.exists() and right.exists()):
            split_video(v, left, right)
        split = "val" if v.name in val else "train"
        rows += [(left.name, "real", split, v.stem), (right.name, "fake", split, v.stem)]  # one source video
    write(out, rows)

    svr = args.data / "faces" / "synthetic_vs_real"
    rows = []
    for sub, label in (("real", "real"), ("fake", "fake")):
        for f in sorted((svr / sub).glob("*.jpg")):
            rows.append((str(f.resolve()), label, split_of(f"{sub}/{f.name}", 0.3, args.seed), ""))
    write(args.out / "stylegan_ffhq", rows)

    # real photos never used in training (sample images of face libraries): false positives only
    rows = []
    for sub in ("face_recognition", "openface", "insightface"):
        for f in sorted((args.data / "faces" / sub).rglob("*")):
            if f.suffix.lower() in (".jpg", ".jpeg", ".png") and "aligned" not in str(f):
                rows.append((str(f.resolve()), "real", "val", ""))
    write(args.out / "other_real", rows)
    print(f"wrote evaluation sets under {args.out}")
    return 0


def write(folder: Path, rows: list[tuple[str, str, str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, keep in (("labels.csv", None), ("heldout.csv", "val")):
        with (folder / name).open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["path", "label", "split", "group"])
            w.writerows(r for r in rows if keep is None or r[2] == keep)


if __name__ == "__main__":
    raise SystemExit(main())
