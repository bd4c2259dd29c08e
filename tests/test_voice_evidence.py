"""Evidence pictures of a voice file's top-scoring window: the spectrogram and the spectrogram
network's Grad-CAM heatmap, from the analyzer through the JSON, text and HTML reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from detectors.models.lcnn import LCNN, VoiceEnsemble
from detectors.models.specnet import SpecNet
from detectors.voice import VoiceAnalyzer, VoiceClassifier, VoiceOptions
from detectors.voice_evidence import ROW_PX, gradcam, picture, spectrogram_member, write_evidence
from detectors.weights import WeightInfo, save_weights
from tests.face_helpers import CARD
from tests.test_speech import RATE, vowelish
from tests.test_voice import TINY, tiny_music_weights, tiny_voice_weights, voice_meta, wav

SMALL = {"blocks": 2}  # a SpecNet cut after two blocks: quick, and a real network all the same


def tiny_specnet_weights(folder: Path) -> WeightInfo:
    """Random spectrogram-network weights (EfficientNet-Lite0 cut after two blocks)."""
    torch.manual_seed(0)
    model = SpecNet(**SMALL)
    tiny_music_weights(folder, -5.0)
    meta = {**voice_meta(), "architecture": "SpecNet", "arch": SMALL}
    return save_weights(folder, "voice-spec-test", model.state_dict(), meta, card=CARD)


def tone(hz: float, seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


class _PictureAsFeatures(torch.nn.Module):
    """A stand-in network whose feature map is the picture's first channel and whose logit is that
    map's mean: its Grad-CAM must be the picture's positive part."""

    def features(self, img: torch.Tensor) -> torch.Tensor:
        return img[:, :1]

    def head(self, fmap: torch.Tensor) -> torch.Tensor:
        return fmap.mean(dim=(2, 3))


def test_gradcam_follows_what_raised_the_logit_in_time_and_frequency() -> None:
    spec = SpecNet(scale="linear", fmin=0.0, blocks=1).eval()
    spec.net = _PictureAsFeatures()  # type: ignore[assignment]
    rng = np.random.default_rng(0)
    quiet = (1e-3 * rng.standard_normal(2 * RATE)).astype(np.float32)
    wave = np.concatenate([quiet, tone(2000.0, 2.0) + quiet])
    cam = gradcam(spec, wave)
    assert cam.shape == (128, 401) and cam.min() >= 0.0 and cam.max() == pytest.approx(1.0)
    band = int(spec.fbank[:, int(2000 / (RATE / 2) * 512)].argmax())  # the band around 2 kHz
    assert cam[band, 230:390].mean() > 0.8  # the tone, in the second half
    assert cam[band, 10:180].mean() < 0.05 and cam[band + 20 :, 230:390].mean() < 0.15
    flat = SpecNet(blocks=1).eval()
    with torch.no_grad():
        flat.net._fc.weight.zero_()  # nothing can raise the logit: an empty map, not noise
    assert not gradcam(flat, wave).any()


def test_pictures_have_low_frequencies_at_the_bottom_and_the_network_grid(tmp_path: Path) -> None:
    wave = tone(300.0, 3.0)
    spec = SpecNet(**SMALL).eval()
    pic = picture(spec, wave)
    assert pic.shape == spec.image(torch.from_numpy(wave)[None]).shape[2:]
    files = write_evidence(tmp_path / "ev", "../odd <name>.wav", spec, wave, 12.34)
    assert set(files) == {"spectrogram", "heatmap"}
    for path in files.values():
        name = Path(path).name
        assert Path(path).parent == tmp_path / "ev" and "odd" not in name and "12.3s" in name
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        assert img.shape == (128 * ROW_PX, pic.shape[1])
    img = cv2.imread(files["spectrogram"], cv2.IMREAD_GRAYSCALE).astype(float)
    rows = img.mean(axis=1)
    assert rows[-40:].max() > 200 and rows[:100].mean() < 60  # the 300 Hz tone: bright, low down
    lcnn_only = LCNN(**TINY).eval()  # no spectrogram network: the spectrogram alone
    assert spectrogram_member(lcnn_only) is None
    assert set(write_evidence(tmp_path / "ev2", "a.wav", lcnn_only, wave, 0.0)) == {"spectrogram"}


def test_the_largest_weighted_spectrogram_member_explains_an_ensemble() -> None:
    a, b = SpecNet(blocks=1), SpecNet(scale="linear", fmin=0.0, blocks=1)
    ens = VoiceEnsemble([LCNN(**TINY), a, b], [[0.0, 1.0]] * 3, [0.2, 0.3, 0.5])
    assert spectrogram_member(ens) is b
    tie = VoiceEnsemble([a, b], [[0.0, 1.0]] * 2)
    assert spectrogram_member(tie) is a


def _analyzer(info: WeightInfo, **opts: Any) -> VoiceAnalyzer:
    return VoiceAnalyzer(VoiceClassifier(info), VoiceOptions(**opts))


def test_analyzer_writes_the_top_windows_pictures_and_reports_them(tmp_path: Path, run: Any) -> None:
    rng = np.random.default_rng(1)
    speech = np.concatenate([vowelish(5.0), vowelish(4.0) + 0.05 * rng.standard_normal(4 * RATE)])
    p = wav(tmp_path / "speech.wav", speech.astype(np.float32))
    info = tiny_specnet_weights(tmp_path / "w")
    ev = tmp_path / "evidence"
    r = _analyzer(info, evidence_dir=ev).analyze(p)
    assert r.score is not None and len(r.windows) >= 3
    top = max(r.windows, key=lambda w: w.score)
    assert r.evidence_window == (top.start, top.end)
    assert set(r.evidence) == {"spectrogram", "heatmap"}
    assert all(Path(f).is_file() and Path(f).parent == ev for f in r.evidence.values())
    doc = r.as_dict()
    assert doc["evidence"] == r.evidence
    assert doc["evidence_window"] == [round(top.start, 2), round(top.end, 2)]
    plain = _analyzer(info).analyze(p)  # no folder, no pictures, same scores
    assert plain.evidence == {} and plain.evidence_window is None
    assert [w.score for w in plain.windows] == pytest.approx([w.score for w in r.windows])

    env = {"VERACITY_WEIGHTS": str(tmp_path / "w")}
    res = run("voice", str(p), "--evidence", str(tmp_path / "cli"), env=env)
    assert res.exit_code in (0, 1), res.output
    assert "heatmap of the top window" in res.stdout and len(list((tmp_path / "cli").glob("*.png"))) == 2
    res = run("voice", str(p), "--evidence", str(p), env=env)  # a file, not a folder
    assert res.exit_code == 2 and "--evidence" in res.output


def test_lcnn_weights_get_the_spectrogram_alone(tmp_path: Path) -> None:
    p = wav(tmp_path / "speech.wav", vowelish(5.0))
    r = _analyzer(tiny_voice_weights(tmp_path / "w", 5.0), evidence_dir=tmp_path / "ev").analyze(p)
    assert set(r.evidence) == {"spectrogram"}


def test_html_report_embeds_only_the_scans_own_voice_pictures(tmp_path: Path) -> None:
    from reports.scan_html import _voice

    root = tmp_path / "evidence"
    root.mkdir()
    wave = vowelish(4.0)
    files = write_evidence(root, "a.wav", SpecNet(**SMALL).eval(), wave, 1.0)
    doc = {
        "verdict": "not-detected",
        "score": 0.2,
        "threshold": 0.7,
        "evidence": files,
        "evidence_window": [1.0, 5.0],
    }
    html = _voice(doc, root)
    assert html.count('src="data:image/png;base64,') == 2 and "1.0–5.0 s" in html
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(Path(files["heatmap"]).read_bytes())
    html = _voice({**doc, "evidence": {"heatmap": str(outside), "spectrogram": "/etc/passwd"}}, root)
    assert "<img" not in html
    assert json.dumps(doc)  # the evidence entries are plain JSON
