"""The one-command shape of ``training.face`` and ``training.voice``."""

from __future__ import annotations

from pathlib import Path

from training import pipeline


def test_pipeline_builds_data_with_its_own_seed(tmp_path: Path) -> None:
    calls: dict[str, list[str]] = {}

    def build(argv: list[str]) -> int:
        calls["build"] = argv
        return 0

    def train(argv: list[str]) -> int:
        calls["train"] = argv
        return 0

    args = [
        "--data",
        "d",
        "--out",
        "o",
        "--corpus",
        str(tmp_path / "c"),
        "--seed",
        "1",
        "--",
        "--epochs",
        "3",
    ]
    assert pipeline.run(None, args, build, train, "corpus", tmp_path / "unused") == 0
    assert calls["build"] == ["--data", "d", "--out", str(tmp_path / "c"), "--seed", "0"]
    assert calls["train"] == ["--corpus", str(tmp_path / "c"), "--out", "o", "--seed", "1", "--epochs", "3"]
    pipeline.run(None, [*args[:6], "--data-seed", "4"], build, train, "corpus", tmp_path / "unused")
    assert calls["build"][-2:] == ["--seed", "4"] and calls["train"][-2:] == ["--seed", "0"]
    calls.clear()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "meta.csv").write_text("path\n")
    pipeline.run(None, args, build, train, "corpus", tmp_path / "unused")
    assert list(calls) == ["train"]  # a corpus is there already: only training runs
