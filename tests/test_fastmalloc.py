"""Trainers re-run themselves under tcmalloc when it is installed (training/fastmalloc.py)."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training import fastmalloc

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import os, sys\n"
    "from training import fastmalloc\n"
    "if __name__ == '__main__':\n"
    "    fastmalloc.reexec()\n"
    "    print(fastmalloc.active(), os.environ.get('LD_PRELOAD', ''), *sys.argv[1:], sep='|')\n"
)


def run_probe(tmp_path: Path, **env: str) -> list[str]:
    (tmp_path / "probe_malloc.py").write_text(PROBE)
    base = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "VERACITY_MALLOC")}
    out = subprocess.run(
        [sys.executable, "-m", "probe_malloc", "--seed", "3", "a b"],
        cwd=tmp_path,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip().split("|")


def test_active_reads_the_preload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_PRELOAD", "libtcmalloc_minimal.so.4")
    assert fastmalloc.active() == "tcmalloc"
    monkeypatch.delenv("LD_PRELOAD")
    assert fastmalloc.active() == "system"


def test_declined_or_missing_library_leaves_the_process_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_probe(tmp_path, VERACITY_MALLOC="system") == ["system", "", "--seed", "3", "a b"]
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    monkeypatch.delenv("VERACITY_MALLOC", raising=False)
    fastmalloc.reexec()  # no library: returns instead of replacing this test process


@pytest.mark.skipif(
    not ctypes.util.find_library(fastmalloc.LIBRARY), reason="libtcmalloc-minimal4 is not installed"
)
def test_reexec_preloads_tcmalloc_once_with_the_same_arguments(tmp_path: Path) -> None:
    state, preload, *args = run_probe(tmp_path)
    assert state == "tcmalloc" and "tcmalloc" in preload
    assert args == ["--seed", "3", "a b"]  # arguments survive, spaces included
    state, preload, *args = run_probe(tmp_path, LD_PRELOAD="")
    assert preload.count("tcmalloc") == 1
