"""The face model: shapes on tiny weights, weight files, integrity checks, shipped weights."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from detectors.face_align import CANONICAL_SIZE
from detectors.face_classifier import FaceClassifier
from detectors.models.efficientnet_lite import EfficientNetLite0
from detectors.weights import (
    REQUIRED_CARD_SECTIONS,
    REQUIRED_META,
    WEIGHTS_DIR,
    WeightsError,
    list_weights,
    load_tensors,
)
from tests.face_helpers import tiny_face_weights


def test_model_output_shape_and_features() -> None:
    model = EfficientNetLite0(1).eval()
    with torch.inference_mode():
        x = torch.randn(2, 3, 64, 64)
        assert model(x).shape == (2, 1)
        assert model.features(x).shape == (2, 1280, 2, 2)


def test_depthwise_convolutions_leave_autocast_only_when_asked() -> None:
    torch.manual_seed(0)
    model = EfficientNetLite0(1).eval()
    x = torch.randn(2, 3, 64, 64)
    seen: list[torch.dtype] = []
    hook = model._blocks[3]._depthwise_conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16):
        plain = model.features(x)
        model.depthwise_in_float32()
        mixed = model.features(x)
        model.depthwise_in_float32(False)
        again = model.features(x)
    hook.remove()
    assert seen == [torch.bfloat16, torch.float32, torch.bfloat16]
    assert model._blocks[3]._expand_conv.float32_under_autocast is False  # 1x1 convolutions stay bfloat16
    with torch.inference_mode():
        exact = model.features(x)
    torch.testing.assert_close(again, plain)  # switching back restores the bfloat16 path exactly
    assert not torch.equal(mixed, plain)
    # fewer roundings: closer to the float32 result than the all-bfloat16 pass
    assert (mixed.float() - exact).abs().max() <= (plain.float() - exact).abs().max()
    model.depthwise_in_float32()
    with torch.inference_mode():
        torch.testing.assert_close(model.features(x), exact)  # without autocast the switch changes nothing


def test_model_matches_the_imagenet_checkpoint_names() -> None:
    from training.train_face import pretrained_backbone

    missing, unexpected = EfficientNetLite0(1).load_state_dict(pretrained_backbone(), strict=False)
    assert set(missing) == {"_fc.weight", "_fc.bias"} and not unexpected


def test_classifier_scores_crops(tmp_path: Path) -> None:
    info = tiny_face_weights(tmp_path, bias=2.0)
    clf = FaceClassifier(info)
    crops = np.random.default_rng(0).integers(0, 255, (3, CANONICAL_SIZE, CANONICAL_SIZE, 3), dtype=np.uint8)
    logits = clf.logits(crops)
    assert logits.shape == (3,)
    scores = clf.calibrate(logits)
    assert ((scores > 0.5) & (scores < 1)).all()  # bias 2 with a near-zero head weight
    assert clf.threshold() == 0.7 and clf.threshold("0.01") == 0.9
    with pytest.raises(ValueError, match="unknown operating point"):
        clf.threshold("0.2")
    cam = clf.gradcam(crops[0])
    assert cam.shape == (CANONICAL_SIZE, CANONICAL_SIZE) and cam.min() >= 0 and cam.max() <= 1


def test_classifier_precision_follows_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tiny_face_weights(tmp_path, seed=3)
    crops = np.random.default_rng(1).integers(0, 255, (4, CANONICAL_SIZE, CANONICAL_SIZE, 3), dtype=np.uint8)
    monkeypatch.setenv("VERACITY_PRECISION", "float32")
    full = FaceClassifier(info)
    assert full.bfloat16 is False
    monkeypatch.setenv("VERACITY_PRECISION", "bfloat16")
    half = FaceClassifier(info)
    assert half.bfloat16 is True
    a, b = full.logits(crops), half.logits(crops)
    assert a.dtype == b.dtype == np.float64 and not np.array_equal(a, b)  # bfloat16 really ran
    assert np.allclose(a, b, atol=0.05 + 0.05 * np.abs(a).max())  # and stays close to float32


@pytest.mark.parametrize("mirror", [False, True])
def test_passes_hold_at_most_batch_size_images_and_do_not_change_the_logits(
    tmp_path: Path, mirror: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERACITY_ENGINE", "torch")  # the passes of eager PyTorch (a hook counts them)
    info = tiny_face_weights(tmp_path, seed=4, mirror_average=mirror)
    crops = np.random.default_rng(3).integers(0, 255, (11, CANONICAL_SIZE, CANONICAL_SIZE, 3), dtype=np.uint8)
    logits = {}
    for size in (1 + mirror, 8, 32):
        clf = FaceClassifier(info, batch_size=size)
        seen: list[int] = []
        clf.model.register_forward_hook(lambda _m, args, _out, seen=seen: seen.append(args[0].shape[0]))
        logits[size] = clf.logits(crops)
        assert max(seen) <= size and sum(seen) == len(crops) * (2 if mirror else 1)
    # equal to the last bit on some CPUs; on others (AVX2 only) the kernels round by pass size
    scale = np.abs(logits[32]).max()
    assert np.allclose(logits[8], logits[32], rtol=0, atol=1e-5 * scale)
    assert np.allclose(logits[1 + mirror], logits[32], rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize(
    ("mirror", "runtime"), [(False, "openvino"), (True, "openvino"), (True, "onnxruntime")]
)
def test_float32_inference_runs_in_an_onnx_runtime_with_the_logits_of_pytorch(
    tmp_path: Path, mirror: bool, runtime: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERACITY_PRECISION", "float32")
    info = tiny_face_weights(tmp_path, seed=6, mirror_average=mirror)
    crops = np.random.default_rng(4).integers(0, 255, (37, CANONICAL_SIZE, CANONICAL_SIZE, 3), dtype=np.uint8)
    monkeypatch.setenv("VERACITY_ENGINE", "torch")
    eager = FaceClassifier(info)
    monkeypatch.setenv("VERACITY_ENGINE", runtime)
    onnx = FaceClassifier(info)
    assert (eager.engine, onnx.engine) == ("torch", runtime)
    assert onnx.onnx is not None and onnx.onnx.export_seconds is None  # exported lazily
    assert onnx.batch_size == (32 if runtime == "onnxruntime" else 8)  # each runtime's best pass size
    a, b = eager.logits(crops), onnx.logits(crops)  # 37 crops: full passes and a short one
    assert onnx.onnx.export_seconds is not None and b.dtype == np.float64
    spread = np.ptp(a)
    assert spread > 0 and np.abs(a - b).max() <= 1e-3 * spread
    onnx.batch_size = 3
    assert np.abs(onnx.logits(crops) - b).max() <= 1e-4 * spread  # the pass size does not matter
    monkeypatch.setenv("VERACITY_PRECISION", "bfloat16")
    assert FaceClassifier(info).engine == "torch"  # bfloat16 stays in PyTorch


def test_the_engine_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from detectors import onnx_engine

    assert onnx_engine.available("openvino") and onnx_engine.available("onnxruntime")
    # the faster of the two where both are installed
    assert onnx_engine.export_runtime(False, "auto") == "openvino"
    assert onnx_engine.export_runtime(False, "onnxruntime") == "onnxruntime"
    assert (
        onnx_engine.export_runtime(True, "auto") is None
        and onnx_engine.export_runtime(True, "openvino") is None  # bfloat16 stays in PyTorch
        and onnx_engine.export_runtime(False, "torch") is None
    )
    with pytest.raises(ValueError, match="unknown inference engine"):
        onnx_engine.export_runtime(False, "tensorrt")
    monkeypatch.setattr(onnx_engine, "available", lambda runtime="onnxruntime": runtime == "onnxruntime")
    assert onnx_engine.export_runtime(False, "auto") == "onnxruntime"  # without OpenVINO
    with pytest.raises(ValueError, match="openvino or onnx is not installed"):
        onnx_engine.export_runtime(False, "openvino")
    monkeypatch.setattr(onnx_engine, "available", lambda runtime="onnxruntime": False)
    assert onnx_engine.export_runtime(False, "auto") is None  # falls back to PyTorch
    with pytest.raises(ValueError, match="not installed"):
        onnx_engine.export_runtime(False, "onnxruntime")
    with pytest.raises(ValueError, match="unknown runtime"):
        onnx_engine.OnnxModel(EfficientNetLite0(1), (3, 64, 64), runtime="torch")


def test_onnx_exports_are_kept_by_what_they_depend_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second model with the same tensors and input shape reads the kept export instead of
    exporting; other tensors or another shape export anew; a damaged file is exported again; with
    the cache off nothing is written."""
    from detectors import onnx_engine
    from detectors.onnx_engine import OnnxModel

    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))
    torch.manual_seed(3)
    model = EfficientNetLite0(1).eval()
    x = torch.randn(2, 3, 64, 64)
    first = OnnxModel(model, (3, 64, 64))
    out = first(x.numpy())
    [kept] = list((tmp_path / "cache").glob("EfficientNetLite0-*.onnx"))
    assert first.cached is False and kept.name == f"EfficientNetLite0-{first.key()}.onnx"

    def no_export(*_a: object, **_k: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    twin = EfficientNetLite0(1).eval()
    twin.load_state_dict(model.state_dict())
    again = OnnxModel(twin, (3, 64, 64))
    assert np.array_equal(again(x.numpy()), out) and again.cached is True
    monkeypatch.undo()
    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "cache"))
    with torch.no_grad():
        twin._fc.bias.add_(1.0)
    assert OnnxModel(twin, (3, 64, 64)).key() != first.key()
    assert OnnxModel(model, (3, 72, 72)).key() != first.key()
    for runtime in ("onnxruntime", "openvino"):  # the cache is one for both: the same ONNX graph
        kept.write_bytes(b"not a graph")
        damaged = OnnxModel(model, (3, 64, 64), runtime=runtime)
        assert np.allclose(damaged(x.numpy()), out, atol=1e-6) and damaged.cached is False
        assert kept.read_bytes() != b"not a graph"
    from_cache = OnnxModel(model, (3, 64, 64), runtime="openvino")
    assert np.allclose(from_cache(x.numpy()), out, atol=1e-6) and from_cache.cached is True
    assert len(list((tmp_path / "cache" / "openvino").glob("*.blob"))) == 1  # OpenVINO's compiled form
    monkeypatch.setenv(onnx_engine.CACHE_ENV, "0")
    assert onnx_engine.cache_dir() is None
    monkeypatch.delenv(onnx_engine.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_engine.cache_dir() == tmp_path / "xdg" / "veracity" / "onnx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setattr(Path, "home", lambda: (_ for _ in ()).throw(RuntimeError("no home")))
    assert onnx_engine.cache_dir() is None
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(onnx_engine.CACHE_ENV, str(tmp_path / "a-file" / "cache"))  # cannot be made
    assert np.allclose(OnnxModel(model, (3, 64, 64))(x.numpy()), out, atol=1e-6)  # exported, not kept
    monkeypatch.setenv(onnx_engine.CACHE_ENV, "0")
    OnnxModel(twin, (3, 64, 64))(x.numpy())
    assert len(list((tmp_path / "cache").glob("*.onnx"))) == 1


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_the_onnx_export_keeps_same_padding_at_odd_sizes(runtime: str) -> None:
    """TensorFlow's SAME padding rounds up (ceil of size / stride); traced as tensor arithmetic it
    would reach ONNX as truncating division and lose a row and a column at odd sizes."""
    from detectors.onnx_engine import OnnxModel

    torch.manual_seed(1)
    model = EfficientNetLite0(1).eval()
    x = torch.randn(3, 3, 67, 67)
    stem = OnnxModel(model._conv_stem, (3, 67, 67), runtime=runtime)(x.numpy())
    assert stem.shape == (3, 32, 34, 34)  # ceil(67 / 2), padded 0 above and 1 below
    with torch.inference_mode():
        torch.testing.assert_close(torch.from_numpy(stem), model._conv_stem(x), atol=1e-4, rtol=1e-4)
    whole = OnnxModel(model, (3, 67, 67), runtime=runtime)(x.numpy())
    with torch.inference_mode():
        torch.testing.assert_close(torch.from_numpy(whole), model(x), atol=1e-4, rtol=1e-4)


def test_mirror_average_scores_the_mean_of_a_crop_and_its_mirror_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERACITY_PRECISION", "float32")
    crops = np.random.default_rng(2).integers(0, 255, (3, CANONICAL_SIZE, CANONICAL_SIZE, 3), dtype=np.uint8)
    mirrored = np.ascontiguousarray(crops[:, :, ::-1])
    plain = FaceClassifier(tiny_face_weights(tmp_path / "a", seed=5))
    both = FaceClassifier(tiny_face_weights(tmp_path / "b", seed=5, mirror_average=True))
    assert plain.mirror_average is False and both.mirror_average is True
    a, b = plain.logits(crops), plain.logits(mirrored)
    scale = np.abs(np.concatenate([a, b])).max()  # random weights give tiny logits: compare relatively
    assert scale > 0 and not np.allclose(a / scale, b / scale, atol=1e-2)  # the two views differ
    assert np.allclose(both.logits(crops) / scale, (a + b) / 2 / scale, atol=1e-4)
    assert np.allclose(
        both.logits(mirrored) / scale, both.logits(crops) / scale, atol=1e-4
    )  # mirror-invariant
    # the heat map explains the mean: the mirror image's map is the crop's, mirrored
    cam, cam_m = both.gradcam(crops[0]), both.gradcam(mirrored[0])
    assert cam.shape == (CANONICAL_SIZE, CANONICAL_SIZE) and np.allclose(cam_m, cam[:, ::-1], atol=0.02)


def test_hash_mismatch_is_refused(tmp_path: Path) -> None:
    info = tiny_face_weights(tmp_path)
    data = bytearray(info.path.read_bytes())
    data[-1] ^= 0xFF
    info.path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        FaceClassifier(info)
    assert any("sha256" in p for p in info.problems())


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(Path(__file__).parent / "PWNED"),))


