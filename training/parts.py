"""Split a folder into parts that each fit one call to a lent GPU machine (64 MiB with the
repository), and join them again there with every file checked.

    python -m training.parts split --src .cache/face_pack --out .cache/face_parts [--part-mb 55]
    python -m training.parts join --pack .cache/face_parts --out /tmp/face_pack

``split`` places the files (hard links where the file system allows) into ``part1``,
``part2``, ... of at most ``--part-mb`` MB each and lists every file with its sha256 in
``part1/PACK.sha256``. ``join`` rebuilds the folder from whichever parts lie in the pack folder
and checks each file against that list: a missing or changed file, or a listed path that
leads outside the folder, is an error. ``training.voice_pack`` splits a voice corpus this way.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from detectors.weights import sha256_file as sha256

log = logging.getLogger("training.parts")

MANIFEST = "PACK.sha256"


def place(src: Path, dst: Path) -> None:
    """``dst`` as a hard link to ``src``, or a copy where links cannot be made."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def split(files: Sequence[tuple[str, Path]], out: Path, part_mb: float = 55.0) -> list[Path]:
    """Place ``files`` (relative name, path) into parts of at most ``part_mb`` MB; the parts."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty")
    bad = [rel for rel, _ in files if not _safe(rel)]
    if bad:
        raise SystemExit(f"not a relative path inside the folder: {bad[0]!r}")
    missing = [rel for rel, p in files if not p.is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} files are missing, e.g. {missing[0]}")
    limit = part_mb * 1e6
    parts: list[list[tuple[str, Path]]] = [[]]
    size = 0
    for rel, path in files:
        n = path.stat().st_size
        if n > limit:
            raise SystemExit(f"{rel} alone is larger than a part ({n / 1e6:.1f} MB)")
        if size + n > limit and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append((rel, path))
        size += n
    folders = []
    for k, part in enumerate(parts, 1):
        folder = out / f"part{k}"
        folder.mkdir(parents=True)
        for rel, path in part:
            place(path, folder / rel)
        folders.append(folder)
    (out / "part1" / MANIFEST).write_text(
        "".join(f"{sha256(p)}  {rel}\n" for rel, p in files), encoding="utf-8"
    )
    for folder in folders:
        mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        log.info("%s: %.1f MB", folder, mb)
    log.info("split %d files into %d parts", len(files), len(folders))
    return folders


def _safe(rel: str) -> bool:
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel


def join(pack: Path, out: Path) -> int:
    """Rebuild the folder from the parts in ``pack`` and verify every file; the number of files."""
    parts = sorted((p for p in pack.glob("part*") if p.name[4:].isdigit()), key=lambda p: int(p.name[4:]))
    manifest = pack / "part1" / MANIFEST
    if not manifest.is_file():
        raise SystemExit(f"no {MANIFEST} in {pack / 'part1'}")
    wanted: dict[str, str] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        if not _safe(rel):
            raise SystemExit(f"refusing a pack path outside the folder: {rel!r}")
        wanted[rel] = digest
    out.mkdir(parents=True, exist_ok=True)
    bad = []
    for rel, digest in wanted.items():
        found = [part / rel for part in parts if (part / rel).is_file()]
        if not found:
            bad.append(f"{rel} (missing)")
            continue
        place(found[0], out / rel)
        if sha256(out / rel) != digest:
            bad.append(f"{rel} (changed)")
    if bad:
        raise SystemExit(f"{len(bad)} files failed the check, e.g. {bad[0]}")
    log.info("joined %d files from %d parts into %s, every sha256 checked", len(wanted), len(parts), out)
    return len(wanted)


def folder_files(src: Path) -> list[tuple[str, Path]]:
    """Every file under ``src`` with its name relative to it (sorted)."""
    return [(p.relative_to(src).as_posix(), p) for p in sorted(src.rglob("*")) if p.is_file()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split", help="a folder → parts")
    s.add_argument("--src", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--part-mb", type=float, default=55.0, help="largest part, in MB (default 55)")
    j = sub.add_parser("join", help="parts → the folder, verified")
    j.add_argument("--pack", type=Path, required=True)
    j.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.cmd == "split":
        split(folder_files(args.src), args.out, args.part_mb)
    else:
        join(args.pack, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
