"""Splitting a folder into parts for a lent GPU machine, and joining it there."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import parts


def _folder(root: Path) -> Path:
    for k in range(6):
        p = root / ("sub" if k % 2 else "") / f"f{k}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bytes([k]) * (40_000 + k))
    return root


def test_split_respects_the_part_size_and_join_restores_every_file(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src")
    folders = parts.split(parts.folder_files(src), tmp_path / "pack", part_mb=0.1)
    assert len(folders) == 3  # two files of about 40 kB fit in 0.1 MB
    for folder in folders:
        data = sum(p.stat().st_size for p in folder.rglob("*.bin"))
        assert 0 < data <= 100_000
    assert parts.join(tmp_path / "pack", tmp_path / "out") == 6
    for rel, path in parts.folder_files(src):
        assert (tmp_path / "out" / rel).read_bytes() == path.read_bytes()


def test_join_refuses_a_missing_or_changed_file_and_a_path_outside(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src")
    parts.split(parts.folder_files(src), tmp_path / "pack", part_mb=0.1)
    (tmp_path / "pack" / "part3").rename(tmp_path / "elsewhere")  # a part that did not travel
    with pytest.raises(SystemExit, match="missing"):
        parts.join(tmp_path / "pack", tmp_path / "out1")
    (tmp_path / "elsewhere").rename(tmp_path / "pack" / "part3")
    victim = next((tmp_path / "pack" / "part2").rglob("*.bin"))
    victim.unlink()  # a new file in its place (the old one is a link to the source)
    victim.write_bytes(b"something else")
    with pytest.raises(SystemExit, match="changed"):
        parts.join(tmp_path / "pack", tmp_path / "out2")
    manifest = tmp_path / "pack" / "part1" / parts.MANIFEST
    manifest.write_text(manifest.read_text() + "0" * 64 + "  ../escape.bin\n")
    with pytest.raises(SystemExit, match="outside"):
        parts.join(tmp_path / "pack", tmp_path / "out3")
    assert not (tmp_path / "escape.bin").exists()


def test_split_refuses_a_file_larger_than_a_part_and_a_used_folder(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src")
    with pytest.raises(SystemExit, match="larger than a part"):
        parts.split(parts.folder_files(src), tmp_path / "pack", part_mb=0.01)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(SystemExit, match="not empty"):
        parts.split(parts.folder_files(src), tmp_path / "used")
