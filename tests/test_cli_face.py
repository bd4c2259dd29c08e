"""``veracity face``, ``evaluate`` and ``weights`` through the CLI."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detectors import metrics
from tests.conftest import ROOT, damage_packets, encode_image, make_video, picture
from tests.face_helpers import StubFinder, tiny_face_weights


def _schema(name: str) -> Callable[[dict[str, Any]], None]:
    import jsonschema

    schema = json.loads((ROOT / "detectors" / "schemas" / name).read_text())

    def check(doc: dict[str, Any]) -> None:
        jsonschema.validate(doc, schema)

    return check


@pytest.fixture()
def wdir(tmp_path: Path) -> Path:
    d = tmp_path / "weights"
    tiny_face_weights(d)
    return d


@pytest.fixture()
def env(wdir: Path) -> dict[str, str]:
    return {"VERACITY_WEIGHTS": str(wdir)}


@pytest.fixture()
def stub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every analyzer sees one centred face per image (the tests' pictures have no real face)."""
    monkeypatch.setattr("detectors.face.FaceFinder", StubFinder)


def test_face_json_no_face(tmp_path: Path, run, env) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "scenery.png"
    p.write_bytes(encode_image(picture(200, 150), "PNG"))
    r = run("face", "--format", "json", str(p), env=env)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    _schema("face-report.schema.json")(doc)
    [res] = doc["results"]
    assert (res["verdict"], res["reason"], res["score"]) == ("abstained", "no-face", None)


def test_face_scores_and_exit_codes(tmp_path: Path, run, wdir: Path, stub) -> None:  # type: ignore[no-untyped-def]
    tiny_face_weights(wdir, bias=6.0)  # overwrite: a model that calls everything fake
    img = tmp_path / "a.jpg"
    img.write_bytes(encode_image(picture(200, 150), "JPEG"))
    vid = tmp_path / "b.webm"
    vid.write_bytes(make_video("webm", "libvpx", frames=12, rate=6, size=(160, 120)))
    r = run("face", "--format", "json", str(img), str(vid), env={"VERACITY_WEIGHTS": str(wdir)})
    assert r.exit_code == 1, r.output  # findings
    doc = json.loads(r.output)
    _schema("face-report.schema.json")(doc)
    assert [x["verdict"] for x in doc["results"]] == ["manipulated", "manipulated"]
    assert doc["results"][1]["media"] == "video" and doc["results"][1]["tracks"][0]["timeline"]


def test_face_bad_file_exit_5_and_batch_goes_on(tmp_path: Path, run, env, stub) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.jpg"
    good.write_bytes(encode_image(picture(200, 150), "JPEG"))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42garbage" * 3)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    r = run("face", "--format", "json", str(bad), str(good), str(empty), env=env)
    assert r.exit_code == 5
    doc = json.loads(r.stdout)
    _schema("face-report.schema.json")(doc)
    assert doc["results"][0]["verdict"] == "error"
    assert doc["results"][1]["verdict"] in ("manipulated", "not-detected")
    assert doc["results"][2]["verdict"] == "error"
    assert len(doc["errors"]) == 2
    assert "Error: " in r.stderr


def test_damaged_video_is_analysed_around_the_damage_with_a_caution(  # type: ignore[no-untyped-def]
    tmp_path: Path, run, env, stub
) -> None:
    clean = make_video("mp4", "libx264", frames=48, rate=6, size=(160, 120), keyint=12)
    p = tmp_path / "rot.mp4"
    p.write_bytes(damage_packets(clean, [20]))
    r = run("face", "--format", "json", str(p), env=env)
    assert r.exit_code == 0, r.output  # a result, not an error: the damage was decoded around
    doc = json.loads(r.stdout)
    _schema("face-report.schema.json")(doc)
    [res] = doc["results"]
    assert res["verdict"] == "not-detected" and res["tracks"][0]["time_range"][1] > 7.0
    [caution] = res["cautions"]
    assert "video stream is damaged" in caution and "1 packet could not be decoded (at 3." in caution
    text = run("face", str(p), env=env)
    assert "caution: the video stream is damaged" in text.output
    clean_p = tmp_path / "clean.mp4"
    clean_p.write_bytes(clean)
    assert (
        json.loads(run("face", "--format", "json", str(clean_p), env=env).stdout)["results"][0]["cautions"]
        == []
    )


