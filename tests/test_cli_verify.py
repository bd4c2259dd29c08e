"""The verify command: output formats, exit codes, bad input, trust configuration."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from veracity import __version__

from .conftest import ROOT, encode_image, picture


def _huge_png(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture()
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    files["empty"] = tmp_path / "empty.jpg"
    files["empty"].write_bytes(b"")
    full = encode_image(picture(), "JPEG")
    files["truncated"] = tmp_path / "truncated.jpg"
    files["truncated"].write_bytes(full[: len(full) // 2])
    files["random"] = tmp_path / "random.mp4"
    files["random"].write_bytes(os.urandom(4096))
    files["directory"] = tmp_path / "folder"
    files["directory"].mkdir()
    files["missing"] = tmp_path / "missing.png"
    files["huge"] = tmp_path / "huge.png"
    _huge_png(files["huge"])
    return files


EXPECTED_REASON = {
    "empty": "empty file (0 bytes)",
    "truncated": "truncated",
    "random": "not a valid MP4 file",
    "directory": "is a directory",
    "missing": "no such file",
    "huge": "image dimensions",
}


def test_version_and_help(run):
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.output
    for flag in ("-h", "--help"):
        result = run("verify", flag)
        assert result.exit_code == 0
        assert "--trust-anchors" in result.output


@pytest.mark.parametrize("command", ["verify", "face", "voice", "match", "scan"])
def test_an_empty_path_argument_is_a_usage_error_not_the_current_folder(run, command, tmp_path, monkeypatch):
    """``Path("")`` is ".", so ``veracity scan "$FILE"`` with FILE unset would scan every file
    below the working directory; an empty argument is refused (exit 2) before anything runs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "private.jpg").write_bytes(b"not looked at")
    result = run(command, "", "--format", "json")
    assert result.exit_code == 2, result.output
    assert "empty path" in result.output
    assert "private.jpg" not in result.output


def test_python_dash_m_cli_works():
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "--version"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert __version__ in proc.stdout


def test_bad_inputs_each_get_an_error_and_the_rest_still_verify(
    run, bad_files, sign, tmp_path, verify_schema
):
    good = tmp_path / "good.jpg"
    good.write_bytes(sign("jpg"))
    names = list(bad_files)
    args = [str(bad_files[n]) for n in names[:3]] + [str(good)] + [str(bad_files[n]) for n in names[3:]]
    result = run("verify", "--format", "json", *args)
    assert result.exit_code == 5
    doc = json.loads(result.stdout)
    verify_schema(doc)
    by_path = {r["path"]: r for r in doc["results"]}
    assert len(doc["results"]) == len(args)
    assert by_path[str(good)]["state"] == "valid"
    for name, path in bad_files.items():
        r = by_path[str(path)]
        assert r["state"] == "error", name
        assert EXPECTED_REASON[name] in r["reason"], (name, r["reason"])
    assert sorted(e["path"] for e in doc["errors"]) == sorted(str(p) for p in bad_files.values())
    for path in bad_files.values():
        assert f"Error: {path}: " in result.stderr


def test_exit_codes(run, sign, tmp_path, pki_dir):
    valid = tmp_path / "valid.jpg"
    valid.write_bytes(sign("jpg"))
    data = bytearray(sign("jpg"))
    sos = data.rfind(b"\xff\xda")
    for k in range(40):
        data[sos + 300 + k] ^= 0x55
    invalid = tmp_path / "invalid.png"
    # A PNG whose pixels changed after signing decodes fine but fails its hash.
    png = bytearray(sign("png"))
    iend = png.rfind(b"IEND")
    png[iend - 12 : iend - 8] = png[iend - 12 : iend - 8]
    invalid.write_bytes(bytes(_retint(png)))
    absent = tmp_path / "absent.jpg"
    absent.write_bytes(encode_image(picture(), "JPEG"))
    assert run("verify", str(valid), str(absent)).exit_code == 0
    assert run("verify", str(invalid)).exit_code == 1
    assert run("verify", str(valid), "--require", "trusted").exit_code == 1
    assert run("verify", str(valid), "--require", "valid").exit_code == 0
    assert (
        run(
            "verify", str(valid), "--require", "trusted", "--trust-anchors", str(pki_dir / "root.pem")
        ).exit_code
        == 0
    )
    assert run("verify", str(absent), "--require", "valid").exit_code == 1
    assert run("verify", str(invalid), str(tmp_path / "nope.jpg")).exit_code == 5  # 5 wins over 1
    assert run("verify").exit_code == 2  # usage
    assert run("verify", "--format", "xml", str(valid)).exit_code == 2


def _retint(png: bytearray) -> bytearray:
    """Re-encode the PNG's pixels with one pixel changed, keeping its manifest chunk."""
    import io

    import numpy as np
    from PIL import Image

    start = png.find(b"caBX")
    assert start > 0, "signed PNG has no caBX chunk"
    length = int.from_bytes(png[start - 4 : start], "big")
    cabx = bytes(png[start - 4 : start + 8 + length])
    pixels = np.array(Image.open(io.BytesIO(bytes(png))).convert("RGB"))
    pixels[10, 10] = 255 - pixels[10, 10]
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    out = bytearray(buf.getvalue())
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return out[:ihdr_end] + bytearray(cabx) + out[ihdr_end:]


