"""``veracity registry`` and ``veracity match`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detectors.face_detect import DetectedFace
from likeness.crypto import Cipher
from likeness.matcher import Matcher
from likeness.scan import LikenessMatcher, MatchOptions
from likeness.store import Person, Registry, Template
from tests.conftest import SHARED, encode_image, make_video, make_wav, picture
from tests.test_likeness import THRESHOLDS, vec


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return {"VERACITY_REGISTRY": str(tmp_path / "reg.db"), "VERACITY_REGISTRY_KEY": ""}


def test_enrol_refuses_a_photo_without_a_face(tmp_path: Path, run, env) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "noface.png"
    p.write_bytes(encode_image(picture(200, 150), "PNG"))
    r = run("registry", "enroll", "Nobody", "--face", str(p), env=env)
    assert r.exit_code == 2
    assert "no face found" in r.stderr
    r = run("registry", "list", "--format", "json", env=env)
    assert json.loads(r.output)["results"] == []


def test_enrol_refuses_silence(tmp_path: Path, run, env) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "quiet.wav"
    p.write_bytes(make_wav(3.0))
    r = run("registry", "enroll", "Quiet", "--voice", str(p), env=env)
    assert r.exit_code == 2 and "of speech found" in r.stderr


def test_bad_consent_and_missing_references(tmp_path: Path, run, env) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "x.png"
    p.write_bytes(encode_image(picture(64, 64), "PNG"))
    r = run("registry", "enroll", "X", "--face", str(p), "--consent", "news=perhaps", env=env)
    assert r.exit_code == 2 and "consent for news must be one of" in r.output
    r = run("registry", "enroll", "X", env=env)
    assert r.exit_code == 2 and "at least one --face or --voice" in r.output


def _seed(path: Path) -> None:
    with Registry(path, cipher=Cipher(None)) as reg:
        reg.add_person(Person("ada", "Ada", aliases=("Countess",)), [Template("", "face", "m", vec(1))])
        reg.add_person(Person("bob", "Bob"), [Template("", "voice", "v", vec(2, 256))])


def test_list_show_update_remove_export_import(tmp_path: Path, run, env) -> None:  # type: ignore[no-untyped-def]
    _seed(tmp_path / "reg.db")
    r = run("registry", "list", env=env)
    assert r.exit_code == 0 and "Ada  [ada]" in r.output and "templates: voice 1" in r.output
    r = run(
        "registry",
        "update",
        "Countess",
        "--consent",
        "commercial=licensed:Acme:2031-01-01",
        "--format",
        "json",
        env=env,
    )
    assert r.exit_code == 0
    assert json.loads(r.output)["results"][0]["consents"]["commercial"] == {
        "status": "licensed",
        "licensee": "Acme",
        "until": "2031-01-01",
    }
    r = run("registry", "show", "ada", "--audit", "--format", "json", env=env)
    doc = json.loads(r.output)
    assert [a["action"] for a in doc["audit"]] == ["update", "enroll"]
    out = tmp_path / "export.json"
    r = run("registry", "export", "-o", str(out), env=env)
    assert r.exit_code == 0 and (out.stat().st_mode & 0o777) == 0o600
    r = run("registry", "remove", "ada", "--yes", env=env)
    assert r.exit_code == 0 and "erased ada: 1 template(s)" in r.output
    r = run("registry", "show", "ada", env=env)
    assert r.exit_code == 2 and "no person" in r.stderr
    other = {"VERACITY_REGISTRY": str(tmp_path / "other.db"), "VERACITY_REGISTRY_KEY": ""}
    r = run("registry", "import", str(out), env=other)
    assert r.exit_code == 0 and "imported 2" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "veracity-registry", "schema_version": 2, "people": [{"name": "no id"}]}')
    r = run("registry", "import", str(bad), env=other)
    assert r.exit_code == 2 and "nothing was imported" in r.stderr
    bad.write_text("{not json")
    r = run("registry", "import", str(bad), env=other)
    assert r.exit_code == 2
    assert len(json.loads(run("registry", "list", "--format", "json", env=other).output)["results"]) == 2


def test_corrupt_registry_exit_2(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "reg.db"
    p.write_bytes(b"this is not sqlite" * 50)
    r = run("registry", "list", env={"VERACITY_REGISTRY": str(p), "VERACITY_REGISTRY_KEY": ""})
    assert r.exit_code == 2 and "damaged" in r.stderr
    assert p.read_bytes() == b"this is not sqlite" * 50


class StubFinder:
    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        h, w = image.shape[:2]
        return [DetectedFace((w * 0.25, h * 0.25, w * 0.75, h * 0.75), np.zeros((5, 2)), 0.99)]


class StubFace:
    """Every face embeds to the template of person ``ada`` (vec(1)) plus a little noise."""

    finder = StubFinder()

    def embed_box(self, image: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
        return vec(1) + 0.01 * vec(int(image.mean()))


class StubVoice:
    def segments(
        self, samples: np.ndarray, rate: int, window_s: float
    ) -> list[tuple[float, float, np.ndarray]]:
        return [(0.0, samples.size / rate, vec(99, 256))]


def test_likeness_matcher_on_images_videos_audio(tmp_path: Path) -> None:
    _seed(tmp_path / "reg.db")
    img = tmp_path / "a.jpg"
    img.write_bytes(encode_image(picture(160, 120), "JPEG"))
    vid = tmp_path / "b.mp4"
    vid.write_bytes(make_video("mp4", "libx264", frames=12, rate=6, size=(160, 120)))
    wav = tmp_path / "c.wav"
    wav.write_bytes(make_wav(2.0))
    with Registry(tmp_path / "reg.db", cipher=Cipher(None)) as reg:
        lm = LikenessMatcher(Matcher(reg, THRESHOLDS), MatchOptions(), StubFace(), StubVoice())
        r_img, r_vid, r_wav = (lm.match(p) for p in (img, vid, wav))
        bad = lm.match(tmp_path / "missing.jpg")
        audit = reg.audit_log()
    assert r_img.matched and r_img.subjects[0].matches[0].person.id == "ada"
    d = r_img.as_dict()
    assert d["faces"][0]["matches"][0]["matched"] and d["faces"][0]["matches"][0]["far_at_threshold"] == 0.001
    assert len(r_vid.subjects) == 1 and r_vid.subjects[0].end > 1.0  # one track through the video
    assert r_wav.subjects[0].modality == "voice" and not r_wav.matched  # vec(99) is nobody's voice
    assert bad.error is not None
    assert sum(a["action"] == "match" for a in audit) == 2  # image and video matches are audited
    assert all("vector" not in json.dumps(a) for a in audit)


def test_match_text_report(tmp_path: Path) -> None:
    from reports.match_text import match_lines

    _seed(tmp_path / "reg.db")
    faces_only = tmp_path / "faces.db"
    with Registry(faces_only, cipher=Cipher(None)) as reg:
        reg.add_person(Person("ada", "Ada"), [Template("", "face", "m", vec(1))])
    img = tmp_path / "a.jpg"
    img.write_bytes(encode_image(picture(160, 120), "JPEG"))
    wav = tmp_path / "c.wav"
    wav.write_bytes(make_wav(2.0))

    class NoFaces(StubFace):
        finder = type("Nothing", (), {"detect": lambda self, image: []})()

    with Registry(tmp_path / "reg.db", cipher=Cipher(None)) as reg:
        lm = LikenessMatcher(Matcher(reg, THRESHOLDS), MatchOptions(), StubFace(), StubVoice())
        found, heard, bad = lm.match(img), lm.match(wav), lm.match(tmp_path / "missing.jpg")
        empty = LikenessMatcher(Matcher(reg, THRESHOLDS), MatchOptions(), NoFaces(), StubVoice()).match(img)
    with Registry(faces_only, cipher=Cipher(None)) as reg:
        untemplated = LikenessMatcher(
            Matcher(reg, THRESHOLDS), MatchOptions(), StubFace(), StubVoice()
        ).match(wav)
    lines = match_lines([found, heard, bad, empty, untemplated])
    text = [t for _, t in lines]
    styles = dict((t, st) for st, t in lines)
    hit = next(t for t in text if t.startswith("  face 0 (image): MATCH: Ada [ada] similarity "))
    assert hit.endswith("(threshold 0.800, FAR 0.1 %)") and styles[hit] == "bold red"
    assert any(t.startswith("  voice 0 (0.0–2.0 s): no match: Bob [bob] similarity ") for t in text)
    assert text[text.index(str(tmp_path / "missing.jpg")) + 1].startswith("  error: ")
    assert text[text.index(str(img), 1) + 1] == "  no face to match"  # the image where no face was found
    # a registry without voices: the note says why, and no line claims the file has no speech
    assert text[-3:-1] == [str(wav), "  no voices enrolled: voice matching skipped"]
    assert text[-1] == "5 file(s), 1 with a registry match"


def test_likeness_matching_goes_on_past_damage_and_says_so(tmp_path: Path) -> None:
    from tests.conftest import damage_packets
    from tests.test_speech import RATE, _encode, vowelish

    _seed(tmp_path / "reg.db")
    clean = make_video("mp4", "libx264", frames=48, rate=6, size=(160, 120), keyint=12)
    vid = tmp_path / "rot.mp4"
    vid.write_bytes(damage_packets(clean, [20]))
    m4a = tmp_path / "clean.m4a"
    _encode(m4a, "ipod", "aac", vowelish(5.0), RATE)
    aud = tmp_path / "rot.m4a"
    aud.write_bytes(damage_packets(m4a.read_bytes(), [30, 31], kind="audio"))
    with Registry(tmp_path / "reg.db", cipher=Cipher(None)) as reg:
        lm = LikenessMatcher(Matcher(reg, THRESHOLDS), MatchOptions(), StubFace(), StubVoice())
        r_vid, r_aud, r_clean = lm.match(vid), lm.match(aud), lm.match(m4a)
    assert r_vid.error is None and r_vid.subjects[0].end > 7.0  # frames after the damage were matched
    assert any(n.startswith("face matching: the video stream is damaged") for n in r_vid.notes)
    assert r_aud.error is None and r_aud.subjects[0].end > 4.5  # StubVoice: one segment, the whole audio
    assert any(n.startswith("voice matching: the audio stream is damaged") for n in r_aud.notes)
    assert not any("damaged" in n for n in r_clean.notes)


@pytest.mark.shared_data
@pytest.mark.slow
def test_enrol_and_match_a_real_person(tmp_path: Path, run, env) -> None:  # type: ignore[no-untyped-def]
    gore = sorted((SHARED / "faces" / "lfw" / "Al_Gore").glob("*.jpg"))
    other = sorted((SHARED / "faces" / "lfw" / "Adam_Sandler").glob("*.jpg"))
    speaker = sorted((SHARED / "speech" / "real" / "resemblyzer_audio").rglob("3005/*.flac"))
    r = run(
        "registry",
        "enroll",
        "Al Gore",
        "--id",
        "gore",
        "--face",
        str(gore[0]),
        "--voice",
        str(speaker[0]),
        "--consent",
        "commercial=not_allowed",
        env=env,
    )
    assert r.exit_code == 0, r.output + r.stderr
    r = run("match", "--format", "json", str(gore[1]), str(other[0]), str(speaker[1]), env=env)
    assert r.exit_code == 1
    res = json.loads(r.output)["results"]
    assert res[0]["matched"] and res[0]["faces"][0]["matches"][0]["person"]["id"] == "gore"
    assert not res[1]["matched"]
    assert res[2]["matched"] and res[2]["voices"][0]["matches"][0]["modality"] == "voice"
    r = run("registry", "remove", "gore", "--yes", env=env)
    assert r.exit_code == 0
    with Registry(Path(env["VERACITY_REGISTRY"]), cipher=Cipher(None)) as reg:
        for table in ("persons", "templates", "consents", "media"):
            assert reg.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
