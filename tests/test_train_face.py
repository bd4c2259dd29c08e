"""Training code: pseudo-fakes, augmentation, and a two-step training run in tmp_path."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from detectors.face_align import CANONICAL_SIZE
from detectors.face_classifier import FaceClassifier
from detectors.weights import list_weights, load_tensors, read_info
from tests.conftest import SHARED, picture
from training import augment, blend
from training.face_data import META_FIELDS, split_of


def fake_landmarks(size: int = CANONICAL_SIZE) -> np.ndarray:
    """68 points laid out like dlib's: jaw arc, brows, nose, eyes, mouth."""
    c = size / 2
    jaw = [
        (c + 0.32 * size * np.cos(a), c + 0.05 * size + 0.3 * size * np.sin(a))
        for a in np.linspace(np.pi * 1.05, -0.05 * np.pi, 17)
    ]
    jaw = [(x, 2 * c - y + 0.1 * size) for x, y in jaw]
    brows = [(c - 0.25 * size + i * 0.05 * size, c - 0.12 * size) for i in range(10)]
    nose = [(c, c - 0.08 * size + i * 0.03 * size) for i in range(4)] + [
        (c - 0.04 * size + i * 0.02 * size, c + 0.06 * size) for i in range(5)
    ]
    eyes = [
        (c - 0.15 * size + 0.02 * size * np.cos(a), c - 0.05 * size + 0.01 * size * np.sin(a))
        for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)
    ]
    eyes += [
        (c + 0.15 * size + 0.02 * size * np.cos(a), c - 0.05 * size + 0.01 * size * np.sin(a))
        for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)
    ]
    mouth = [
        (c + 0.1 * size * np.cos(a), c + 0.17 * size + 0.04 * size * np.sin(a))
        for a in np.linspace(0, 2 * np.pi, 20, endpoint=False)
    ]
    pts = np.array(jaw + brows + nose + eyes + mouth, dtype=np.float32)
    assert pts.shape == (68, 2)
    return pts


def make_cache(folder: Path, n_people: int = 6) -> Path:
    folder.mkdir(parents=True)
    crops, rows = [], []
    for i in range(n_people * 2):
        crops.append(picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=i))
        person = i // 2
        rows.append(
            [i, "lfw", "photo", 0, f"lfw:p{person}", "val" if person < 2 else "train", f"p{i}.jpg", "0.000"]
        )
    for i, (source, label) in enumerate(
        [("deepfacelive", 0), ("deepfacelive", 1), ("ffhq", 0), ("stylegan", 1)] * 2
    ):
        crops.append(picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=100 + i))
        rows.append(
            [
                len(rows),
                source,
                "photo",
                label,
                f"g{i % 4}",
                "val" if i >= 4 else "train",
                f"x{i}.jpg",
                "0.000",
            ]
        )
    return write_cache(folder, crops, rows)


def write_cache(folder: Path, crops: list[np.ndarray], rows: list[list[object]]) -> Path:
    """A face cache as training.face_data writes it (every face with the same fake landmarks)."""
    np.save(folder / "crops.npy", np.stack(crops))
    np.save(folder / "landmarks68.npy", np.stack([fake_landmarks()] * len(crops)))
    with (folder / "meta.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(META_FIELDS)
        w.writerows(rows)
    return folder


def test_self_blend_changes_only_inside_the_mask() -> None:
    img = picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=3)
    rng = np.random.default_rng(2)
    assert np.random.default_rng(2).random() < 0.5  # with this seed the source (inside) is transformed
    out, mask = blend.self_blend(img, fake_landmarks(), rng)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert mask.max() > 0.2
    outside = mask < 1e-3
    assert np.abs(out.astype(int) - img.astype(int))[outside].max() <= 1
    assert np.abs(out.astype(int) - img.astype(int))[mask > 0.5].mean() > 0.5


def test_self_blend_is_reproducible() -> None:
    img = picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=4)
    a = blend.self_blend(img, fake_landmarks(), np.random.default_rng(7))[0]
    b = blend.self_blend(img, fake_landmarks(), np.random.default_rng(7))[0]
    assert np.array_equal(a, b)


def test_landmark_swap_moves_the_face() -> None:
    src = np.full((CANONICAL_SIZE, CANONICAL_SIZE, 3), 200, np.uint8)
    dst = picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=5)
    out = blend.landmark_swap(src, fake_landmarks(), dst, fake_landmarks(), np.random.default_rng(0))
    c = CANONICAL_SIZE // 2
    assert out.shape == dst.shape
    assert not np.array_equal(out[c - 10 : c + 10, c - 10 : c + 10], dst[c - 10 : c + 10, c - 10 : c + 10])
    assert np.array_equal(out[:5, :5], dst[:5, :5])  # the corner is outside the face


def test_piecewise_warp_leaves_no_holes() -> None:
    # Landmarks with float32-unfriendly coordinates and some outside the crop: every pixel
    # inside the hull must be covered by a triangle (a dropped triangle leaves black).
    rng = np.random.default_rng(11)
    flat = np.full((CANONICAL_SIZE, CANONICAL_SIZE, 3), 100, np.uint8)
    for _ in range(20):
        src = fake_landmarks() + rng.normal(0, 3, (68, 2)).astype(np.float32) + 0.123456
        dst = fake_landmarks() + rng.normal(0, 3, (68, 2)).astype(np.float32)
        dst[8, 1] = CANONICAL_SIZE + 4  # chin below the crop
        out = blend.piecewise_warp(flat, src, dst, (CANONICAL_SIZE, CANONICAL_SIZE))
        inner = np.zeros((CANONICAL_SIZE, CANONICAL_SIZE), np.uint8)
        cv2.fillConvexPoly(inner, cv2.convexHull(np.round(dst[17:68]).astype(np.int32)), 1)
        assert (out[inner > 0] == 100).all()