def test_a_pickle_posing_as_weights_is_never_unpickled(tmp_path: Path) -> None:
    import hashlib

    info = tiny_face_weights(tmp_path)
    marker = Path(__file__).parent / "PWNED"
    evil = pickle.dumps({"_fc.weight": _Payload()})
    info.path.write_bytes(evil)
    meta = dict(info.meta, sha256=hashlib.sha256(evil).hexdigest(), size_bytes=len(evil))
    (tmp_path / "face-test.json").write_text(json.dumps(meta))
    [fresh] = list_weights(tmp_path)
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_tensors(fresh)
    assert not marker.exists()


def test_missing_weight_file(tmp_path: Path) -> None:
    info = tiny_face_weights(tmp_path)
    info.path.unlink()
    with pytest.raises(WeightsError, match="missing"):
        FaceClassifier(info)


def test_wrong_architecture_shapes_are_refused(tmp_path: Path) -> None:
    from detectors.weights import save_weights
    from tests.face_helpers import face_meta

    info = save_weights(tmp_path, "bad", {"_fc.weight": torch.zeros(1, 3)}, face_meta())
    with pytest.raises(WeightsError, match="do not fit"):
        FaceClassifier(info)


def test_the_same_tensors_give_the_same_file(tmp_path: Path) -> None:
    from detectors.weights import save_weights
    from tests.face_helpers import face_meta

    state = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(4)}
    shas = {save_weights(tmp_path / str(i), "w", state, face_meta()).meta["sha256"] for i in range(8)}
    assert len(shas) == 1


