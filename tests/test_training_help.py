"""Every training command answers ``--help``: argparse formats help strings with ``%``, so a
literal percent sign in one (say, from an f-string's ``:%`` format) breaks the whole page."""

import importlib
from pathlib import Path

import pytest

import training

COMMANDS = sorted(
    path.stem
    for path in Path(training.__file__).parent.glob("*.py")
    if "\ndef main(argv" in path.read_text(encoding="utf-8")
)


def test_the_commands_are_found() -> None:
    assert {"train_voice", "train_face", "voice", "face"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_prints_and_exits_zero(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(f"training.{name}")
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:")
    assert "--help" in out
