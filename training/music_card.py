"""The model card of the music-or-speech weight, rendered from its metadata."""

from __future__ import annotations

from typing import Any

from training.cards import _f


def _rates(d: dict[str, Any]) -> str:
    c = d.get("called_music", {})
    return " / ".join(_f(c.get(op)) for op in ("0.01", "0.05", "0.1"))


def render(meta: dict[str, Any]) -> str:
    ev, tr, inp = meta["evaluation"], meta["training"], meta["input"]
    w = ev["windows"]
    ops = meta["operating_points"]
    cal = meta["calibration"]
    rows = [
        f"| {kind} | {ev[f'{kind}_{unit}']['n']} | {_rates(ev[f'{kind}_{unit}'])} |"
        for unit in ("windows", "recordings")
        for kind in ("music", "speech", "speech+music")
    ]
    counts = "; ".join(f"{k}: {v}" for k, v in sorted(tr["windows"].items()))
    return "\n".join(
        [
            f"# Model card: {meta['name']}",
            "",
            f"Music-or-speech classifier of the Veracity toolkit. File `{meta['file']}`, sha256 `{meta['sha256']}`, "
            f"{meta['size_bytes']} bytes, {meta['parameters']} trained parameters (a one-hidden-layer MLP over "
            f"{inp['features']} hand-made features: {inp['front_end']}). Input: {inp['window_s']} s windows of "
            f"{inp['rate']} Hz mono audio, the same windows the voice detector scores.",
            "",
            "## Intended use",
            "",
            "- Deciding when the voice-forgery detector must abstain because a recording is music without speech "
            "(the voice classifier was never trained on music, and voice activity detection fires on it). "
            "A file is called music when the median of its windows' probabilities passes the threshold.",
            "",
            "## Out-of-scope use",
            "",
            "- Music detection or tagging for its own sake; singing voice; telling speech over music apart from "
            "speech (both are speech here, on purpose).",
            "",
            "## Training data",
            "",
            "- Music: Debian game soundtracks: `wesnoth-1.16-music` (orchestral; GPL-2+), `frozen-bubble-data` "
            "(electronic; GPL-2) and `fillets-ng-data` (ambient; GPL-2+). The whole fillets-ng soundtrack and one "
            "track in five of the others are held out for validation.",
            "- Speech: `speech/real` and the real references in `speech/demos` of the shared data (see its README "
            "for sources and licences; each speaker's recordings joined), one speaker "
            "in five held out; and each speech window mixed over a music window of the same split at 0–20 dB "
            "speech-to-music ratio (labelled speech).",
            "- Every window: voice-active regions joined, 4 s, a codec round trip for a third of them, loudness "
            "normalised, as in the voice pipeline.",
            f"- Windows per split and kind: {counts}.",
            "",
            "## Training procedure",
            "",
            f"- Command: `{tr['command']}`; seed {tr['seed']}; {tr['epochs']} full-batch AdamW steps, class-balanced "
            f"loss; took {tr['seconds']} s on 2 CPU cores including feature extraction.",
            "",
            "## Evaluation",
            "",
            f"Held-out windows (music against speech, clean or over music): AUC {_f(w['auc'])}, EER {_f(w['eer'])}.",
            "",
            "Share called music at the 1 / 5 / 10 % operating points (for music: detection rate; for speech: "
            "false abstentions):",
            "",
            "| held-out set | n | called music at 1 / 5 / 10 % |",
            "|---|---|---|",
            *rows,
            "",
            "The first three rows count windows, the last three whole recordings (median over their windows, the "
            "rule the voice detector uses).",
            "",
            "## Operating points",
            "",
            f"Calibrated by Platt scaling p = sigmoid({cal['a']:.4f} · logit + {cal['b']:.4f}) on the validation "
            "windows. Thresholds by the share of held-out speech windows (clean or over music) called music:",
            "",
            "| max share of speech windows called music | threshold |",
            "|---|---|",
            *[f"| {float(op):.0%} | {t:.4f} |" for op, t in ops.items()],
            "",
            f"Default: {float(meta['default_operating_point']):.0%}, so that speech is almost never set aside.",
            "",
            "## Limitations",
            "",
            "- Three soundtracks of instrumental game music: songs with lyrics, rap, a cappella and spoken word over "
            "beats are not represented; singing may be treated as speech (then the voice score applies) or as music.",
            "- Validation sets are small (a few dozen tracks); the held-out numbers above are estimates.",
            "",
            f"Licence: {meta['license']}.",
            "",
        ]
    )
