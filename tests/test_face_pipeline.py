"""The face pipeline end to end: detection, alignment, tracking, aggregation, abstention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.face import FaceAnalyzer, FaceOptions, Observation, Tracker
from detectors.face_align import CANONICAL_SIZE, align, align_matrix, invert_points, similarity, template
from detectors.face_classifier import FaceClassifier
from tests.conftest import SHARED, encode_image, make_video, picture
from tests.face_helpers import StubFinder, tiny_face_weights


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> FaceClassifier:
    return FaceClassifier(tiny_face_weights(tmp_path_factory.mktemp("w"), bias=1.0))


def test_similarity_is_exact_for_a_similarity() -> None:
    src = np.array([[0, 0], [10, 0], [5, 5], [2, 9], [8, 9]], float)
    ang, s, t = 0.3, 1.7, np.array([4.0, -2.0])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = src @ (s * rot).T + t
    m = similarity(src, dst)
    assert np.allclose(src @ m[:, :2].T + m[:, 2], dst)


def test_alignment_puts_landmarks_on_the_template() -> None:
    pts = template(256) * 0.5 + np.array([40.0, 30.0])
    img = picture(300, 300)
    crop, m = align(img, pts)
    assert crop.shape == (CANONICAL_SIZE, CANONICAL_SIZE, 3)
    mapped = pts @ m[:, :2].T + m[:, 2]
    assert np.allclose(mapped, template(256), atol=1e-6)
    assert np.allclose(invert_points(align_matrix(pts), template(256)), pts, atol=1e-6)


def _analyzer(classifier: FaceClassifier, **kw: object) -> FaceAnalyzer:
    finder = kw.pop("finder", StubFinder())
    return FaceAnalyzer(classifier, finder=finder, options=FaceOptions(min_sharpness=0.0, **kw))  # type: ignore[arg-type]


def test_image_with_a_face_is_scored(tmp_path: Path, classifier: FaceClassifier) -> None:
    p = tmp_path / "face.jpg"
    p.write_bytes(encode_image(picture(320, 240), "JPEG"))
    r = _analyzer(classifier).analyze(p)
    assert r.verdict in ("manipulated", "not-detected")
    assert r.score is not None and 0 < r.score < 1
    assert r.media == "image" and len(r.tracks) == 1 and r.tracks[0].frames_used == 1
    # the file verdict follows the threshold of the operating point
    assert (r.verdict == "manipulated") == (r.score >= r.threshold)
    d = r.as_dict()
    assert d["operating_point"] == {"max_fpr": 0.05} and d["model"]["sha256"] == classifier.info.sha256


def test_operating_point_changes_the_threshold(tmp_path: Path, classifier: FaceClassifier) -> None:
    p = tmp_path / "face.png"
    p.write_bytes(encode_image(picture(320, 240), "PNG"))
    strict = _analyzer(classifier, operating_point="0.01").analyze(p)
    loose = _analyzer(classifier, operating_point="0.1").analyze(p)
    assert strict.threshold == 0.9 and loose.threshold == 0.6
    assert strict.score == pytest.approx(loose.score)


def test_no_face_abstains(tmp_path: Path, classifier: FaceClassifier) -> None:
    p = tmp_path / "scenery.jpg"
    p.write_bytes(encode_image(picture(320, 240), "JPEG"))
    r = _analyzer(classifier, finder=StubFinder(present=False)).analyze(p)
    assert (r.verdict, r.reason, r.score) == ("abstained", "no-face", None)


def test_small_face_abstains(tmp_path: Path, classifier: FaceClassifier) -> None:
    p = tmp_path / "far.jpg"
    p.write_bytes(encode_image(picture(320, 240), "JPEG"))
    r = _analyzer(classifier, finder=StubFinder(size_fraction=0.1)).analyze(p)
    assert (r.verdict, r.reason) == ("abstained", "face-too-small")


def test_blurry_face_abstains(tmp_path: Path, classifier: FaceClassifier) -> None:
    p = tmp_path / "flat.png"
    p.write_bytes(encode_image(np.full((240, 320, 3), 128, np.uint8), "PNG"))
    r = FaceAnalyzer(classifier, finder=StubFinder(), options=FaceOptions(min_sharpness=5.0)).analyze(p)  # type: ignore[arg-type]
    assert (r.verdict, r.reason) == ("abstained", "too-blurry")


def test_video_tracks_and_timeline(tmp_path: Path, classifier: FaceClassifier) -> None:
    p = tmp_path / "v.mp4"
    p.write_bytes(make_video("mp4", "libx264", frames=24, rate=6, size=(160, 120)))  # 4 s
    r = _analyzer(classifier).analyze(p)
    assert r.media == "video" and r.frames_sampled == 8
    assert len(r.tracks) == 1  # one face that stays put is one track
    t = r.tracks[0]
    assert t.frames_used == 8 and len(t.timeline) == 8
    assert t.start < 0.5 and t.end > 3.5
    assert r.score == pytest.approx(t.score)


def test_video_with_too_few_usable_frames_abstains(tmp_path: Path, classifier: FaceClassifier) -> None:
    # sharp texture in the first 6 frames (one sampled frame), flat grey after: blurry faces
    def draw(i: int) -> np.ndarray:
        return picture(160, 120, seed=i) if i < 6 else np.full((120, 160, 3), 128, np.uint8)

    p = tmp_path / "short.mp4"
    p.write_bytes(make_video("mp4", "libx264", frames=24, rate=6, size=(160, 120), draw=draw))
    r = FaceAnalyzer(
        classifier, finder=StubFinder(), options=FaceOptions(min_sharpness=5.0, min_frames=3)
    ).analyze(p)  # type: ignore[arg-type]
    assert r.frames_sampled == 8
    assert (r.verdict, r.reason) == ("abstained", "too-few-frames")
    assert r.tracks[0].frames_used == 2 and r.tracks[0].frames_seen == 8


def test_evidence_files(tmp_path: Path, classifier: FaceClassifier) -> None:
    p = tmp_path / "<b onload=x>&.jpg"
    p.write_bytes(encode_image(picture(320, 240), "JPEG"))
    r = _analyzer(classifier, evidence_dir=tmp_path / "ev").analyze(p)
    ev = r.tracks[0].evidence
    assert set(ev) == {"crop", "heatmap"}
    for f in ev.values():
        assert Path(f).is_file() and "<" not in Path(f).name
        assert Path(f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.jpg", b"", "input-error"),
        ("text.jpg", b"hello, this is not an image at all", "input-error"),
        ("cut.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64, "input-error"),
    ],
)
def test_bad_files_are_errors_not_crashes(
    tmp_path: Path, classifier: FaceClassifier, name: str, data: bytes, code: str
) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    r = _analyzer(classifier).analyze(p)
    assert r.verdict == "error" and r.error is not None and r.error["code"] == code


def test_missing_file_and_audio(tmp_path: Path, classifier: FaceClassifier) -> None:
    from tests.conftest import make_wav

    r = _analyzer(classifier).analyze(tmp_path / "nope.jpg")
    assert r.verdict == "error"
    w = tmp_path / "a.wav"
    w.write_bytes(make_wav())
    r = _analyzer(classifier).analyze(w)
    assert r.verdict == "error" and "not an image or video" in r.error["message"]  # type: ignore[index]


def test_tracker_splits_two_people() -> None:
    tr = Tracker()
    for f in range(4):
        a = (Observation(f, f * 0.5, (10 + f, 10, 60 + f, 70), 0.99, 50.0, True), np.zeros(1))
        b = (Observation(f, f * 0.5, (200 - f, 10, 250 - f, 70), 0.99, 50.0, True), np.zeros(1))
        tr.add(f, [b, a] if f % 2 else [a, b])
    assert len(tr.tracks) == 2
    assert all(len(t) == 4 for t in tr.tracks)
    assert {round(t[0][0].box[0]) for t in tr.tracks} == {10, 200}


# ------------------------------------------------------------ with the real MTCNN


@pytest.fixture(scope="module")
def mtcnn_analyzer(classifier: FaceClassifier) -> FaceAnalyzer:
    return FaceAnalyzer(classifier)


def test_mtcnn_finds_no_face_in_noise_or_a_single_pixel(tmp_path: Path, mtcnn_analyzer: FaceAnalyzer) -> None:
    p = tmp_path / "noise.png"
    p.write_bytes(encode_image(picture(320, 240), "PNG"))
    assert mtcnn_analyzer.analyze(p).reason == "no-face"
    one = tmp_path / "one.png"
    one.write_bytes(encode_image(np.zeros((1, 1, 3), np.uint8), "PNG"))
    r = mtcnn_analyzer.analyze(one)
    assert (r.verdict, r.reason) == ("abstained", "no-face")


@pytest.mark.shared_data
def test_mtcnn_finds_a_real_face(mtcnn_analyzer: FaceAnalyzer) -> None:
    photo = sorted((SHARED / "faces" / "lfw" / "Al_Gore").glob("*.jpg"))[0]
    r = mtcnn_analyzer.analyze(photo)
    assert r.verdict in ("manipulated", "not-detected")
    x1, y1, x2, y2 = r.tracks[0].best_box
    assert 50 < x1 < x2 < 200 and 40 < y1 < y2 < 220  # LFW centres the face in 250×250


def test_alignment_of_a_face_in_a_large_image_matches_a_full_warp() -> None:
    import cv2

    y, x = np.mgrid[0:1500, 0:2000]
    img = cv2.GaussianBlur(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8), (0, 0), 3)
    pts = template(256) * 1.5 + np.array([900.0, 600.0])
    crop, m = align(img, pts)
    full = cv2.warpAffine(img, m, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    assert np.abs(full.astype(int) - crop.astype(int)).max() <= 1  # fixed-point rounding only
    edge, _ = align(img, template(256) * 0.5)  # a face at the corner: reflected border, no error
    assert edge.shape == (CANONICAL_SIZE, CANONICAL_SIZE, 3)
