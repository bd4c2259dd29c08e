"""Risk rules, table-driven: each rule fires where it should and not where it should not;
the policy file loads, merges over the default and refuses what it cannot use."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from detectors.face import FaceResult, Track
from detectors.voice import VoiceResult, Window
from risk.assess import Detection, PersonMatch, Provenance, Signals, assess, consent_granted
from risk.policy import ACTIONS, LEVELS, from_doc, load_policy
from risk.signals import from_record
from veracity.errors import ConfigError

POLICY = load_policy(environ={})
TODAY = dt.date(2026, 11, 28)

TRUSTED = Provenance("trusted", signer="Newsroom")
VALID = Provenance("valid")
ABSENT = Provenance("absent")
INVALID = Provenance("invalid", failure_codes=("assertion.dataHash.mismatch",))
UNREADABLE = Provenance("error")
AI_GEN = Provenance("trusted", ai="ai-generated", ai_field="c2pa.created trainedAlgorithmicMedia")
AI_EDIT = Provenance("valid", ai="composite-with-ai")
AI_GEN_INVALID = Provenance("invalid", ai="ai-generated")
ORIGIN = Provenance("absent", origin_ai=("xmp-digital-source-type: trainedAlgorithmicMedia",))

FACE_FAKE = Detection("face", "manipulated", 0.93, 0.71, "0.05", where="track 0")
FACE_REAL = Detection("face", "not-detected", 0.2, 0.71, "0.05")
FACE_NONE = Detection("face", "abstained", reason="no face was found")
FACE_ERR = Detection("face", "error", reason="cannot decode")
VOICE_FAKE = Detection("voice", "synthetic", 0.9, 0.8, "0.05")
VOICE_REAL = Detection("voice", "not-detected", 0.1, 0.8, "0.05")

NOT_ALLOWED = {"status": "not_allowed", "licensee": None, "until": None}
ALLOWED = {"status": "allowed", "licensee": None, "until": None}
LICENSED = {"status": "licensed", "licensee": "Acme", "until": "2027-12-31"}
EXPIRED = {"status": "licensed", "licensee": "Acme", "until": "2025-01-01"}


def person(modality: str = "face", consent: dict[str, Any] | None = NOT_ALLOWED) -> PersonMatch:
    return PersonMatch("ada", "Ada L.", modality, 0.91, 0.6, "face 0, 0.0–2.0 s", consent)


def policy(use: str = "commercial", licensee: str = "", **kw: Any) -> Any:
    return dataclasses.replace(POLICY, use=use, licensee=licensee, **kw)


def rules(s: Signals, p: Any = None) -> dict[str, tuple[str, str]]:
    a = assess(s, p or policy(), TODAY)
    return {r.rule: (r.level, r.action) for r in a.reasons}


CASES: list[tuple[str, Signals, Any, str, str, str | None]] = [
    # (id, signals, policy, expected level, expected action, rule that must fire)
    ("trusted", Signals("a", TRUSTED, FACE_REAL), None, "none", "allow", "provenance.trusted"),
    ("untrusted-signer", Signals("a", VALID), None, "none", "allow", "provenance.untrusted-signer"),
    ("absent", Signals("a", ABSENT), None, "none", "allow", "provenance.absent"),
    ("invalid", Signals("a", INVALID), None, "high", "human-review", "provenance.invalid"),
    ("unreadable-c2pa", Signals("a", UNREADABLE), None, "low", "human-review", "provenance.unreadable"),
    ("ai-generated", Signals("a", AI_GEN), None, "low", "label-as-ai", "provenance.ai-generated"),
    ("ai-edited", Signals("a", AI_EDIT), None, "low", "label-as-ai", "provenance.ai-edited"),
    ("origin-signal", Signals("a", ORIGIN), None, "low", "label-as-ai", "origin.ai-signal"),
    ("face-manipulated", Signals("a", ABSENT, FACE_FAKE), None, "medium", "human-review", "face.manipulated"),
    ("voice-synthetic", Signals("a", ABSENT, voice=VOICE_FAKE), None, "medium", "human-review", "voice.synthetic"),
    ("abstained", Signals("a", ABSENT, FACE_NONE), None, "none", "allow", "detector.abstained"),
    ("detector-error", Signals("a", ABSENT, FACE_ERR), None, "low", "human-review", "analysis.incomplete"),
    ("step-failed", Signals("a", ABSENT, errors=("voice: boom",)), None, "low", "human-review", "analysis.incomplete"),
    ("replica-no-consent", Signals("a", ABSENT, FACE_FAKE, matches=(person(),)), None,
     "critical", "block", "likeness.replica-without-consent"),
    ("voice-replica-no-consent", Signals("a", ABSENT, voice=VOICE_FAKE, matches=(person("voice"),)), None,
     "critical", "block", "likeness.replica-without-consent"),
    ("declared-ai-replica", Signals("a", AI_GEN, FACE_REAL, matches=(person(consent=None),)), None,
     "critical", "block", "likeness.replica-without-consent"),
    ("replica-news-exclusion", Signals("a", ABSENT, FACE_FAKE, matches=(person(),)), policy("news"),
     "high", "human-review", "likeness.replica-excluded-use"),
    ("replica-commentary-exclusion", Signals("a", ABSENT, FACE_FAKE, matches=(person(),)), policy("commentary"),
     "high", "human-review", "likeness.replica-excluded-use"),
    ("replica-consented", Signals("a", ABSENT, FACE_FAKE, matches=(person(consent=ALLOWED),)), None,
     "medium", "human-review", "likeness.replica-with-consent"),
    ("replica-licensed-to-us", Signals("a", AI_GEN, matches=(person(consent=LICENSED),)), policy(licensee="acme"),
     "low", "label-as-ai", "likeness.replica-with-consent"),
    ("replica-licensed-to-other", Signals("a", AI_GEN, matches=(person(consent=LICENSED),)), policy(licensee="Other"),
     "critical", "block", "likeness.replica-without-consent"),
    ("replica-licence-expired", Signals("a", AI_GEN, matches=(person(consent=EXPIRED),)), policy(licensee="Acme"),
     "critical", "block", "likeness.replica-without-consent"),
    ("authentic-match-no-consent", Signals("a", TRUSTED, FACE_REAL, matches=(person(),)), None,
     "medium", "human-review", "likeness.match-without-consent"),
    ("authentic-match-consented", Signals("a", TRUSTED, FACE_REAL, matches=(person(consent=ALLOWED),)), None,
     "none", "allow", "likeness.match-with-consent"),
    ("unknown-consent-allowed-by-policy", Signals("a", ABSENT, FACE_REAL, matches=(person(consent=None),)),
     policy(unknown_consent="allowed"), "none", "allow", "likeness.match-with-consent"),
    # a face flag does not make a voice match a replica, and vice versa
    ("face-flag-voice-match", Signals("a", ABSENT, FACE_FAKE, VOICE_REAL, matches=(person("voice"),)), None,
     "medium", "human-review", "likeness.match-without-consent"),
    # declared AI on an invalid manifest is not a disclosure: the invalid manifest is the finding
    ("ai-claim-on-invalid", Signals("a", AI_GEN_INVALID), None, "high", "human-review", "provenance.invalid"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("signals", "pol", "level", "action", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_table(signals: Signals, pol: Any, level: str, action: str, rule: str) -> None:
    a = assess(signals, pol or policy(), TODAY)
    assert (a.level, a.action) == (level, action)
    assert rule in {r.rule for r in a.reasons}
    assert a.reasons[0].level == level  # reasons are sorted, most severe first
    for r in a.reasons:
        assert r.message and isinstance(r.evidence, dict)


ALL_RULES = set(POLICY.rules)


def test_every_rule_is_covered_by_the_table() -> None:
    fired = {r.rule for c in CASES for r in assess(c[1], c[2] or policy(), TODAY).reasons}
    assert fired == ALL_RULES


@pytest.mark.parametrize(
    ("signals", "absent_rule"),
    [
        (Signals("a", TRUSTED, FACE_REAL), "face.manipulated"),
        (Signals("a", AI_GEN_INVALID), "provenance.ai-generated"),
        (Signals("a", ABSENT, FACE_FAKE), "likeness.replica-without-consent"),
        (Signals("a", TRUSTED, FACE_REAL, matches=(person(),)), "likeness.replica-without-consent"),
        (
            Signals("a", ABSENT, FACE_FAKE, matches=(person(consent=ALLOWED),)),
            "likeness.replica-without-consent",
        ),
        (Signals("a", ABSENT, voice=VOICE_REAL), "voice.synthetic"),
        (Signals("a", ABSENT, FACE_NONE), "analysis.incomplete"),
        (Signals("a", VALID), "provenance.invalid"),
        (Signals("a", TRUSTED), "origin.ai-signal"),
    ],
)
def test_rules_do_not_fire_without_their_evidence(signals: Signals, absent_rule: str) -> None:
    assert absent_rule not in rules(signals)


def test_excluded_use_is_never_allowed_and_replicas_carry_legal_notes() -> None:
    s = Signals("a", ABSENT, FACE_FAKE, matches=(person(),))
    a = assess(s, policy("news"), TODAY)
    assert a.action != "allow"
    reason = next(r for r in a.reasons if r.rule == "likeness.replica-excluded-use")
    assert set(reason.legal) == {"elvis-act", "no-fakes-act", "eu-ai-act-50-4"}
    assert reason.evidence["person"]["id"] == "ada" and reason.evidence["similarity"] == 0.91
    assert reason.evidence["use"] == "news" and "synthetic_evidence" in reason.evidence
    with pytest.raises(ConfigError, match="never to automatic allow"):
        from_doc({"rules": {"likeness.replica-excluded-use": {"action": "allow"}}}, "test")


def test_consent_decisions() -> None:
    assert consent_granted(ALLOWED, policy(), TODAY)[0]
    assert not consent_granted(NOT_ALLOWED, policy(), TODAY)[0]
    assert consent_granted(LICENSED, policy(licensee="ACME"), TODAY)[0]
    ok, why = consent_granted(EXPIRED, policy(licensee="Acme"), TODAY)
    assert not ok and "expired" in why
    ok, why = consent_granted(LICENSED, policy(licensee=""), TODAY)
    assert not ok and "licensed to Acme" in why
    assert not consent_granted(None, policy(), TODAY)[0]
    assert not consent_granted(
        {"status": "licensed", "licensee": "Acme", "until": "soon"}, policy(licensee="Acme"), TODAY
    )[0]


def test_policy_file_overrides_and_refusals(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text(
        'version = 1\n[defaults]\nuse = "commercial"\n[rules."face.manipulated"]\nlevel = "high"\naction = "block"\n'
    )
    pol = load_policy(p, environ={})
    assert pol.use == "commercial" and pol.source == str(p)
    assert pol.setting("face.manipulated").level == "high"
    assert pol.setting("voice.synthetic").level == "medium"  # the default fills in the rest
    assert assess(Signals("a", ABSENT, FACE_FAKE), pol, TODAY).action == "block"
    assert load_policy(None, environ={"VERACITY_POLICY": str(p)}).use == "commercial"
    for text, match in [
        ('[rules."face.manipulated"]\nlevel = "severe"\n', "must be one of"),
        ('[rules."face.made-up"]\nlevel = "low"\n', "unknown keys"),
        ("surprise = 1\n", "unknown keys"),
        ("version = 2\n", "not supported"),
        ('[defaults]\nuse = "parody"\n', "must be one of"),
        ("[rules\n", "not valid TOML"),
    ]:
        p.write_text(text)
        with pytest.raises(ConfigError, match=match):
            load_policy(p, environ={})
    toml_text = POLICY.to_toml()
    import tomllib

    again = from_doc(tomllib.loads(toml_text.split("\n", 1)[1]), "round-trip")
    assert again.rules == POLICY.rules and again.exclusion_uses == POLICY.exclusion_uses


def test_levels_and_actions_are_ordered() -> None:
    assert LEVELS == ("none", "low", "medium", "high", "critical")
    assert ACTIONS == ("allow", "label-as-ai", "human-review", "block")


def test_signals_from_a_scan_record() -> None:
    record = {
        "path": "clip.mp4",
        "provenance": {"state": "valid", "ai": {"verdict": "ai-generated", "evidence": [
            {"manifest": "urn:x", "action": "c2pa.created", "digital_source_type": "trainedAlgorithmicMedia",
             "meaning": "", "software_agent": "Gen 1"}]},
            "c2pa": {"failure_codes": [], "active_manifest": {"signer": {"organization": "<b>Org</b>"}}},
            "signals": [{"kind": "xmp-creator-tool", "value": "Midjourney", "suggests": "ai-tool"},
                        {"kind": "exif", "value": "Canon", "suggests": "camera"}]},
        # the detectors' own report dicts, so that a change in their layout breaks this test
        "face": FaceResult("clip.mp4", "video", "manipulated", 0.9, 0.7, "0.05", tracks=(
            Track(0, 1.0, 3.0, 4, 5, 0.9, (1, 2, 3, 4), 2.0, ((1.0, 0.8), (2.0, 0.9))),)).as_dict(),
        "voice": VoiceResult("clip.mp4", "video", "abstained", None, None, None, reason="no-audio").as_dict(),
        "likeness": {"faces": [{"index": 0, "time_range": [1.0, 3.0], "matches": [
            {"person": {"id": "ada", "name": "Ada"}, "modality": "face", "similarity": 0.8, "threshold": 0.6,
             "matched": True, "consent": NOT_ALLOWED},
            {"person": {"id": "bob", "name": "Bob"}, "modality": "face", "similarity": 0.3, "threshold": 0.6,
             "matched": False, "consent": None}]}], "voices": []},
        "errors": [{"step": "voice", "message": "x", "code": "e"}],
    }  # fmt: skip
    s = from_record(record)
    assert (
        s.provenance is not None and s.provenance.ai == "ai-generated" and s.provenance.signer == "<b>Org</b>"
    )
    assert s.provenance.origin_ai == ("xmp-creator-tool: Midjourney",)
    assert (
        s.face is not None
        and s.face.flagged
        and s.face.operating_point == "0.05"
        and "1.0–3.0 s" in (s.face.where or "")
    )
    assert (
        s.voice is not None
        and s.voice.verdict == "abstained"
        and s.voice.reason == "the file has no audio track"
    )
    assert [m.person_id for m in s.matches] == ["ada"] and s.errors == ("voice: x",)
    v = VoiceResult("a.wav", "audio", "synthetic", 0.9, 0.8, "0.05",
                    windows=(Window(0.0, 4.0, 0.5), Window(2.0, 6.0, 0.95), Window(4.0, 8.0, 0.85))).as_dict()  # fmt: skip
    d = from_record({"path": "a.wav", "voice": v}).voice
    assert d is not None and d.flagged and d.where == "2 window(s) from 2.0 s to 8.0 s"
    assert assess(s, policy("commercial"), TODAY).level == "critical"


def test_file_types_c2pa_cannot_read_are_not_sent_to_review() -> None:
    """An OGG or WebM cannot carry Content Credentials that C2PA reads: that is an absence, not
    an unreadable manifest; a damaged manifest in a supported type stays unreadable."""
    unsupported = {"state": "error", "c2pa": {"sdk_error": "NotSupported: type is unsupported"}}
    damaged = {"state": "error", "c2pa": {"sdk_error": "JumbfParseError: bad box"}}
    p = from_record({"path": "song.ogg", "provenance": unsupported}).provenance
    assert p is not None and p.state == "unsupported"
    r = assess(Signals("song.ogg", p), policy("news"), TODAY)
    assert [x.rule for x in r.reasons] == ["provenance.absent"] and r.level == "none" and r.action == "allow"
    assert r.reasons[0].evidence["c2pa_state"] == "unsupported-type"
    p = from_record({"path": "a.jpg", "provenance": damaged}).provenance
    assert p is not None and p.state == "error"
    assert [x.rule for x in assess(Signals("a.jpg", p), policy("news"), TODAY).reasons] == [
        "provenance.unreadable"
    ]