def test_face_text_report(tmp_path: Path, run, env, stub) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "x\x1b[31mred.jpg"
    p.write_bytes(encode_image(picture(200, 150), "JPEG"))
    r = run("face", str(p), env=env)
    assert r.exit_code in (0, 1)
    assert "\x1b" not in r.output
    assert "track 0" in r.output and "1 file(s)" in r.output


def test_face_output_needs_force(tmp_path: Path, run, env) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.json"
    out.write_text("keep")
    p = tmp_path / "a.png"
    p.write_bytes(encode_image(picture(64, 64), "PNG"))
    r = run("face", "-o", str(out), str(p), env=env)
    assert r.exit_code == 2 and out.read_text() == "keep"
    r = run("face", "--format", "json", "-o", str(out), "--force", str(p), env=env)
    assert r.exit_code == 0 and json.loads(out.read_text())["command"] == "face"


def test_tampered_weights_exit_4(tmp_path: Path, run, wdir: Path, env) -> None:  # type: ignore[no-untyped-def]
    f = wdir / "face-test.safetensors"
    data = bytearray(f.read_bytes())
    data[100] ^= 1
    f.write_bytes(bytes(data))
    p = tmp_path / "a.png"
    p.write_bytes(encode_image(picture(64, 64), "PNG"))
    r = run("face", str(p), env=env)
    assert r.exit_code == 4
    assert "sha256 mismatch" in r.stderr
    r = run("weights", "verify", env=env)
    assert r.exit_code == 4 and "FAIL face-test" in r.output


def test_weights_list_and_verify(run, env) -> None:  # type: ignore[no-untyped-def]
    r = run("weights", "list", "--format", "json", env=env)
    assert r.exit_code == 0
    [w] = json.loads(r.output)["results"]
    assert w["name"] == "face-test" and len(w["sha256"]) == 64
    r = run("weights", "verify", env=env)
    assert r.exit_code == 0 and "OK   face-test" in r.output
    r = run("weights", "verify", "nope", env=env)
    assert r.exit_code == 2


