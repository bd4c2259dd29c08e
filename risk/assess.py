"""Likeness-rights risk of one file: pure functions from its signals to a level, an action
and the reasons, each naming its evidence and, where one applies, the rule it touches.

The inputs are plain data (``Signals``), built from the detectors' reports by
``risk.signals.from_record``; nothing here reads files or loads models. The legal notes are
information for a reviewer, not legal advice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from risk.policy import ACTIONS, LEVELS, Policy

LEGAL = {
    "elvis-act": "Tennessee ELVIS Act (2024): unauthorised use of an individual's voice or likeness, "
    "including simulations of them, in Tennessee",
    "no-fakes-act": "US NO FAKES Act (proposed): unauthorised digital replicas of an individual's voice or "
    "visual likeness; news, documentary, commentary, criticism and parody are excluded",
    "eu-ai-act-50-4": "EU AI Act art. 50(4): deployers of AI systems that generate or manipulate image, audio "
    "or video constituting a deep fake must disclose that the content is artificial",
}


@dataclass(frozen=True)
class Provenance:
    state: str  # trusted | valid | invalid | absent | unsupported (file type) | error | skipped
    ai: str = "none"  # ai-generated | ai-edited | composite-with-ai | none (declared by the active manifest)
    ai_field: str | None = None  # where the manifest says so
    failure_codes: tuple[str, ...] = ()
    signer: str | None = None
    origin_ai: tuple[str, ...] = ()  # other origin signals that suggest AI (XMP, EXIF, PNG text, watermark)


@dataclass(frozen=True)
class Detection:
    modality: str  # face | voice
    verdict: str  # manipulated | synthetic | not-detected | abstained | error | skipped
    score: float | None = None
    threshold: float | None = None
    operating_point: str | None = None
    reason: str | None = None  # abstention reason or error message
    where: str | None = None  # e.g. "track 0, 1.5–4.0 s" or "windows 2–6 s"

    @property
    def flagged(self) -> bool:
        return self.verdict in ("manipulated", "synthetic")


@dataclass(frozen=True)
class PersonMatch:
    person_id: str
    name: str
    modality: str  # face | voice
    similarity: float
    threshold: float
    where: str | None = None
    consent: dict[str, Any] | None = None  # {status, licensee, until} for the declared use, or None


@dataclass(frozen=True)
class Signals:
    path: str
    provenance: Provenance | None = None
    face: Detection | None = None
    voice: Detection | None = None
    matches: tuple[PersonMatch, ...] = ()
    errors: tuple[str, ...] = ()  # steps that failed on this file (partial analysis)


@dataclass(frozen=True)
class Reason:
    rule: str
    level: str
    action: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    legal: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "level": self.level,
            "action": self.action,
            "message": self.message,
            "evidence": self.evidence,
            "legal": [{"id": k, "note": LEGAL[k]} for k in self.legal],
        }


@dataclass(frozen=True)
class Assessment:
    level: str
    action: str
    reasons: tuple[Reason, ...]
    use: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "action": self.action,
            "use": self.use,
            "reasons": [r.as_dict() for r in self.reasons],
        }


def consent_granted(
    consent: dict[str, Any] | None, policy: Policy, today: dt.date | None = None
) -> tuple[bool, str]:
    """Whether the recorded consent covers the declared use for this publisher, and why."""
    if consent is None:
        ok = policy.unknown_consent == "allowed"
        return ok, f"no consent recorded for this use (policy: treated as {policy.unknown_consent})"
    status = str(consent.get("status"))
    if status == "allowed":
        return True, "consent recorded: allowed"
    if status == "licensed":
        until = consent.get("until")
        licensee = str(consent.get("licensee") or "")
        if until:
            try:
                if (today or dt.date.today()) > dt.date.fromisoformat(str(until)):
                    return False, f"licence to {licensee} expired on {until}"
            except ValueError:
                return False, f"licence date {until!r} is unreadable"
        if policy.licensee and licensee.casefold() == policy.licensee.casefold():
            return True, f"licensed to {licensee}" + (f" until {until}" if until else "")
        return False, f"licensed to {licensee}, not to {policy.licensee or 'the unnamed publisher'}"
    return False, "consent recorded: not allowed"


def _reason(
    policy: Policy, rule: str, message: str, evidence: dict[str, Any], legal: tuple[str, ...] = ()
) -> Reason:
    s = policy.setting(rule)
    return Reason(rule, s.level, s.action, message, evidence, legal)


def _detection_evidence(d: Detection) -> dict[str, Any]:
    ev: dict[str, Any] = {"detector": d.modality, "verdict": d.verdict}
    for key in ("score", "threshold", "operating_point", "where", "reason"):
        value = getattr(d, key)
        if value is not None:
            ev[key] = round(value, 4) if isinstance(value, float) else value
    return ev


def provenance_reasons(p: Provenance | None, policy: Policy, people_present: bool) -> list[Reason]:
    if p is None or p.state == "skipped":
        return []
    out: list[Reason] = []
    ev: dict[str, Any] = {"c2pa_state": p.state}
    if p.signer:
        ev["signer"] = p.signer
    disclosure = ("eu-ai-act-50-4",) if people_present else ()
    if p.state == "invalid":
        out.append(_reason(policy, "provenance.invalid", "Content Credentials fail validation: the file was changed "
                           "after signing, or the manifest is forged or damaged",
                           {**ev, "failure_codes": list(p.failure_codes)}))  # fmt: skip
    elif p.state == "error":
        out.append(_reason(policy, "provenance.unreadable", "the Content Credentials could not be read", ev))
    elif p.state == "absent":
        out.append(_reason(policy, "provenance.absent", "no Content Credentials (absence proves nothing: most "
                           "media has none, and they are easily stripped)", ev))  # fmt: skip
    elif p.state == "unsupported":
        out.append(_reason(policy, "provenance.absent", "no Content Credentials: C2PA does not read this file "
                           "type (absence proves nothing)", {**ev, "c2pa_state": "unsupported-type"}))  # fmt: skip
    if p.state in ("trusted", "valid") and p.ai == "ai-generated":
        out.append(_reason(policy, "provenance.ai-generated", "the Content Credentials declare the content "
                           "AI-generated", {**ev, "field": p.ai_field}, disclosure))  # fmt: skip
    elif p.state in ("trusted", "valid") and p.ai in ("ai-edited", "composite-with-ai"):
        out.append(_reason(policy, "provenance.ai-edited", f"the Content Credentials declare the content {p.ai}",
                           {**ev, "field": p.ai_field}, disclosure))  # fmt: skip
    elif p.state == "trusted":
        out.append(_reason(policy, "provenance.trusted", "valid Content Credentials from a trusted signer, "
                           "with no AI declaration", ev))  # fmt: skip
    elif p.state == "valid":
        out.append(_reason(policy, "provenance.untrusted-signer", "valid Content Credentials, but the signer "
                           "is not on a configured trust list", ev))  # fmt: skip
    if p.origin_ai:
        out.append(_reason(policy, "origin.ai-signal", "other origin signals suggest AI generation or editing",
                           {"signals": list(p.origin_ai)}, disclosure))  # fmt: skip
    return out


def detection_reasons(d: Detection | None, policy: Policy) -> list[Reason]:
    if d is None or d.verdict == "skipped":
        return []
    ev = _detection_evidence(d)
    if d.flagged:
        rule = "face.manipulated" if d.modality == "face" else "voice.synthetic"
        what = (
            "a face looks manipulated or synthetic"
            if d.modality == "face"
            else "the speech sounds synthetic or converted"
        )
        return [_reason(policy, rule, f"{what} (score at or above the threshold)", ev, ("eu-ai-act-50-4",))]
    if d.verdict == "abstained":
        return [
            _reason(
                policy,
                "detector.abstained",
                f"the {d.modality} detector could not judge the file: {d.reason}",
                ev,
            )
        ]
    if d.verdict == "error":
        return [
            _reason(
                policy, "analysis.incomplete", f"the {d.modality} detector failed on the file: {d.reason}", ev
            )
        ]
    return []


def likeness_reasons(s: Signals, policy: Policy, today: dt.date | None = None) -> list[Reason]:
    out: list[Reason] = []
    p = s.provenance
    declared_ai = bool(p and p.state in ("trusted", "valid") and p.ai != "none")
    for m in s.matches:
        det = s.face if m.modality == "face" else s.voice
        synthetic: list[str] = []
        if det is not None and det.flagged:
            synthetic.append(f"{det.modality} detector score {det.score:.3f} ≥ {det.threshold:.3f}")
        if declared_ai and p is not None:
            synthetic.append(f"Content Credentials declare {p.ai}")
        if p is not None and p.origin_ai:
            synthetic.append("origin signals suggest AI")
        granted, why = consent_granted(m.consent, policy, today)
        ev: dict[str, Any] = {
            "person": {"id": m.person_id, "name": m.name},
            "modality": m.modality,
            "similarity": round(m.similarity, 4),
            "threshold": round(m.threshold, 4),
            "use": policy.use,
            "consent": m.consent,
            "consent_decision": why,
        }
        if m.where:
            ev["where"] = m.where
        who = f"{m.name} ({m.modality} match, similarity {m.similarity:.3f})"
        legal = ("elvis-act", "no-fakes-act", "eu-ai-act-50-4")
        if synthetic:
            ev["synthetic_evidence"] = synthetic
            if granted:
                out.append(_reason(policy, "likeness.replica-with-consent", f"a likely synthetic replica of {who}; "
                                   f"{why} for {policy.use}: disclose it as AI", ev, ("eu-ai-act-50-4",)))  # fmt: skip
            elif policy.use in policy.exclusion_uses:
                out.append(_reason(policy, "likeness.replica-excluded-use", f"a likely synthetic replica of {who} "
                                   f"without consent ({why}); the declared use ({policy.use}) may fall under an "
                                   "exclusion, which a person must judge", ev, legal))  # fmt: skip
            else:
                out.append(_reason(policy, "likeness.replica-without-consent", f"a likely synthetic replica of {who} "
                                   f"without consent for {policy.use} ({why})", ev, legal))  # fmt: skip
        elif granted:
            out.append(
                _reason(policy, "likeness.match-with-consent", f"{who} appears; {why} for {policy.use}", ev)
            )
        else:
            out.append(_reason(policy, "likeness.match-without-consent", f"{who} appears, with no sign of synthesis; "
                               f"consent for {policy.use} is not granted ({why}): check the use is covered",
                               ev, ("elvis-act",)))  # fmt: skip
    return out


def assess(s: Signals, policy: Policy, today: dt.date | None = None) -> Assessment:
    """The file's level (highest among its reasons), action (most severe) and reasons."""
    people = bool(s.matches) or any(
        d is not None and d.verdict not in ("abstained", "error", "skipped") for d in (s.face, s.voice)
    )
    reasons = [
        *provenance_reasons(s.provenance, policy, people),
        *detection_reasons(s.face, policy),
        *detection_reasons(s.voice, policy),
        *likeness_reasons(s, policy, today),
    ]
    if s.errors:
        reasons.append(_reason(policy, "analysis.incomplete", "part of the analysis failed: " + "; ".join(s.errors),
                               {"steps": list(s.errors)}))  # fmt: skip
    reasons.sort(key=lambda r: (-LEVELS.index(r.level), -ACTIONS.index(r.action), r.rule))
    level = reasons[0].level if reasons else "none"
    action = max((r.action for r in reasons), key=ACTIONS.index, default="allow")
    return Assessment(level, action, tuple(reasons), policy.use)
