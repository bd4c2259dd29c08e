"""The voice corpus builder: the common pipeline, synthesis, splits and the shortcut check."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import SHARED
from tests.test_speech import vowelish
from training import neural_suppressors, neural_tts
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
    assert single["seconds"]["raw"] > 0.95 and single["rms_dbfs"]["raw"] < 0.05  # type: ignore[index]
    assert set(report["single_feature_auc_per_family"]) == {"fake"}  # type: ignore[arg-type]
    assert len(report["weights"]) == 40  # type: ignore[arg-type]


def test_balance_weights_remove_an_overlapping_shortcut() -> None:
    """Fakes a little longer, quieter and with fewer pauses, with overlap: as written a classifier
    on those statistics finds them; as drawn with the balancing weights it is near chance."""
    rng = np.random.default_rng(0)
    n = 600
    labels = (np.arange(n) % 2).astype(np.float64)
    feats = np.c_[
        rng.normal(2.5 + 0.4 * labels, 0.5),
        rng.normal(-23 - 2 * labels, 3),
        rng.uniform(0.3, 0.9, n),
        np.clip(rng.normal(0.2 - 0.08 * labels, 0.08), 0, 1),
    ]
    fold = (np.arange(n) // 2) % 10  # speakers with one clip of each class
    w = vd.balance_weights(feats, labels)
    for m in (labels == 0, labels == 1):  # the weighted means agree
        assert (feats[m] * w[m, None]).sum(0) / w[m].sum() == pytest.approx(
            (feats * w[:, None]).sum(0) / w.sum(), rel=0.02, abs=0.01
        )
    for quadratic in (False, True):
        raw = vd._cv_auc(feats, labels, fold, quadratic=quadratic, balanced=False)
        balanced = vd._cv_auc(feats, labels, fold, quadratic=quadratic, balanced=True)
        assert raw is not None and raw > 0.8
        assert balanced is not None and abs(balanced - 0.5) < 0.1 and balanced < raw - 0.2
    assert abs(w[labels == 0].mean() - 1) < 1e-9 and abs(w[labels == 1].mean() - 1) < 1e-9
    assert w.max() / np.median(w) <= 10 + 1e-9
    # without a shortcut the weights stay close to uniform
    same = np.c_[
        rng.normal(2.5, 0.5, n), rng.normal(-23, 3, n), rng.uniform(0.3, 0.9, n), rng.uniform(0, 0.3, n)
    ]
    assert np.percentile(vd.balance_weights(same, labels), [5, 95]).tolist() == pytest.approx(
        [1, 1], abs=0.35
    )


def test_balance_writes_weights_for_training_clips(tmp_path: Path) -> None:
    import soundfile as sf

    rows = []
    for i in range(24):
        fake = i % 2 == 1
        y = vowelish(2.0 + (0.3 if fake else 0.0) + 0.1 * (i % 5), seed=i) * (0.3 if fake else 0.5)
        sf.write(tmp_path / f"{i}.flac", y, 16000)
        rows.append({"path": f"{i}.flac", "label": "fake" if fake else "real", "family": "fake" if fake else "real",
                     "speaker": f"s{i}", "split": "val" if i >= 20 else "train"})  # fmt: skip
    with (tmp_path / "meta.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    report = vd.balance(tmp_path)
    with (tmp_path / "meta.csv").open() as fh:
        written = list(csv.DictReader(fh))
    assert [r["path"] for r in written] == [r["path"] for r in rows]
    assert {r["weight"] for r in written if r["split"] == "val"} == {"1"}
    train_w = np.array([float(r["weight"]) for r in written if r["split"] == "train"])
    assert (train_w > 0).all() and train_w.std() > 0
    stored = json.loads((tmp_path / "shortcut_check.json").read_text())
    assert "weights" not in stored and stored["balanced_auc"] == report["balanced_auc"]
    assert set(stored["effective_clips"]) == {"real", "fake"}


@needs_tts
@pytest.mark.shared_data
@pytest.mark.slow
def test_build_a_small_corpus(tmp_path: Path) -> None:
    n = vd.build(SHARED, tmp_path, limit=2, vocoder_steps=2)  # with the optional neuralvoc family
    with (tmp_path / "meta.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert n == len(rows) > 10
    assert {r["family"] for r in rows} >= {"real", "espeak", "flite", "griffinlim", "neuralvoc"}
    assert {r["split"] for r in rows if r["family"] == "neuralvoc"} == {"train"}
    assert all((tmp_path / r["path"]).is_file() for r in rows)
    assert "auc" in json.loads((tmp_path / "shortcut_check.json").read_text())


def test_kokoro_clips_are_split_by_voice() -> None:
    def split(speaker: str) -> str:
        return vd.split_for(
            vd.Clip("fake", "kokoro", f"kokoro-82m:{speaker}", f"kokoro:{speaker}", "kokoro-82m"), 0
        )

    held, other = vd.KOKORO_VAL_VOICES
    assert split(held) == split(other) == split(f"{held}+{other}") == "val"
    assert split("jf_alpha") == split("jf_alpha+jf_nezumi") == "train"
    assert split(f"jf_alpha+{held}") == "val"  # a mix with a held-out voice never trains
    # whatever the seed: the voices, not a hash of the speaker, decide
    assert {vd.split_for(vd.Clip("fake", "kokoro", "k", f"kokoro:{held}", "k"), s) for s in range(20)} == {
        "val"
    }


def test_kokoro_voices_add_one_mix_of_two() -> None:
    rng = np.random.default_rng(0)
    voices = vd.kokoro_voices(["a", "b", "c"], rng)
    assert voices[:3] == ["a", "b", "c"] and len(voices) == 4
    a, b, w = voices[3]  # type: ignore[misc]
    assert a != b and {a, b} <= {"a", "b", "c"} and 0.3 <= w <= 0.7
    assert vd.kokoro_voices(["a"], rng) == ["a"]


@pytest.mark.parametrize(
    ("flags", "built", "extended"),
    [
        ([], False, None),  # the shipped corpus has no kokoro family (see docs/training-voice.md)
        (["--kokoro"], True, None),
        (["--extend"], None, False),
        (["--extend", "--kokoro"], None, True),
    ],
)
def test_kokoro_family_only_when_asked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    built: bool | None,
    extended: bool | None,
) -> None:
    calls: dict[str, bool] = {}
    monkeypatch.setattr(vd, "build", lambda data, out, **kw: calls.setdefault("build", kw["kokoro"]))
    monkeypatch.setattr(vd, "extend", lambda data, out, **kw: calls.setdefault("extend", kw["kokoro"]))
    assert vd.main(["--data", str(tmp_path), "--out", str(tmp_path / "c"), *flags]) == 0
    assert calls.get("build") is built and calls.get("extend") is extended


@pytest.mark.skipif(
    "kokoro" not in neural_tts.available(),
    reason="Kokoro is not available: needs espeak-ng (scripts/setup.sh installs it as root) and the train "
    "extra (pip install -e '.[train]')",
)
def test_kokoro_family_reads_training_and_held_out_voices(tmp_path: Path) -> None:
    from detectors.speech import check

    rows: list[dict[str, str]] = [
        {"path": "clips/000000.flac", "family": "real"}
    ]  # an earlier clip stays first
    n = vd.add_kokoro(tmp_path, rows, seed=0, limit=1, excerpts=1)
    added = rows[1:]
    assert n == len(added) == 7  # one sentence: 3 training voices + a mix, 2 held-out voices + their mix
    assert [r["path"] for r in added] == [f"clips/{k:06d}.flac" for k in range(1, 8)]
    for r in added:
        voices = set(r["speaker"].removeprefix("kokoro:").split("+"))
        held = voices & set(vd.KOKORO_VAL_VOICES)
        assert r["split"] == ("val" if held else "train") and (not held or held == voices)
        assert r["family"] == "kokoro" and r["label"] == "fake" and r["generator"].startswith("kokoro-82m:")
        y, rate = sf.read(tmp_path / r["path"], dtype="float32")
        assert rate == vd.RATE and check(y).usable
    assert {r["split"] for r in added} == {"train", "val"}


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


def test_griffin_lim_is_deterministic() -> None:
    """The corpus command writes the same Griffin-Lim clips on every run (its random initial
    phase is seeded, not drawn from numpy's global generator)."""
    x = vowelish(1.0)
    np.random.seed(1)
    a = vd.griffin_lim(x)
    np.random.seed(2)
    b = vd.griffin_lim(x)
    assert a.shape == x.shape and np.array_equal(a, b)


def eval_sets_module() -> Any:
    """``scripts/make_voice_eval_sets.py`` as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_voice_eval_sets", Path(__file__).parent.parent / "scripts" / "make_voice_eval_sets.py"
    )
    assert spec is not None and spec.loader is not None
    sets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sets)
    return sets


def test_ivr_prompt_set_joins_consecutive_prompts_of_each_voice(tmp_path: Path) -> None:
    sets = eval_sets_module()
    sounds = tmp_path / "root" / "usr/share/asterisk/sounds"
    voice, bare = sounds / "en_US_f_Test", sounds / "en"  # the bare language folder is left out
    for folder, n in ((voice, sets.IVR_STRIDE + sets.IVR_JOIN + 1), (bare, 8)):
        folder.mkdir(parents=True)
        for k in range(n):
            sf.write(folder / f"p{k:03d}.wav", np.full(800 + k, k, np.int16), 8000, subtype="PCM_16")
    rows = sets.ivr_prompts(tmp_path / "out", root=tmp_path / "root")
    assert rows == [
        ("en_US_f_Test-00.wav", "real", "en_US_f_Test"),
        ("en_US_f_Test-01.wav", "real", "en_US_f_Test"),
    ]
    second, rate = sf.read(tmp_path / "out" / "en_US_f_Test-01.wav", dtype="int16")
    start = sets.IVR_STRIDE
    assert rate == 8000 and len(second) == sum(800 + k for k in range(start, start + sets.IVR_JOIN))
    assert second[0] == start and second[-1] == start + sets.IVR_JOIN - 1  # prompts in order


def test_processed_set_runs_each_chain_over_each_held_back_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sets = eval_sets_module()
    calls: list[list[str]] = []
    monkeypatch.setattr("subprocess.run", lambda cmd, check: calls.append(cmd))
    monkeypatch.setattr(sets, "ffmpeg_has_filter", lambda name: True)
    ffmpeg_chains = {**sets.PROCESSING, **sets.RUBBERBAND_PROCESSING}
    neural: list[tuple[Path, Any, bool]] = []
    monkeypatch.setattr(
        sets,
        "neural",
        lambda folder, data, held, denoise, noisy: neural.append((folder, denoise, noisy)) or [],
    )
    held = [("speech/real/a/1.flac", "a"), ("speech/real/b/2.flac", "b")]
    only_rnnoise = {"rnnoise": lambda x: x}
    out = sets.processed(tmp_path / "out", tmp_path, held, denoisers=only_rnnoise)
    # a chain whose suppressor is not installed is left out; the noisy control needs none
    assert list(out) == [*ffmpeg_chains, *sets.SOX_PROCESSING, "noisy", "denoise-rnnoise", "noisy-rnnoise"]
    assert [(f.name, d, n) for f, d, n in neural] == [
        ("noisy", None, True),
        ("denoise-rnnoise", only_rnnoise["rnnoise"], False),
        ("noisy-rnnoise", only_rnnoise["rnnoise"], True),
    ]
    assert len(calls) == 2 * len(ffmpeg_chains) + 2 * 3 * len(sets.SOX_PROCESSING)
    assert out["podcast"] == [("000.mp3", "real", "a"), ("001.mp3", "real", "b")]
    assert out["aac48"] == [("000.m4a", "real", "a"), ("001.m4a", "real", "b")]
    done = [(chain, row) for chain, rows in out.items() for row in rows if chain in ffmpeg_chains]
    for cmd, (chain, (name, _, _)) in zip(calls, done, strict=False):
        assert cmd[cmd.index("-i") + 1] == str(tmp_path / held[int(name[:3])][0])
        assert cmd[cmd.index("-af") + 1] == ffmpeg_chains[chain][0]
        assert cmd[-1] == str(tmp_path / "out" / chain / name)
    sox = calls[len(done) :]  # per file: decoded by ffmpeg, the noise profile from its start, the reduction
    assert out["denoise-profile"] == [("000.wav", "real", "a"), ("001.wav", "real", "b")]
    for k, (decode, profile, reduce) in enumerate(zip(sox[::3], sox[1::3], sox[2::3], strict=True)):
        folder = tmp_path / "out" / "denoise-profile"
        src, dst = str(folder / f"{k:03d}-source.wav"), str(folder / f"{k:03d}.wav")
        assert decode[0] == "ffmpeg" and decode[decode.index("-i") + 1] == str(tmp_path / held[k][0])
        assert decode[-1] == src and profile[:2] == ["sox", src] and "noiseprof" in profile
        assert reduce[:3] == ["sox", src, dst] and reduce[reduce.index("noisered") + 1] == profile[-1]


def test_processed_set_says_what_it_lacks_without_ffmpeg(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sets = eval_sets_module()
    monkeypatch.setattr(sets.shutil, "which", lambda tool: None if tool == "ffmpeg" else "/usr/bin/" + tool)
    monkeypatch.setattr(
        sys, "argv", ["make_voice_eval_sets.py", "--data", "d", "--out", "o", "--only", "processed"]
    )
    assert sets.main() == 1
    assert "ffmpeg not found" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("sox") is None, reason="ffmpeg or sox is not installed"
)
def test_processed_set_writes_decodable_files_with_ffmpeg(tmp_path: Path) -> None:
    sets = eval_sets_module()
    src = tmp_path / "speech" / "real" / "a"
    src.mkdir(parents=True)
    sf.write(src / "1.wav", vowelish(1.5), 16000, subtype="PCM_16")
    seen: list[np.ndarray] = []

    def quieter(x: np.ndarray) -> np.ndarray:  # a stand-in suppressor: records its input
        seen.append(x)
        return x * 0.5

    held = [("speech/real/a/1.wav", "a")]
    out = sets.processed(tmp_path / "out", tmp_path, held, denoisers={"rnnoise": quieter})
    from detectors.audio import load_audio

    assert {"noisy", "denoise-rnnoise", "noisy-rnnoise", "tempo-fast", "speed-fast"} <= set(out)
    for chain, rows in out.items():
        x = load_audio(tmp_path / "out" / chain / rows[0][0], 16000)
        seconds = 1.5 * sets.DURATION_FACTOR.get(chain, 1.0)
        assert 0.9 * seconds < len(x) / 16000 < 1.1 * seconds and np.abs(x).max() > 0.01, chain
    assert sorted(p.name for p in (tmp_path / "out" / "noisy-rnnoise").iterdir()) == [
        "000.wav"
    ]  # temporaries removed
    clean, noisy = seen  # the suppressor saw the 48 kHz recording, then it with the noise added
    assert len(clean) == len(noisy) == 1.5 * sets.NEURAL_RATE
    noise = noisy - clean
    assert 9.0 < 10 * np.log10((clean**2).mean() / (noise**2).mean()) < 11.5


def test_pink_noise_is_seeded_pink_and_at_its_level_under_the_speech() -> None:
    x = np.zeros(48_000, np.float32)
    x[:24_000] = 0.1 * np.sin(2 * np.pi * 200 * np.arange(24_000) / 48_000)  # half speech, half silence
    noise = neural_suppressors.pink_noise(x, seed=3, snr_db=10.0)
    assert np.array_equal(noise, neural_suppressors.pink_noise(x, seed=3, snr_db=10.0))
    assert not np.array_equal(noise, neural_suppressors.pink_noise(x, seed=4, snr_db=10.0))
    active = (x[:24_000] ** 2).mean()  # the silent half does not lower the level it is set against
    assert 10 * np.log10(active / (noise**2).mean()) == pytest.approx(10.0, abs=0.01)
    power = np.abs(np.fft.rfft(noise)) ** 2
    low, high = power[100:1000].mean(), power[10_000:20_000].mean()  # 1/f: ten times less per decade
    assert 10 * np.log10(low / high) == pytest.approx(10 * np.log10(15_000 / 550), abs=1.5)


def noisy_vowel(seconds: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A 48 kHz vowel-like tone with gaps, and white noise at about 10 dB under it."""
    t = np.arange(int(seconds * 48_000)) / 48_000
    voice = (0.2 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    return voice, (0.02 * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("name", ["rnnoise", "deepfilternet"])
def test_neural_suppressors_keep_the_length_and_lower_the_noise_in_the_gaps(name: str) -> None:
    if name not in neural_suppressors.neural_denoisers():
        pytest.skip(
            f"{neural_suppressors.SUPPRESSOR_PACKAGES[name]} is not installed (scripts/setup.sh installs it)"
        )
    voice, noise = noisy_vowel()
    out = neural_suppressors.neural_denoisers()[name](voice + noise)
    assert out.shape == voice.shape and out.dtype == np.float32
    gaps = voice == 0
    gaps[: 48_000 // 2] = False  # after the suppressor has settled
    before, after = (noise[gaps] ** 2).mean(), (out[gaps] ** 2).mean()
    assert 10 * np.log10(before / after) > 6  # at least 6 dB less noise where there is no voice


def test_a_suppressor_runs_at_16_khz_through_its_own_rate() -> None:
    seen: list[int] = []

    def halve_above_4k(x: np.ndarray) -> np.ndarray:  # a stand-in 48 kHz suppressor
        seen.append(len(x))
        spec = np.fft.rfft(x)
        spec[np.fft.rfftfreq(len(x), 1 / 48_000) > 4000] *= 0.5
        return np.fft.irfft(spec, len(x)).astype(np.float32)

    t = np.arange(16_000) / 16_000
    x = (0.1 * np.sin(2 * np.pi * 500 * t) + 0.1 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    out = neural_suppressors.at_rate(halve_above_4k, x, 16_000)
    assert seen == [48_000] and out.shape == x.shape and out.dtype == np.float32
    spec_in, spec_out = np.abs(np.fft.rfft(x[2000:-2000])), np.abs(np.fft.rfft(out[2000:-2000]))
    low, high = 500 * 12_000 // 16_000, 6000 * 12_000 // 16_000  # the two tones' bins
    assert spec_out[low] / spec_in[low] == pytest.approx(1.0, abs=0.02)
    assert spec_out[high] / spec_in[high] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError, match="does not divide"):
        neural_suppressors.at_rate(halve_above_4k, x, 22_050)


def test_edits_set_pairs_each_demo_edit_with_its_own_original(tmp_path: Path) -> None:
    sets = eval_sets_module()
    demo = tmp_path / "speech" / "demos" / "voicecraft_demo"
    names = {
        "real/speech_editing": ["YOU1_S2", "lonely"],  # "lonely" has no edit: left out
        "fake/speech_editing": ["YOU1_S2_fs", "YOU1_S2_ve", "orphan_ve"],  # no original: left out
        "real/voicebox_cmp": ["orig_0"],
        "fake/voicebox_cmp": ["voicebox_0_0", "voicecraft_0_0", "voicebox_1_0"],
        "fake/tts": ["YOU1_S2_xtts"],  # a whole-utterance fake: not an edit
    }
    for folder, stems in names.items():
        (demo / folder).mkdir(parents=True, exist_ok=True)
        for stem in stems:
            sf.write(demo / folder / f"{stem}.flac", np.zeros(160, np.float32), 16000)
    rows = sets.edits(tmp_path)
    short = [(Path(p).relative_to(demo.resolve()).as_posix(), label, group) for p, label, group in rows]
    assert short == [
        ("real/speech_editing/YOU1_S2.flac", "real", "speech_editing:YOU1_S2"),
        ("fake/speech_editing/YOU1_S2_fs.flac", "fake", "speech_editing:YOU1_S2"),
        ("fake/speech_editing/YOU1_S2_ve.flac", "fake", "speech_editing:YOU1_S2"),
        ("real/voicebox_cmp/orig_0.flac", "real", "voicebox_cmp:orig_0"),
        ("fake/voicebox_cmp/voicebox_0_0.flac", "fake", "voicebox_cmp:orig_0"),
        ("fake/voicebox_cmp/voicecraft_0_0.flac", "fake", "voicebox_cmp:orig_0"),
    ]


def test_eval_set_labels_carry_a_group_column_only_when_every_row_names_one(tmp_path: Path) -> None:
    """The evaluation sets name each file's speaker (the unit ``veracity evaluate`` draws whole
    for its intervals); a set whose files name none is written without the column."""
    sets = eval_sets_module()
    sets.write(tmp_path / "a", [("x.wav", "real", "spk1"), ("y.wav", "fake", "flite:slt")])
    sets.write(tmp_path / "b", [("x.wav", "real", "spk1"), ("y.wav", "fake")])
    with (tmp_path / "a" / "labels.csv").open(newline="") as fh:
        assert list(csv.reader(fh)) == [
            ["path", "label", "group"],
            ["x.wav", "real", "spk1"],
            ["y.wav", "fake", "flite:slt"],
        ]
    with (tmp_path / "b" / "labels.csv").open(newline="") as fh:
        assert list(csv.reader(fh)) == [["path", "label"], ["x.wav", "real"], ["y.wav", "fake"]]


def test_splice_set_replaces_one_stretch_of_a_joined_real_file(tmp_path: Path) -> None:
    sets = eval_sets_module()
    data = tmp_path / "data"
    data.mkdir()
    for k in range(4):  # 3.5 s each: three make one joined file (11.25 s), the fourth is dropped
        sf.write(data / f"r{k}.wav", vowelish(3.5, seed=k), 16000, subtype="PCM_16")
    sf.write(data / "f.wav", vowelish(6.0, f0=230, seed=9), 16000, subtype="PCM_16")
    held = [(f"r{k}.wav", "spk") for k in range(4)]
    rows = sets.splices(tmp_path / "out", data, held, [("f.wav", "spk")])
    assert [r[1] for r in rows] == ["real", "fake", "fake", "fake"] and {r[2] for r in rows} == {"spk#0"}
    real, _ = sf.read(tmp_path / "out" / rows[0][0], dtype="int16")
    assert len(real) == 3 * int(3.75 * 16000)
    for (name, _, _), seconds in zip(rows[1:], sets.SPLICE_SECONDS, strict=True):
        fake, _ = sf.read(tmp_path / "out" / name, dtype="int16")
        changed = np.flatnonzero(fake != real)
        assert len(fake) == len(real) and name.endswith(f"-{seconds:g}s.wav")
        span = changed[-1] - changed[0] + 1  # one stretch, as long as the splice
        assert seconds * 16000 * 0.98 <= span <= seconds * 16000
        inside = fake[changed[0] : changed[-1] + 1].astype(float)
        before = real[changed[0] : changed[-1] + 1].astype(float)
        assert 0.7 < np.sqrt(np.mean(inside**2) / np.mean(before**2)) < 1.4  # loudness matched


def test_joined_set_joins_reals_in_order_and_fakes_per_generator(tmp_path: Path, monkeypatch: Any) -> None:
    sets = eval_sets_module()
    monkeypatch.setattr(sets, "JOINED_S", 5.0)
    data = tmp_path / "data"
    for sub in ("a", "b"):
        (data / sub).mkdir(parents=True)
    for k in range(3):  # 2 s each, two speakers: one real file of three recordings (6.75 s)
        sf.write(data / f"r{k}.wav", vowelish(2.0, seed=k), 16000, subtype="PCM_16")
    for k in range(4):  # 3 s each in two generator folders: one fake file per folder
        sf.write(
            data / ("a" if k < 2 else "b") / f"f{k}.wav", vowelish(3.0, seed=10 + k), 16000, subtype="PCM_16"
        )
    held = [("r0.wav", "s1"), ("r1.wav", "s1"), ("r2.wav", "s2")]
    fakes = [("a/f0.wav", "x"), ("a/f1.wav", "y"), ("b/f2.wav", "x"), ("b/f3.wav", "x")]
    rows = sets.joined(tmp_path / "out", data, held, fakes)
    assert [(r[1], r[2]) for r in rows] == [("real", "real#0"), ("fake", "a"), ("fake", "b")]
    real, _ = sf.read(tmp_path / "out" / rows[0][0], dtype="float32")
    first, _ = sf.read(data / "r0.wav", dtype="float32")
    assert len(real) == 3 * (2 * 16000 + 4000) and np.allclose(real[: len(first)], first, atol=1e-4)
    fake, _ = sf.read(tmp_path / "out" / rows[2][0], dtype="float32")
    assert len(fake) == 2 * (3 * 16000 + 4000)


def test_processed_set_leaves_out_rubberband_chains_where_ffmpeg_lacks_the_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sets = eval_sets_module()
    monkeypatch.setattr("subprocess.run", lambda cmd, check: None)
    monkeypatch.setattr(sets, "ffmpeg_has_filter", lambda name: name != "rubberband")
    monkeypatch.setattr(sets, "neural", lambda folder, data, held, denoise, noisy: [])
    out = sets.processed(tmp_path / "out", tmp_path, [("speech/real/a/1.flac", "a")], denoisers={})
    assert not set(sets.RUBBERBAND_PROCESSING) & set(out) and set(sets.PROCESSING) <= set(out)
    assert "no rubberband filter" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_ffmpeg_has_filter_reads_ffmpeg_s_own_list() -> None:
    sets = eval_sets_module()
    assert sets.ffmpeg_has_filter("atempo") and sets.ffmpeg_has_filter("loudnorm")
    assert not sets.ffmpeg_has_filter("no-such-filter")