def test_piecewise_warp_of_one_affine_map_is_that_affine_warp() -> None:
    # every triangle gets the same map, so the result must be cv2's own warp of the image
    img = picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=12)
    src = fake_landmarks().astype(np.float64)
    m = np.array([[1.04, 0.05, -6.0], [-0.03, 0.97, 4.0]])
    dst = src @ m[:, :2].T + m[:, 2]
    out = blend.piecewise_warp(img, src, dst, (CANONICAL_SIZE, CANONICAL_SIZE))
    ref = cv2.warpAffine(img, m, (CANONICAL_SIZE, CANONICAL_SIZE), flags=cv2.INTER_LINEAR)
    inner = np.zeros((CANONICAL_SIZE, CANONICAL_SIZE), np.uint8)
    cv2.fillConvexPoly(inner, cv2.convexHull(np.round(dst).astype(np.int32)), 1)
    near = cv2.dilate(inner, np.ones((3, 3), np.uint8)) > 0
    inner = cv2.erode(inner, np.ones((3, 3), np.uint8)) > 0
    diff = np.abs(out.astype(int) - ref.astype(int))[inner]
    assert diff.max() <= 1
    assert (out[~near] == 0).all()  # no triangle reaches outside the points' hull: black


def test_weight_average_follows_the_weights_slowly() -> None:
    from training.averaging import WeightAverage

    net = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.BatchNorm1d(1))
    avg = WeightAverage(net, decay=0.9)
    start = net[0].weight.detach().clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
    for step in range(200, 203):  # past the ramp: the decay is 0.9
        avg.update(net, step)
    expected = start + 1.0 - 0.9**3  # the average has moved 1 - 0.9^3 of the way
    assert torch.allclose(avg.state["0.weight"], expected, atol=1e-6)
    assert avg.state["1.num_batches_tracked"] == net[1].num_batches_tracked


def test_uniform_weight_average_is_the_mean_of_the_weights_given() -> None:
    from training.averaging import WeightAverage

    net = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.BatchNorm1d(1))
    seen = [net[0].weight.detach().clone()]
    avg = WeightAverage(net)  # no decay: uniform
    for step, shift in enumerate([1.0, -3.0, 0.5]):
        with torch.no_grad():
            net[0].weight.add_(shift)
            net[1].running_mean.add_(shift)
        net[1].num_batches_tracked += 1
        seen.append(net[0].weight.detach().clone())
        avg.update(net, step)
    assert avg.count == 4
    assert torch.allclose(avg.state["0.weight"], torch.stack(seen).mean(0), atol=1e-6)
    assert torch.allclose(avg.state["1.running_mean"], torch.tensor([(1.0 - 2.0 - 1.5) / 4]), atol=1e-6)
    assert avg.state["1.num_batches_tracked"] == 3  # integer buffers follow the model


def test_landmark_warp_moves_the_face_only() -> None:
    img = picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=6)
    out = blend.landmark_warp(img, fake_landmarks(), np.random.default_rng(1))
    assert out.shape == img.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - img.astype(int)).sum(-1)
    c = CANONICAL_SIZE // 2
    centre = diff[c - 40 : c + 40, c - 40 : c + 40].mean()
    assert centre > 1  # the face is resampled
    assert diff[0, 0] == 0 and diff[-1, -1] == 0  # pinned corners stay
    assert diff[:2, :].mean() < centre / 3  # the edge moves far less than the face
    again = blend.landmark_warp(img, fake_landmarks(), np.random.default_rng(1))
    assert np.array_equal(out, again)


def _mirrored(points: np.ndarray, width: int = CANONICAL_SIZE) -> np.ndarray:
    out = points[blend.MIRROR_68].copy()
    out[:, 0] = (width - 1) - out[:, 0]
    return out


def test_mirror_index_is_an_involution() -> None:
    assert sorted(blend.MIRROR_68.tolist()) == list(range(68))
    assert np.array_equal(blend.MIRROR_68[blend.MIRROR_68], np.arange(68))
    assert blend.MIRROR_68[36] == 45 and blend.MIRROR_68[48] == 54 and blend.MIRROR_68[30] == 30


def test_mirror_swap_of_a_symmetric_face_is_itself_and_moves_a_mark_across() -> None:
    lm = fake_landmarks()
    sym_lm = (lm + _mirrored(lm)) / 2
    img = picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=8).astype(np.float32)
    sym = ((img + img[:, ::-1]) / 2).astype(np.uint8)
    out = blend.mirror_swap(sym, sym_lm)
    assert out is not None
    c = CANONICAL_SIZE // 2
    assert np.abs(out.astype(int) - sym.astype(int))[c - 50 : c + 50, c - 50 : c + 50].mean() < 3
    # a dark mark on the left cheek shows up on the right cheek
    marked = sym.copy()
    marked[c : c + 10, c - 60 : c - 50] = 0
    out = blend.mirror_swap(marked, sym_lm)
    assert out is not None
    assert out[c : c + 10, c + 50 : c + 60].mean() < 40 < out[c : c + 10, c - 60 : c - 50].mean()


def test_mirror_swap_declines_a_face_that_would_fold() -> None:
    lm = fake_landmarks()
    bent = lm.copy()
    bent[:17, 0] += 80  # the whole jaw shoved to one side: no mirror fits it
    assert blend.mirror_swap(picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=9), bent) is None


def test_self_blend_without_warp_draws_as_before() -> None:
    # warp=0 draws no extra random numbers: earlier recipes stay reproducible
    img = picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=4)
    a = blend.self_blend(img, fake_landmarks(), np.random.default_rng(7))[0]
    b = blend.self_blend(img, fake_landmarks(), np.random.default_rng(7), warp=0.0)[0]
    c = blend.self_blend(img, fake_landmarks(), np.random.default_rng(7), warp=1.0)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_cross_blend_pastes_the_donor_inside_the_mask_only() -> None:
    img = picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=3)
    donor = np.full((CANONICAL_SIZE, CANONICAL_SIZE, 3), (30, 200, 60), np.uint8)
    lm = fake_landmarks()
    moved = lm * 1.05 + 4  # the donor's face a little larger and shifted: a similarity aligns it
    out, mask = blend.cross_blend(img, lm, donor, moved, np.random.default_rng(2))
    assert out.shape == img.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - img.astype(int))
    assert diff[mask < 1e-3].max() <= 1
    inside = mask > 0.9
    if inside.any():  # a full-strength blend shows the donor's colour, whichever side was colour-shifted
        assert diff[inside].mean() > 20


def test_nearest_donor_ignores_position_and_picks_the_closest_shape() -> None:
    lm = fake_landmarks()
    wide = lm.copy()
    wide[:, 0] = (wide[:, 0] - wide[:, 0].mean()) * 1.3 + wide[:, 0].mean()
    pool = np.stack([wide, lm + 30.0, lm * 0.7])  # the same shape, shifted, is the nearest
    assert blend.nearest_donor(lm, pool, np.array([0, 1, 2])) == 1
    assert blend.nearest_donor(lm, pool, np.array([2, 0])) == 1  # an index into the candidates