# ------------------------------------------------------------ shipped weights


SHIPPED = list_weights(WEIGHTS_DIR)


def test_at_least_one_face_weight_is_shipped() -> None:
    assert any(w.meta.get("task") == "face-forgery" for w in SHIPPED)


@pytest.mark.parametrize("info", SHIPPED, ids=[w.name for w in SHIPPED])
def test_shipped_weight_metadata(info) -> None:  # type: ignore[no-untyped-def]
    for key in REQUIRED_META:
        assert key in info.meta, key
    assert info.path.is_file()
    assert info.problems() == []
    assert info.path.stat().st_size < 25 * 1024 * 1024
    card = info.card.read_text(encoding="utf-8")
    for section in REQUIRED_CARD_SECTIONS:
        assert f"## {section}" in card
    assert info.sha256 in card  # the card names the exact file it describes
    assert set(info.meta["operating_points"]) == {"0.01", "0.05", "0.1"}
    ops = [info.meta["operating_points"][k] for k in ("0.01", "0.05", "0.1")]
    assert ops[0] >= ops[1] >= ops[2]


@pytest.mark.parametrize(
    "info", [w for w in SHIPPED if w.meta.get("task") == "face-forgery"], ids=lambda w: w.name
)
def test_shipped_face_weights_load(info) -> None:  # type: ignore[no-untyped-def]
    clf = FaceClassifier(info)
    assert clf.logits(np.zeros((1, CANONICAL_SIZE, CANONICAL_SIZE, 3), np.uint8)).shape == (1,)
