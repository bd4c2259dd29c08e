"""The voice corpus builder: the common pipeline, synthesis, splits and the shortcut check."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from tests.test_speech import vowelish
from training import voice_data as vd

needs_tts = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("flite") is None,
    reason="espeak-ng and flite are not installed (scripts/setup.sh installs them as root)",
)


@pytest.mark.parametrize("codec", vd.CODECS, ids=lambda c: "none" if c is None else f"{c[1]}-{c[2]}")
def test_codec_roundtrip_keeps_length_and_level(codec: tuple[str, str, int] | None) -> None:
    x = vowelish(2.0)
    y = vd.codec_roundtrip(x, codec)
    assert y.shape == x.shape and y.dtype == np.float32
    assert abs(float(np.sqrt(np.mean(y**2))) - float(np.sqrt(np.mean(x**2)))) < 0.05
    if codec is not None:
        assert not np.array_equal(x, y)


def test_trim_removes_silence_and_caps_length() -> None:
    x = np.concatenate([np.zeros(16000 * 2, np.float32), vowelish(1.0), np.zeros(16000 * 2, np.float32)])
    y = vd.trim(x)
    assert 0.9 * 16000 < len(y) < 1.5 * 16000
    assert len(vd.trim(vowelish(12.0))) == int(vd.MAX_S * 16000)


def test_splits_hold_out_families_and_speakers() -> None:
    assert vd.split_for(vd.Clip("fake", "flite", "flite:slt", "flite:slt", "flite"), 0) == "val"
    assert vd.split_for(vd.Clip("fake", "griffinlim", "gl", "spk", "x"), 0) == "val"
    assert (
        vd.split_for(vd.Clip("real", "real", "human", "s", "speech/demos/hierspeechpp_demo/real/a.flac"), 0)
        == "val"
    )
    splits = [vd.split_for(vd.Clip("real", "real", "human", f"spk{i}", "x"), 0) for i in range(500)]
    assert 0.15 < splits.count("val") / 500 < 0.25


@needs_tts
def test_espeak_and_flite_speak() -> None:
    from detectors.speech import check

    for x in (vd.espeak(vd.SENTENCES[0], "en+f2", 160, 50), vd.flite(vd.SENTENCES[1], "slt")):
        assert x.dtype == np.float32 and check(x).usable


def test_griffin_lim_resynthesis() -> None:
    x = vowelish(1.0)
    y = vd.griffin_lim(x, iters=4)
    assert y.shape == x.shape and np.isfinite(y).all() and not np.allclose(x, y)


def test_shortcut_check_catches_an_obvious_shortcut(tmp_path: Path) -> None:
    import soundfile as sf

    rows = []
    for i in range(40):
        fake = i % 2 == 1
        y = vowelish(2.0 + (1.5 if fake else 0.0), seed=i) * (
            0.1 if fake else 0.5
        )  # fakes longer and quieter
        name = f"{i}.flac"
        sf.write(tmp_path / name, y, 16000)
        rows.append({"path": name, "label": "fake" if fake else "real", "speaker": f"s{i}", "split": "train"})
    report = vd.shortcut_check(tmp_path, rows)
    assert report["auc"] is not None and report["auc"] > 0.95  # type: ignore[operator]
    single = report["single_feature_auc"]
    assert single["seconds"] > 0.95 and single["rms_dbfs"] < 0.05  # type: ignore[index]
    assert set(report["single_feature_auc_per_family"]) == {"fake"}  # type: ignore[arg-type]


@needs_tts
@pytest.mark.shared_data
@pytest.mark.slow
def test_build_a_small_corpus(tmp_path: Path) -> None:
    n = vd.build(SHARED, tmp_path, limit=2)
    with (tmp_path / "meta.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert n == len(rows) > 10
    assert {r["family"] for r in rows} >= {"real", "espeak", "flite", "griffinlim"}
    assert all((tmp_path / r["path"]).is_file() for r in rows)
    assert "auc" in json.loads((tmp_path / "shortcut_check.json").read_text())


def test_speech_only_drops_the_pauses() -> None:
    x = np.concatenate([vowelish(1.0), np.zeros(16000, np.float32), vowelish(1.0, seed=1)])
    y = vd.speech_only(x)
    assert 1.7 * 16000 < len(y) < 2.3 * 16000
    assert vd.speech_only(np.zeros(16000, np.float32)).size == 16000  # nothing voiced: unchanged


def test_lpc_excitation_is_dispersed() -> None:
    """The LPC vocoder's pulses are spread by a chirp, so its crest factor is not a shortcut:
    lower than with bare impulses, on the same input and level."""
    x = vowelish(2.0)

    def crest(y: np.ndarray) -> float:
        return float(np.abs(y).max() / np.sqrt(np.mean(y**2)))

    bare, dispersed = vd.lpc_vocoder(x, dispersion=0.0005), vd.lpc_vocoder(x)
    assert dispersed.shape == x.shape and np.isfinite(dispersed).all()
    assert crest(dispersed) < 0.85 * crest(bare)


def test_partial_edits_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "MANIFEST.csv").write_text(
        "path,repo,commit,source_path,licence,labels\n"
        'speech/demos/x/fake/a.flac,r,c,s,l,"fake;generator=Edit;PARTIAL fake: only the edited words"\n'
        "speech/demos/x/fake/b.flac,r,c,s,l,fake;generator=TTS\n"
    )
    for name in ("a", "b"):
        f = tmp_path / "speech" / "demos" / "x" / "fake" / f"{name}.flac"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")
    assert vd.partial_fakes(tmp_path) == {"speech/demos/x/fake/a.flac"}
    srcs = [c.source for _, c in vd.sources(tmp_path, None) if c.source.startswith("speech/")]
    assert srcs == ["speech/demos/x/fake/b.flac"]


def test_debian_recordings_are_joined_per_folder(tmp_path: Path) -> None:
    for lang in ("de", "fr"):
        d = tmp_path / "usr/share/klettres" / lang / "alpha"
        d.mkdir(parents=True)
        for k in range(vd.JOIN * 6):
            (d / f"{k:02d}.ogg").write_bytes(b"")
    out = vd.debian_recordings(None, root=tmp_path)
    assert len(out) == 2  # per folder: 24 files, every ninth group of JOIN
    parts, clip = out[0]
    assert len(parts) == vd.JOIN and all(p.parent == parts[0].parent for p in parts)
    assert clip.label == "real" and clip.speaker == "klettres:de"
    assert clip.source.startswith("debian/klettres/usr/share/klettres/de/alpha/")
    assert {c.speaker for _, c in out} == {"klettres:de", "klettres:fr"}


@pytest.mark.skipif(shutil.which("text2wave") is None, reason="festival is not installed (see the README)")
def test_festival_speaks() -> None:
    from detectors.speech import check

    voices = vd.festival_voices()
    if not voices:
        pytest.skip("no festival voice of FESTIVAL_VOICES is installed")
    x = vd.festival(vd.SENTENCES[2], voices[0], 1.1)
    assert x.dtype == np.float32 and check(x).usable


def test_source_path_finds_debian_recordings() -> None:
    data = Path("/data")
    assert vd.source_path(data, "speech/real/a.flac") == data / "speech/real/a.flac"
    src = "debian/klettres/usr/share/klettres/de/alpha/A.ogg"
    assert vd.source_path(data, src) == Path("/usr/share/klettres/de/alpha/A.ogg")