def test_text_output_is_plain_off_a_terminal(run, sign, tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(sign("jpg", source_type="trainedAlgorithmicMedia"))
    result = run("verify", str(path))
    assert result.exit_code == 0
    assert f"{path}: VALID" in result.stdout
    assert "AI: declares AI-generated" in result.stdout
    assert "\x1b[" not in result.stdout
    assert "1 file(s): 1 valid" in result.stdout


def test_control_characters_from_the_file_are_neutralised(run, pki, tmp_path):
    from provenance import demo

    evil = "evil\x1b]8;;http://x\x07title\x1b[2J\u202e"
    definition = demo.manifest_definition(evil, "image/jpeg", software_agent=evil)
    signed, _ = demo.sign_bytes(pki, encode_image(picture(), "JPEG"), "image/jpeg", definition)
    path = tmp_path / "evil.jpg"
    path.write_bytes(signed)
    result = run("verify", str(path))
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "evil" in result.stdout
    doc = json.loads(run("verify", "--format", "json", str(path)).stdout)
    assert doc["results"][0]["c2pa"]["active_manifest"]["title"] == evil.strip()


def test_output_file_is_atomic_and_never_overwritten_without_force(run, sign, tmp_path, verify_schema):
    asset = tmp_path / "a.jpg"
    asset.write_bytes(sign("jpg"))
    out = tmp_path / "report.json"
    assert run("verify", "--format", "json", "-o", str(out), str(asset)).exit_code == 0
    verify_schema(json.loads(out.read_text()))
    before = out.read_text()
    result = run("verify", "--format", "json", "-o", str(out), str(asset))
    assert result.exit_code == 2
    assert "exists; use --force" in result.output
    assert out.read_text() == before
    assert run("verify", "-o", str(out), "--force", str(asset)).exit_code == 0
    assert "VALID" in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


@pytest.mark.parametrize("command", ["verify", "face", "voice", "scan"])
def test_an_output_in_a_missing_folder_is_refused_before_any_work(run, command, tmp_path):
    """Found at the start, not once a long batch has been analysed and its report is lost."""
    asset = tmp_path / "a.jpg"
    asset.write_bytes(b"\xff\xd8\xff")
    for out in (tmp_path / "no" / "such" / "r.json", asset / "r.json"):  # no folder; a file
        result = run(command, str(asset), "-o", str(out))
        assert result.exit_code == 2, result.output
        assert f"cannot write there, {out.parent} is not an existing folder" in result.output
        assert "1 file(s)" not in result.output  # nothing was analysed


def test_config_file_and_environment_variable(run, sign, tmp_path, pki_dir):
    asset = tmp_path / "a.jpg"
    asset.write_bytes(sign("jpg"))
    cfg = tmp_path / "veracity.toml"
    cfg.write_text(f'[trust]\nanchors = ["{pki_dir / "root.pem"}"]\n')
    doc = json.loads(run("verify", "--format", "json", "--config", str(cfg), str(asset)).stdout)
    assert doc["results"][0]["state"] == "trusted"
    doc = json.loads(run("verify", "--format", "json", str(asset), env={"VERACITY_CONFIG": str(cfg)}).stdout)
    assert doc["results"][0]["state"] == "trusted"
    # Relative paths resolve against the config file's folder.
    (tmp_path / "root.pem").write_text((pki_dir / "root.pem").read_text())
    cfg.write_text('[trust]\nanchors = "root.pem"\n')
    doc = json.loads(run("verify", "--format", "json", "--config", str(cfg), str(asset)).stdout)
    assert doc["results"][0]["state"] == "trusted"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[trust\n", "not valid TOML"),
        ('[trust]\nanchors = ["missing.pem"]\n', "cannot read certificate file"),
        ("[trust]\nallow_network = 'yes'\n", "allow_network must be true or false"),
        ("[trust]\nfetch = true\n", "unknown [trust] keys: fetch"),
    ],
)
def test_bad_config_is_a_usage_error(run, sign, tmp_path, text, message):
    asset = tmp_path / "a.jpg"
    asset.write_bytes(sign("jpg"))
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    result = run("verify", "--config", str(cfg), str(asset))
    assert result.exit_code == 2
    assert message in result.output


def test_trust_anchor_file_without_certificates(run, sign, tmp_path):
    asset = tmp_path / "a.jpg"
    asset.write_bytes(sign("jpg"))
    pem = tmp_path / "junk.pem"
    pem.write_text("not a certificate")
    result = run("verify", "--trust-anchors", str(pem), str(asset))
    assert result.exit_code == 2
    assert "no PEM certificate could be read" in result.output


def test_styled_terminal_output_never_reads_media_text_as_markup(monkeypatch, capsys):
    """On a terminal the lines go through rich, as Text: markup and links in untrusted strings stay
    literal, and control characters are still replaced."""
    from cli import output

    monkeypatch.setattr(output, "use_rich", lambda _: True)
    monkeypatch.setenv("COLUMNS", "200")
    evil = "[link=http://evil.example]click[/link] [bold red]FORGED[/] \x1b[2Jx"
    output.render_lines([("bold", evil), ("", "plain")], None)
    out = capsys.readouterr().out
    assert "[link=http://evil.example]click[/link] [bold red]FORGED[/]" in out
    assert "\x1b[2J" not in out and "\x1b]8;" not in out  # no screen clear, no hyperlink escape
    assert "plain" in out


def test_a_report_that_cannot_be_renamed_into_place_leaves_no_temporary_file(monkeypatch, tmp_path):
    from cli import output
    from veracity.errors import OutputError

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "replace", refuse)
    target = tmp_path / "report.json"
    with pytest.raises(OutputError, match="No space left on device"):
        output.write_atomic(target, "{}")
    assert list(tmp_path.iterdir()) == []  # neither the report nor its temporary file


def test_the_top_level_help_names_every_exit_code(run):
    """The group's help is the one place that lists the codes for all commands: it must
    name each code of ``cli.exit_codes`` (5, unreadable input, was once missing)."""
    from cli.exit_codes import ExitCode

    result = run("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for code in ExitCode:
        assert f" {int(code)} " in text, (code, text)