def test_the_default_weights_are_the_newest_by_version_number(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    from detectors.weights import find_weights

    for name in ("face-t-v9", "face-t-v10", "face-t-v2"):
        tiny_face_weights(tmp_path, name)
    assert find_weights("face-forgery", folder=tmp_path).name == "face-t-v10"  # not v9, as by letters
    env = {"VERACITY_WEIGHTS": str(tmp_path)}
    r = run("weights", "list", env=env)
    assert r.exit_code == 0
    assert "face-t-v10  (face-forgery, default)\n" in r.output and "face-t-v9  (face-forgery)\n" in r.output
    points = [line for line in r.output.splitlines() if "operating points" in line]
    assert len(points) == 3 and all(
        re.search(r"threshold\): 1 % → \d\.\d{4}, 5 % → \d\.\d{4}, 10 % → \d\.\d{4}$", line)
        for line in points
    )
    rows = json.loads(run("weights", "list", "--format", "json", env=env).output)["results"]
    assert {w["name"]: w["default"] for w in rows} == {
        "face-t-v10": True,
        "face-t-v2": False,
        "face-t-v9": False,
    }


def test_shipped_weights_verify(run) -> None:  # type: ignore[no-untyped-def]
    r = run("weights", "verify", "--format", "json")
    assert r.exit_code == 0, r.output
    assert all(x["ok"] for x in json.loads(r.output)["results"])


def _labelled_set(tmp_path: Path) -> Path:
    d = tmp_path / "set"
    (d / "sub").mkdir(parents=True)
    rows = ["path,label,notes"]
    for i in range(4):
        for label in ("real", "fake"):
            name = f"sub/{label}{i}.jpg"
            (d / name).write_bytes(encode_image(picture(160, 120, seed=i * 2 + (label == "fake")), "JPEG"))
            rows.append(f"{name},{label},x")
    (d / "tiny.png").write_bytes(encode_image(np.zeros((1, 1, 3), np.uint8), "PNG"))
    rows.append("tiny.png,fake,one pixel")
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    rows.append("broken.jpg,real,")
    csv = d / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv


def test_evaluate_json(tmp_path: Path, run, env, stub) -> None:  # type: ignore[no-untyped-def]
    csv = _labelled_set(tmp_path)
    r = run("evaluate", str(csv), "--detector", "face", "--format", "json", env=env)
    assert r.exit_code == 5  # broken.jpg could not be read; the report is still complete
    doc = json.loads(r.stdout)
    _schema("evaluate-report.schema.json")(doc)
    assert (doc["n_real"], doc["n_fake"], doc["n_abstained"], doc["n_scored"]) == (5, 5, 2, 8)
    files = {f["path"]: f for f in doc["files"]}
    assert len(files) == 10
    assert files["tiny.png"]["abstained"] and files["tiny.png"]["reason"] == "face-too-small"
    assert files["broken.jpg"]["abstained"] and files["broken.jpg"]["reason"] == "unreadable"
    scored = [f for f in doc["files"] if not f["abstained"]]
    labels = [1 if f["label"] == "fake" else 0 for f in scored]
    scores = [f["score"] for f in scored]
    assert doc["auc"] == pytest.approx(metrics.auc(labels, scores), abs=1e-4)
    assert doc["eer"] == pytest.approx(metrics.eer(labels, scores), abs=1e-4)
    assert set(doc["tpr_at_fpr"]) == {"0.01", "0.05", "0.1"}
    iv = doc["intervals"]  # stratified bootstrap over the 8 scored files
    assert iv["resamples"] == 2000 and "files within each class" in iv["method"]
    assert iv["auc"][0] <= doc["auc"] <= iv["auc"][1] and iv["eer"][0] <= doc["eer"] <= iv["eer"][1]
    assert "% interval" in run("evaluate", str(csv), "--detector", "face", env=env).output
    r = run("evaluate", str(csv), "--detector", "face", "--format", "json", "--bootstrap", "0", env=env)
    assert json.loads(r.stdout)["intervals"] is None


def test_evaluate_fixes_and_records_the_precision(tmp_path: Path, run, env, stub, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from detectors.compute import PRECISION_ENV

    csv = _labelled_set(tmp_path)
    monkeypatch.setenv(PRECISION_ENV, "bfloat16")
    docs = {}
    for precision in ("float32", "bfloat16"):
        args = ("evaluate", str(csv), "--detector", "face", "--format", "json", "--bootstrap", "0")
        r = run(*args, "--precision", precision, env=env)
        docs[precision] = json.loads(r.stdout)
        _schema("evaluate-report.schema.json")(docs[precision])
        assert docs[precision]["precision"] == precision
        assert docs[precision]["engine"] == ("openvino" if precision == "float32" else "torch")
        assert os.environ[PRECISION_ENV] == "bfloat16"  # the caller's setting is left as it was
    a = [f["score"] for f in docs["float32"]["files"] if not f["abstained"]]
    b = [f["score"] for f in docs["bfloat16"]["files"] if not f["abstained"]]
    assert len(a) == len(b) == 8 and np.allclose(a, b, atol=0.05)
    text = run("evaluate", str(csv), "--detector", "face", "--precision", "float32", env=env).output
    assert "(float32, openvino)" in text
    r = run("evaluate", str(csv), "--detector", "face", "--precision", "float16", env=env)
    assert r.exit_code == 2 and "float16" in r.output


def test_evaluate_draws_whole_groups_when_the_csv_names_them(tmp_path: Path, run, env, stub) -> None:  # type: ignore[no-untyped-def]
    csv = _labelled_set(tmp_path)
    lines = csv.read_text().splitlines()
    # the files of each seed pair share a "source"; the last rows leave it empty (their own group)
    grouped = [lines[0] + ",group"] + [f"{row},src{i // 2}" for i, row in enumerate(lines[1:-2])] + lines[-2:]
    csv.write_text("\n".join(grouped) + "\n")
    r = run("evaluate", str(csv), "--detector", "face", "--format", "json", "--bootstrap", "300", env=env)
    doc = json.loads(r.stdout)
    _schema("evaluate-report.schema.json")(doc)
    assert (
        doc["intervals"]["method"] == "percentile bootstrap over groups"
        and doc["intervals"]["resamples"] == 300
    )


def test_evaluate_bad_csv(tmp_path: Path, run, env) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "l.csv"
    csv.write_text("file,truth\na.jpg,real\n")
    r = run("evaluate", str(csv), "--detector", "face", env=env)
    assert r.exit_code == 2 and "'path' and 'label'" in r.output
    csv.write_text("path,label\na.jpg,maybe\n")
    r = run("evaluate", str(csv), "--detector", "face", "--format", "json", env=env)
    assert r.exit_code == 5  # a row that cannot be used; the report is still written
    doc = json.loads(r.stdout)
    assert doc["files"] == [] and "label must be" in doc["errors"][0]["message"]
    r = run("evaluate", str(tmp_path / "missing.csv"), "--detector", "face", env=env)
    assert r.exit_code == 2