def test_cross_blends_take_another_persons_face(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import train_face
    from training.face_data import load

    crops, marks, meta = load(make_cache(tmp_path / "cache"))
    pools = train_face.Pools(meta, "train")
    person = {np.asarray(crops[int(i)]).tobytes(): meta[int(i)]["group"] for i in pools.photo_real}
    assert len(person) == len(pools.photo_real)  # every test picture differs
    pairs: list[tuple[str, str]] = []

    def spy(img: np.ndarray, lm: np.ndarray, donor: np.ndarray, dlm: np.ndarray, rng: object) -> object:
        pairs.append((person[img.tobytes()], person[donor.tobytes()]))
        return img, None

    monkeypatch.setattr(train_face.blend, "cross_blend", spy)
    maker = train_face.BatchMaker(crops, marks, pools, [], {}, 64, np.random.default_rng(1), cross=1.0)
    for i in pools.photo_real:
        maker._cross(int(i), np.asarray(crops[int(i)]))
    assert len(pairs) == len(pools.photo_real)
    assert all(target != donor for target, donor in pairs)


def test_batches_without_cross_blends_draw_as_before(tmp_path: Path) -> None:
    from training.face_data import load
    from training.train_face import BatchMaker, Pools

    crops, marks, meta = load(make_cache(tmp_path / "cache"))
    pools = Pools(meta, "train")

    def batch(**kw: float) -> object:
        return BatchMaker(crops, marks, pools, [], {}, 64, np.random.default_rng(4), **kw)(12)[0]

    assert torch_equal(batch(), batch(cross=0.0))
    assert not torch_equal(batch(), batch(cross=1.0))


def test_degradations_keep_shape_and_type() -> None:
    rng = np.random.default_rng(0)
    img = picture(CANONICAL_SIZE, CANONICAL_SIZE)
    for _ in range(10):
        out = augment.degrade(augment.colour(augment.geometry(img, rng), rng), rng)
        assert out.shape == img.shape and out.dtype == np.uint8


def test_h264_frame_keeps_the_picture_and_adds_block_artefacts() -> None:
    img = picture(255, 201, seed=3)  # odd sides are padded for 4:2:0 and cropped back
    out = augment.h264(img, 30, (1, 2))
    assert out.shape == img.shape and out.dtype == np.uint8
    err = np.abs(out.astype(int) - img.astype(int)).mean()
    assert 0.5 < err < 20  # changed by the codec, still the same picture
    assert np.abs(augment.h264(img, 45).astype(int) - img).mean() > err  # lower quality, more change


def test_split_is_stable_and_near_the_fraction() -> None:
    keys = [f"person{i}" for i in range(2000)]
    first = [split_of(k, 0.2, 0) for k in keys]
    assert first == [split_of(k, 0.2, 0) for k in keys]
    assert 0.17 < first.count("val") / len(keys) < 0.23


def test_two_step_training_run(tmp_path: Path) -> None:
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    out = tmp_path / "weights"
    meta = train(
        cache,
        out,
        size=64,
        steps=2,
        batch=4,
        ae_steps=1,
        seed=0,
        workers=0,
        name="face-tiny",
        command="test",
        warp=0.5,
        mirror=0.5,
        paired=True,
    )
    [info] = list_weights(out)
    assert info.name == "face-tiny" and info.problems() == []  # card, hash and size all written
    assert set(meta["operating_points"]) == {"0.01", "0.05", "0.1"}  # type: ignore[arg-type]
    assert "self_blended_heldout_people" in meta["evaluation"]  # type: ignore[operator]
    doc = json.loads((out / "face-tiny.json").read_text())
    assert doc["training"]["steps"] == 2 and doc["input"]["size"] == 64
    assert doc["training"]["self_blend_mirror"] == 0.5 and doc["training"]["self_blend_warp"] == 0.5
    card = (out / "face-tiny.md").read_text()
    assert "mirror image" in card and "not wholly unseen" in card
    assert doc["training"]["paired"] is True and "Paired batches" in card
    clf = FaceClassifier(info)
    assert clf.logits(np.zeros((2, CANONICAL_SIZE, CANONICAL_SIZE, 3), np.uint8)).shape == (2,)
    # every per-crop number carries its interval, drawn by whole groups, and the card shows it
    for k, v in doc["evaluation"].items():
        iv = v["intervals"]
        assert "groups" in iv["method"] and iv["auc"][0] <= v["auc"] <= iv["auc"][1], k
    assert "drawing whole groups" in card


def test_validation_sets_name_the_group_of_every_image(tmp_path: Path) -> None:
    """Each held-out image's group is its person (a fake counts as its photo's person), each
    DeepFaceLive frame's its source video: the units that the intervals draw whole."""
    from training.face_data import load
    from training.train_face import Pools, build_validation

    crops, marks, meta = load(make_cache(tmp_path / "cache"))
    sets = build_validation(crops, marks, meta, Pools(meta, "val"), [], seed=0)
    for name, v in sets.items():
        assert len(v.groups) == len(v.labels) == len(v.images), name
    sbi = sets["self_blended_heldout_people"]
    # each blend after its photo's person
    assert list(sbi.groups) == ["lfw:p0", "lfw:p0", "lfw:p1", "lfw:p1"] * 2
    swaps = sets["landmark_swaps_heldout_people"]
    assert list(swaps.groups[swaps.labels == 1]) == ["lfw:p0", "lfw:p0", "lfw:p1", "lfw:p1"]
    dfl = sets["deepfacelive_heldout_videos"]
    assert list(dfl.groups) == ["g0", "g1"]  # the fixture's two held-out halves name their groups


def test_training_with_an_average_and_a_time_limit(tmp_path: Path) -> None:
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    out = tmp_path / "weights"
    train(
        cache, out, size=64, steps=3, batch=4, ae_steps=1, workers=1, name="face-avg", ema=0.99, time_limit=0
    )
    doc = json.loads((out / "face-avg.json").read_text())
    assert doc["training"]["steps"] == 1 and doc["training"]["steps_planned"] == 3  # stopped after one step
    assert doc["training"]["ema"]["decay"] == 0.99
    assert set(doc["training"]["ema"]["last_weights_evaluation"]) == set(doc["evaluation"])
    card = (out / "face-avg.md").read_text()
    assert "1 of 3 planned steps" in card and "moving average" in card


def test_training_can_start_from_trained_weights(tmp_path: Path) -> None:
    from detectors.weights import WeightsError
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    kw = dict(size=64, steps=1, batch=4, ae_steps=0, workers=0)
    train(cache, tmp_path / "a", name="face-a", **kw)  # type: ignore[arg-type]
    train(cache, tmp_path / "b", name="face-b", init=tmp_path / "a" / "face-a.json", **kw)  # type: ignore[arg-type]
    doc = json.loads((tmp_path / "b" / "face-b.json").read_text())
    parent = json.loads((tmp_path / "a" / "face-a.json").read_text())["training"]
    init = doc["training"]["init"]
    assert init["name"] == "face-a" and init["size"] == 64 and init["steps"] == 1
    assert init["command"] == parent["command"] and init["lineage_seconds"] == parent["total_seconds"]
    assert doc["training"]["lineage_seconds"] == pytest.approx(
        parent["total_seconds"] + doc["training"]["total_seconds"], abs=0.11
    )
    card = (tmp_path / "b" / "face-b.md").read_text()
    assert "Started from the trained weights face-a" in card and "its own held-out AUCs" in card
    assert "from ImageNet weights through every stage" in card
    weights = tmp_path / "a" / "face-a.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one byte changed: the hash no longer matches
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        train(cache, tmp_path / "c", name="face-c", init=tmp_path / "a" / "face-a.json", **kw)  # type: ignore[arg-type]


def test_training_in_bfloat16_keeps_float32_weights(tmp_path: Path) -> None:
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    kw = dict(size=64, steps=1, batch=4, ae_steps=0, workers=0)
    train(cache, tmp_path / "w", name="face-bf", precision="bfloat16", **kw)  # type: ignore[arg-type]
    [info] = list_weights(tmp_path / "w")
    assert info.problems() == []
    doc = json.loads((tmp_path / "w" / "face-bf.json").read_text())
    assert doc["training"]["precision"] == "bfloat16"
    assert doc["training"]["depthwise_float32"] is True  # on CPU; the allocator is recorded too
    assert doc["training"]["allocator"] in ("tcmalloc", "system")
    assert "bfloat16 autocast" in (tmp_path / "w" / "face-bf.md").read_text()
    logits = FaceClassifier(info).logits(np.full((2, CANONICAL_SIZE, CANONICAL_SIZE, 3), 128, np.uint8))
    assert logits.shape == (2,) and np.isfinite(logits).all()
    with pytest.raises(SystemExit, match="precision"):
        train(cache, tmp_path / "x", name="face-x", precision="float8", **kw)  # type: ignore[arg-type]


def test_batches_depend_only_on_seed_and_step(tmp_path: Path) -> None:
    from training.face_data import load
    from training.train_face import BatchMaker, BatchStream, Pools

    crops, marks, meta = load(make_cache(tmp_path / "cache"))
    pools = Pools(meta, "train")

    def stream() -> BatchStream:
        maker = BatchMaker(crops, marks, pools, [], {}, 64, np.random.default_rng(123))
        return BatchStream(maker, steps=5, batch=6, seed=9)

    a, b = stream(), stream()
    x3, y3 = a[3]
    a[1]  # other steps drawn in between change nothing
    x3b, y3b = b[3]
    assert torch_equal(x3, x3b) and torch_equal(y3, y3b)
    assert y3.tolist() == [0, 0, 0, 1, 1, 1]
    assert not torch_equal(a[2][0], x3)


def test_batch_workers_change_nothing_but_speed(tmp_path: Path) -> None:
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    kw = dict(size=64, steps=3, batch=4, ae_steps=1, seed=4, warp=0.5, mirror=0.5)
    for workers in (0, 1):
        train(cache, tmp_path / f"w{workers}", name="face-w", workers=workers, **kw)  # type: ignore[arg-type]
    train(cache, tmp_path / "other", name="face-w", workers=0, **{**kw, "seed": 5})  # type: ignore[arg-type]
    a, b, c = (load_tensors(read_info(tmp_path / d / "face-w.json")) for d in ("w0", "w1", "other"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # another seed does change them


def test_paired_batches_blend_the_same_photos_as_their_reals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training import train_face
    from training.face_data import load

    crops, marks, meta = load(make_cache(tmp_path / "cache"))
    pools = train_face.Pools(meta, "train")
    for name in ("video_real", "video_fake", "ffhq", "stylegan"):  # photos only: every fake is a blend
        setattr(pools, name, np.zeros(0, np.int64))
    # the blend and the finishing leave each picture as it is, so a fake shows which photo it came from
    monkeypatch.setattr(train_face.blend, "self_blend", lambda img, lm, rng, **kw: (img, None))
    monkeypatch.setattr(train_face, "_finish", lambda img, size, rng: train_face.to_model_input(img, size))

    def batch(paired: bool) -> object:
        maker = train_face.BatchMaker(
            crops, marks, pools, [], {}, 64, np.random.default_rng(5), paired=paired
        )
        return maker(16)[0]

    paired, unpaired = batch(True), batch(False)
    assert torch_equal(paired[:8], paired[8:])  # type: ignore[index]
    assert not torch_equal(unpaired[:8], unpaired[8:])  # type: ignore[index]


def torch_equal(a: object, b: object) -> bool:
    import torch

    return bool(torch.equal(a, b))  # type: ignore[arg-type]


@pytest.mark.shared_data
@pytest.mark.slow
def test_face_cache_from_shared_data(tmp_path: Path) -> None:
    from training.face_data import build, load

    n = build(SHARED, tmp_path / "c", limit=2, frames_per_video=2)
    crops, marks, meta = load(tmp_path / "c")
    assert n == len(meta) == len(crops) and crops.shape[1:] == (CANONICAL_SIZE, CANONICAL_SIZE, 3)
    assert marks.shape == (n, 68, 2)
    assert {m["source"] for m in meta} >= {"lfw", "deepfacelive"}


def test_face_pack_round_trip_cuts_the_same_photo_crops(tmp_path: Path) -> None:
    from PIL import Image

    from detectors.face_align import align
    from detectors.media import load_image_rgb
    from training.face_data import load
    from training.face_pack import pack, unpack

    cache = tmp_path / "cache"
    cache.mkdir()
    crops, mats, rows = [], [], []
    for i in range(4):  # photos: a lossless PNG and JPEGs, each a face somewhere in a larger picture
        src = tmp_path / f"photo {i} <x>.{'png' if i == 0 else 'jpg'}"
        Image.fromarray(picture(320, 300, seed=i)).save(src)
        five = np.array([[120, 130], [180, 128], [150, 165], [126, 200], [176, 198]], np.float64) + 7 * i
        crop, m = align(load_image_rgb(src), five)
        crops.append(crop)
        mats.append(m)
        rows.append([i, "lfw", "photo", 0, f"lfw:p{i}", "train", str(src), "0.000"])
    for i in range(2):  # video frames: carried as JPEG
        crops.append(picture(CANONICAL_SIZE, CANONICAL_SIZE, seed=50 + i))
        mats.append(np.eye(2, 3))
        rows.append([len(rows), "deepfacelive", "video", i, "dfl:v", "val", str(tmp_path / "v.mp4"), "0.500"])
    write_cache(cache, crops, rows)
    with pytest.raises(SystemExit, match="matrices"):
        pack(cache, tmp_path / "nope")
    np.save(cache / "matrices.npy", np.stack(mats))

    got = pack(cache, tmp_path / "pack", video_quality=95)
    assert got["sources"] == 4 and got["frames"] == 2
    names = [p.name for p in (tmp_path / "pack" / "sources").iterdir()]
    assert len(names) == 4 and not any("photo" in n or "<" in n for n in names)  # the data's names stay out
    for src in tmp_path.glob("photo *"):
        src.unlink()  # unpacking reads only the pack

    report = unpack(tmp_path / "pack", tmp_path / "again")
    assert report["photos"] == 4 and report["photos_exact"] == 4
    back, marks, meta = load(tmp_path / "again")
    assert np.array_equal(back[:4], np.stack(crops[:4]))
    diff = np.abs(back[4:].astype(int) - np.stack(crops[4:]).astype(int))
    assert 0 < diff.mean() < 4  # JPEG at quality 95: close, not identical
    assert [r["kind"] for r in meta] == ["photo"] * 4 + ["video"] * 2 and marks.shape == (6, 68, 2)

    bad = (tmp_path / "pack" / "meta.csv").read_text().replace("sources/", "sources/../../", 1)
    (tmp_path / "pack" / "meta.csv").write_text(bad)
    with pytest.raises(SystemExit, match="outside"):
        unpack(tmp_path / "pack", tmp_path / "third")


def test_zero_steps_measures_trained_weights_at_another_size(tmp_path: Path) -> None:
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    kw = dict(batch=4, ae_steps=0, workers=1)
    train(cache, tmp_path / "a", name="face-a", size=64, steps=1, **kw)  # type: ignore[arg-type]
    parent = tmp_path / "a" / "face-a.json"
    train(cache, tmp_path / "b", name="face-b", size=80, steps=0, init=parent, **kw)  # type: ignore[arg-type]
    [info] = list_weights(tmp_path / "b")
    assert info.problems() == []
    doc = json.loads((tmp_path / "b" / "face-b.json").read_text())
    assert doc["input"]["size"] == 80 and doc["training"]["steps"] == 0
    # the very same tensors (both stored in float16), now measured and calibrated at 80 px
    mine, theirs = load_tensors(info), load_tensors(read_info(parent))
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert set(doc["operating_points"]) == {"0.01", "0.05", "0.1"}
    card = (tmp_path / "b" / "face-b.md").read_text()
    assert "No training steps: the tensors of face-a unchanged, read at 80 px (trained at 64 px)" in card
    assert FaceClassifier(info).size == 80
    with pytest.raises(SystemExit, match="only with --init"):
        train(cache, tmp_path / "c", name="face-c", size=64, steps=0, **kw)  # type: ignore[arg-type]
    assert doc["input"]["mirror_average"] is False
    # the same tensors scored as the mean of each crop and its mirror image: measured that way too
    train(cache, tmp_path / "m", name="face-m", size=80, steps=0, init=parent, mirror_average=True, **kw)  # type: ignore[arg-type]
    mdoc = json.loads((tmp_path / "m" / "face-m.json").read_text())
    assert mdoc["input"]["mirror_average"] is True
    assert FaceClassifier(read_info(tmp_path / "m" / "face-m.json")).mirror_average
    assert (
        "each crop is scored as the mean of its logit and its mirror image's"
        in (tmp_path / "m" / "face-m.md").read_text()
    )


def test_fresh_draws_are_scored_recorded_and_judge_the_targets(tmp_path: Path) -> None:
    from training import face_draws
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    train(cache, tmp_path / "w", name="face-d", size=64, steps=1, batch=4, ae_steps=0, workers=0)
    meta_path = tmp_path / "w" / "face-d.json"
    scores = face_draws.score(cache, [meta_path], [1, 2])
    aucs = scores["face-d"]
    assert set(aucs) == set(face_draws.SETS) and all(len(v) == 2 for v in aucs.values())
    assert all(0.0 <= a <= 1.0 for v in aucs.values() for a in v)
    assert face_draws.score(cache, [meta_path], [1, 2]) == scores  # a draw is fixed by its seed
    out = tmp_path / "draws.json"  # --json writes the same numbers for scripts to read
    assert face_draws.main([str(meta_path), "--cache", str(cache), "--seeds", "1,2", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == {"seeds": [1, 2], "auc": scores}
    with pytest.raises(SystemExit, match="two weights named face-d"):
        face_draws.score(cache, [meta_path, meta_path], [1])
    # the real photos, shared by both sets of a draw, are scored once; the logits are the same
    model = face_draws.EfficientNetLite0(num_outputs=1).eval()
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 256, 256, 3), dtype=np.uint8)
    labels = np.array([0, 0, 0, 1, 1, 1])
    full = face_draws.logits_of(model, imgs, 64)
    reused = face_draws._logits(model, imgs, labels, 64, False, (imgs[:3], full[:3] + 1.0))
    np.testing.assert_allclose(reused[:3], full[:3] + 1.0)  # taken as known, not scored again
    np.testing.assert_allclose(reused[3:], full[3:], atol=1e-5)
    other = face_draws._logits(model, imgs, labels, 64, False, (imgs[3:], full[:3] + 1.0))
    np.testing.assert_allclose(other, full, atol=1e-5)  # other real photos: all scored
    face_draws.record(meta_path, [1, 2], {"self_blended_heldout_people": [0.96, 0.93]}, "cmd")
    doc = json.loads(meta_path.read_text())
    assert doc["fresh_draws"] == {
        "seeds": [1, 2],
        "auc": {"self_blended_heldout_people": [0.96, 0.93]},
        "command": "cmd",
    }
    card = (tmp_path / "w" / "face-d.md").read_text()
    # judged by the mean of the draws (0.945), not by the better one
    assert "on 2 fresh draws (seeds 1, 2) 0.960 / 0.930, mean 0.945: **not met**" in card
    assert [info.problems() for info in list_weights(tmp_path / "w")] == [[]]  # the tensors are untouched


def test_cards_show_the_bootstrap_intervals_of_whole_file_evaluations() -> None:
    from training import cards

    meta: dict[str, object] = {"operating_points": {"0.01": 0.9, "0.05": 0.7, "0.1": 0.6}}
    files = [
        {"label": "real", "score": 0.8},
        {"label": "real", "score": 0.1},
        {"label": "fake", "score": 0.95},
    ]
    base = {"n_real": 2, "n_fake": 1, "n_abstained": 0, "n_scored": 3, "auc": 1.0, "eer": 0.0, "files": files}
    base["tpr_at_fpr"] = {"0.01": 1.0, "0.05": 1.0, "0.1": 1.0}
    grouped = {"level": 0.95, "method": "percentile bootstrap over groups", "resamples": 2000, "seed": 0}
    cards.add_evaluation(
        meta, "videos", {**base, "intervals": {**grouped, "auc": [0.8125, 1.0], "eer": [0.0, 0.25]}}
    )
    cards.add_evaluation(meta, "photos", {**base, "intervals": None})
    text = "\n".join(cards.pipeline_table(meta, "Whole files:"))
    assert "| videos | 2 | 1 | 0 | 1.000 (0.812–1.000) | 0.000 (0.000–0.250) |" in text
    assert "| photos | 2 | 1 | 0 | 1.000 | 0.000 |" in text  # no interval recorded, none shown
    assert "2000 resamples, seed 0" in text and "whole groups of files that share a source for videos" in text
    assert meta["pipeline_evaluation"]["videos"]["real_flagged"] == {"0.01": 0, "0.05": 1, "0.1": 1}  # type: ignore[index]


def test_frozen_blocks_keep_their_weights_while_the_rest_trains(tmp_path: Path) -> None:
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    kw = dict(size=64, batch=4, ae_steps=0, workers=0)
    train(cache, tmp_path / "a", name="face-a", steps=1, **kw)  # type: ignore[arg-type]
    parent = tmp_path / "a" / "face-a.json"
    train(cache, tmp_path / "f", name="face-f", steps=2, init=parent, freeze=5, lr=1e-2, measure=False, **kw)  # type: ignore[arg-type]
    before, after = load_tensors(read_info(parent)), load_tensors(read_info(tmp_path / "f" / "face-f.json"))
    frozen = ("_conv_stem.", "_bn0.weight", "_bn0.bias", *(f"_blocks.{i}." for i in range(5)))
    stats = ("running_mean", "running_var", "num_batches_tracked")  # BatchNorm statistics still adapt
    weights = [k for k in before if not k.endswith(stats)]
    kept = [k for k in weights if k.startswith(frozen)]
    assert kept and all(torch.equal(before[k], after[k]) for k in kept)
    trained = [k for k in weights if k.startswith(("_blocks.5.", "_blocks.15.", "_fc."))]
    assert all(not torch.equal(before[k], after[k]) for k in trained)
    assert json.loads((tmp_path / "f" / "face-f.json").read_text())["training"]["frozen_blocks"] == 5
    with pytest.raises(SystemExit, match="--freeze takes 0 to 16"):
        train(cache, tmp_path / "g", name="face-g", steps=1, freeze=17, **kw)  # type: ignore[arg-type]


def test_a_soup_averages_trained_weights_and_its_calibration_names_the_ingredients(tmp_path: Path) -> None:
    from training import face_soup
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    kw = dict(size=64, steps=1, batch=4, ae_steps=0, workers=0)
    train(cache, tmp_path / "a", name="face-a", seed=0, **kw)  # type: ignore[arg-type]
    # an ingredient may skip its own measurement (--no-measure): no evaluation, calibration or card
    train(cache, tmp_path / "b", name="face-b", seed=1, measure=False, **kw)  # type: ignore[arg-type]
    a, b = tmp_path / "a" / "face-a.json", tmp_path / "b" / "face-b.json"
    bdoc = json.loads(b.read_text())
    assert bdoc["evaluation"] == {} and bdoc["calibration"] is None and bdoc["operating_points"] is None
    assert bdoc["training"]["measured"] is False and bdoc["training"]["steps"] == 1
    assert not (tmp_path / "b" / "face-b.md").exists()
    with pytest.raises(SystemExit, match="--no-measure"):
        train(
            cache,
            tmp_path / "x",
            name="face-x",
            steps=0,
            init=a,
            measure=False,
            **{k: v for k, v in kw.items() if k != "steps"},
        )  # type: ignore[arg-type]
    assert face_soup.main([str(a), str(b), "--out", str(tmp_path / "s"), "--name", "face-s"]) == 0
    [info] = list_weights(tmp_path / "s")
    # not a usable weight yet: uncalibrated, no operating points, no card (train_face --steps 0 does that)
    assert info.problems() and all(
        any(w in p for w in ("calibration", "operating_point", "card")) for p in info.problems()
    )
    soup, ta, tb = load_tensors(info), load_tensors(read_info(a)), load_tensors(read_info(b))
    for k, v in soup.items():
        if v.is_floating_point():
            assert v.dtype == torch.float16
            assert torch.allclose(v.float(), (ta[k].float() + tb[k].float()) / 2, atol=1e-3, rtol=1e-3)
        else:
            assert torch.equal(v, ta[k])
    # the tensor where the ingredients differ most (after one step most differ by an ulp or two of
    # float16, which the average can round back onto one of them)
    some = max(
        (k for k, v in soup.items() if v.is_floating_point()),
        key=lambda k: float((ta[k].float() - tb[k].float()).abs().max()),
    )
    assert not torch.equal(soup[some], ta[some])  # really an average, not a copy
    assert not torch.equal(soup[some], tb[some])
    ingredients = info.meta["training"]["soup_of"]
    assert [x["name"] for x in ingredients] == ["face-a", "face-b"] and all(
        "command" in x for x in ingredients
    )
    with pytest.raises(SystemExit, match="the same weights twice"):
        face_soup.soup([a, a], tmp_path / "t", "face-t")
    # measured and calibrated as any trained weights; the card names what was averaged
    train(
        cache,
        tmp_path / "c",
        name="face-c",
        size=64,
        steps=0,
        batch=4,
        ae_steps=0,
        workers=0,
        init=tmp_path / "s" / "face-s.json",
    )
    card = (tmp_path / "c" / "face-c.md").read_text()
    assert (
        "face-s is the uniform average (a model soup" in card
        and "face-a (sha256" in card
        and "face-b" in card
    )
    assert (
        json.loads((tmp_path / "c" / "face-c.json").read_text())["training"]["init"]["soup_of"] == ingredients
    )


def run_script(script: str, out: Path, work: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``bash scripts/SCRIPT unused OUT WORK`` from the repository root, with this Python and ``env``."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(
        ["bash", str(root / "scripts" / script), "unused", str(out), str(work)],
        cwd=root, env={**os.environ, "PYTHON": sys.executable, **env}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def tiny_budget_env(tmp_path: Path, **more: str) -> dict[str, str]:
    """The budget scripts' environment for a tiny cache made in ``tmp_path``: one stage-1 step,
    batches of 4, no up-samplers; ``more`` adds or overrides."""
    base = {
        "FACE_CACHE": str(make_cache(tmp_path / "cache")),
        "FACE_BUDGET_S1_STEPS": "1",
        "FACE_BUDGET_EXTRA": "--batch 4 --upsampler-steps 0",
    }
    return {**base, **more}


def test_the_v6_script_runs_its_whole_chain(tmp_path: Path) -> None:
    """scripts/train_face_v6.sh end to end on a tiny cache: four continuations, the soup, the
    interpolation with the parent, the mirror-averaged calibration and the recorded fresh draws."""
    from training.train_face import train

    cache = make_cache(tmp_path / "cache")
    train(cache, tmp_path / "parent", name="face-parent", size=64, steps=1, batch=4, ae_steps=0, workers=0)
    parent = tmp_path / "parent" / "face-parent.json"
    out, work = tmp_path / "out", tmp_path / "work"
    r = run_script(
        "train_face_v6.sh",
        out,
        work,
        FACE_CACHE=str(cache),
        FACE_V4=str(parent),
        FACE_V6_STEPS="1",
        FACE_V6_SIZE="64",
        FACE_V6_EXTRA="--batch 4 --upsampler-steps 0 --workers 0",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    [info] = list_weights(out)
    assert info.name == "face-effnetlite0-v6" and info.problems() == []
    doc = json.loads((out / "face-effnetlite0-v6.json").read_text())
    assert doc["input"]["mirror_average"] is True and doc["input"]["size"] == 64
    init = doc["training"]["init"]
    assert [i["name"] for i in init["soup_of"]] == ["face-parent", "face-effnetlite0-soup4"]
    soup = json.loads((work / "soup4" / "face-effnetlite0-soup4.json").read_text())["training"]
    assert [i["name"] for i in soup["soup_of"]] == [
        f"face-effnetlite0-{n}" for n in ("ctl-s0", "cross-s0", "ctl-s1", "cross-s1")
    ]
    assert len(doc["fresh_draws"]["seeds"]) == 5
    # the four continuations ran from the parent, two with cross-person blends
    for name, cross in (("ctl-s0", 0.0), ("cross-s0", 0.4), ("ctl-s1", 0.0), ("cross-s1", 0.4)):
        run = json.loads((work / name / f"face-effnetlite0-{name}.json").read_text())["training"]
        assert run["steps"] == 1 and run["cross_person_blend"] == cross
        assert run["init"]["name"] == "face-parent"


def test_the_budget_script_fits_stage_two_into_what_is_left(tmp_path: Path) -> None:
    """scripts/train_face_budget.sh end to end on a tiny cache: stage 1 from ImageNet weights,
    stage 2 at another size with mirror averaging and the recorded fresh draws; run again with
    stage 1 already there and no time left, it stops with a clear error."""
    env = tiny_budget_env(
        tmp_path, FACE_BUDGET_S2_STEPS="2", FACE_BUDGET_S1_SIZE="64", FACE_BUDGET_S2_SIZE="72"
    )
    out, work = tmp_path / "out", tmp_path / "work"

    def run(**more: str) -> subprocess.CompletedProcess[str]:
        return run_script("train_face_budget.sh", out, work, **{**env, **more})

    r = run()
    assert r.returncode == 0, r.stderr[-2000:]
    assert "stage 2: 2 steps" in r.stdout
    [info] = list_weights(out)
    assert info.name == "face-effnetlite0-v7" and info.problems() == []
    doc = json.loads((out / "face-effnetlite0-v7.json").read_text())
    assert doc["input"]["mirror_average"] is True and doc["input"]["size"] == 72
    train = doc["training"]
    assert train["steps"] == 2 and train["workers"] == 0 and train["init"]["name"] == "face-effnetlite0-b1"
    stage1 = json.loads((work / "s1" / "face-effnetlite0-b1.json").read_text())["training"]
    assert stage1["init"] is None and stage1["steps"] == 1 and stage1["self_blend_warp"] == 0.5
    both = stage1["total_seconds"] + train["total_seconds"]
    assert train["lineage_seconds"] == pytest.approx(both, abs=0.2)
    assert len(doc["fresh_draws"]["seeds"]) == 5
    mtime = (work / "s1" / "face-effnetlite0-b1.safetensors").stat().st_mtime
    r = run(FACE_BUDGET_SECONDS="600")  # 600 s less the cache's 240, stage 1 and 840: nothing left
    assert r.returncode == 1 and "left no time for stage 2" in r.stderr
    assert (work / "s1" / "face-effnetlite0-b1.safetensors").stat().st_mtime == mtime  # not retrained


def test_the_budget_soup_script_runs_its_whole_chain(tmp_path: Path) -> None:
    """scripts/train_face_budget_soup.sh end to end on a tiny cache: stage 1 and stage 2 from
    ImageNet weights, the pair of one-thread continuations, their soup, the interpolation with
    stage 2, the mirror-averaged calibration, the recorded draws and the lineage's seconds; with
    stage 1 already there and no time left, it stops with a clear error before stage 2."""
    env = tiny_budget_env(
        tmp_path,
        FACE_BUDGET_S2_STEPS="2",
        FACE_BUDGET_PAIR_STEPS="1",
        FACE_BUDGET_TRAIN_SIZE="64",
        FACE_BUDGET_CAL_SIZE="72",
    )
    out, work = tmp_path / "out", tmp_path / "work"

    def run(**more: str) -> subprocess.CompletedProcess[str]:
        return run_script("train_face_budget_soup.sh", out, work, **{**env, **more})

    r = run()
    assert r.returncode == 0, r.stderr[-2000:]
    [info] = list_weights(out)
    assert info.name == "face-effnetlite0-v7" and info.problems() == []
    doc = json.loads((out / "face-effnetlite0-v7.json").read_text())
    assert doc["input"]["mirror_average"] is True and doc["input"]["size"] == 72
    assert doc["training"]["steps"] == 0 and len(doc["fresh_draws"]["seeds"]) == 5
    stage2 = json.loads((work / "s2" / "face-effnetlite0-s2.json").read_text())["training"]
    assert stage2["steps"] == 2 and stage2["init"]["name"] == "face-effnetlite0-b1"
    for name, cross in (("ctl-s0", 0.0), ("cross-s0", 0.4)):
        ingredient = json.loads((work / name / f"face-effnetlite0-{name}.json").read_text())["training"]
        assert ingredient["init"]["name"] == "face-effnetlite0-s2"
        assert ingredient["cross_person_blend"] == cross and ingredient["threads"] == 1
    wise = json.loads((work / "wise2" / "face-effnetlite0-wise2.json").read_text())
    parents = [i["name"] for i in wise["training"]["soup_of"]]
    assert parents == ["face-effnetlite0-s2", "face-effnetlite0-soup2"]
    lines = (work / "lineage.txt").read_text().splitlines()
    parts = [int(line.split()[-2]) for line in lines[:-1]]
    assert lines[0] == "cache 240 s" and lines[-1].startswith(f"lineage {sum(parts)} s")
    done = [work / d / f"face-effnetlite0-{d}.safetensors" for d in ("s2", "ctl-s0", "cross-s0")]
    mtimes = [p.stat().st_mtime for p in done]
    r = run()  # a rerun skips the stages that wrote their seconds and counts those seconds again
    assert r.returncode == 0, r.stderr[-2000:]
    assert [p.stat().st_mtime for p in done] == mtimes
    assert (work / "lineage.txt").read_text().splitlines()[2:4] == lines[2:4]
    mtime = (work / "s1" / "face-effnetlite0-b1.safetensors").stat().st_mtime
    (work / "s2" / "seconds").unlink()
    r = run(FACE_BUDGET_SECONDS="3000")  # less the cache's 240, stage 1, 300, 1800 and 900: nothing left
    assert r.returncode == 1 and "left no time for stage 2" in r.stderr
    assert (work / "s1" / "face-effnetlite0-b1.safetensors").stat().st_mtime == mtime  # not retrained


def test_the_budget_scripts_stage_one_pair_picks_one_of_its_three_on_other_draws(tmp_path: Path) -> None:
    """FACE_BUDGET_S1_PAIR=1: stage 1 is two one-thread runs side by side (seeds 0 and 1) and their
    soup; the one with the best mean swap AUC on draws 11 and 12 is picked, the seconds of all of it
    kept, and a rerun (here stopped before stage 2 by a short budget) trains none of it again."""
    from training import face_draws

    env = tiny_budget_env(
        tmp_path,
        FACE_BUDGET_S1_PAIR="1",
        FACE_BUDGET_TRAIN_SIZE="64",
        FACE_BUDGET_SECONDS="3000",  # less the cache's 240, stage 1, 300, 1800 and 900: nothing left
    )
    out, work = tmp_path / "out", tmp_path / "work"
    r = run_script("train_face_budget_soup.sh", out, work, **env)
    assert r.returncode == 1 and "left no time for stage 2" in r.stderr, r.stderr[-2000:]
    pair = work / "s1pair"
    runs = [pair / "s0" / "face-effnetlite0-b1-s0.json", pair / "s1" / "face-effnetlite0-b1-s1.json"]
    soup = pair / "soup" / "face-effnetlite0-b1-soup.json"
    for seed, path in enumerate(runs):
        training = json.loads(path.read_text())["training"]
        assert training["seed"] == seed and training["threads"] == 1 and training["measured"] is False
    assert [i["name"] for i in json.loads(soup.read_text())["training"]["soup_of"]] == [
        "face-effnetlite0-b1-s0",
        "face-effnetlite0-b1-s1",
    ]
    draws = json.loads((pair / "draws.json").read_text())
    assert draws["seeds"] == [11, 12] and len(draws["auc"]) == 3
    picked = Path((pair / "picked").read_text().strip())
    assert picked.name == f"{face_draws.pick(draws['auc'])}.json" and picked.is_file()
    assert int((pair / "seconds").read_text()) >= 0
    mtimes = [p.with_suffix(".safetensors").stat().st_mtime for p in (*runs, soup)]
    r = run_script("train_face_budget_soup.sh", out, work, **env)
    assert r.returncode == 1 and "left no time for stage 2" in r.stderr
    assert [p.with_suffix(".safetensors").stat().st_mtime for p in (*runs, soup)] == mtimes  # not retrained


def test_face_draws_picks_the_best_swaps_then_the_best_self_blends() -> None:
    from training import face_draws

    blends, swaps = face_draws.SETS
    result = {
        "a": {blends: [0.95, 0.95], swaps: [0.80, 0.82]},
        "b": {blends: [0.90, 0.90], swaps: [0.82, 0.82]},
        "c": {blends: [0.93, 0.93], swaps: [0.83, 0.81]},
    }
    assert face_draws.pick(result) == "c"  # the same swap mean as b, better self-blends
    result["b"][swaps] = [0.83, 0.83]
    assert face_draws.pick(result) == "b"


def test_auto_precision_takes_bfloat16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from training import precision

    monkeypatch.setattr(precision, "fast_bfloat16", lambda: True)
    assert precision.resolve("auto", "cpu") == "bfloat16" and precision.resolve("auto", "cuda") == "float32"
    monkeypatch.setattr(precision, "fast_bfloat16", lambda: False)
    assert precision.resolve("auto", "cpu") == "float32"
    assert precision.resolve("bfloat16", "cpu") == "bfloat16"  # as asked, with a warning
    assert precision.resolve("float32", "cpu") == "float32"
    with pytest.raises(SystemExit, match="--precision must be one of"):
        precision.resolve("float16", "cpu")
