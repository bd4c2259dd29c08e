"""Build ``risk.assess.Signals`` from a scan record (the JSON reports of verify, face, voice
and match for one file)."""

from __future__ import annotations

from typing import Any

from risk.assess import Detection, PersonMatch, Provenance, Signals

AI_SUGGESTIONS = ("ai-generated", "ai-edited", "composite-with-ai", "ai-tool")


def _where_face(face: dict[str, Any]) -> str | None:
    tracks = [t for t in face.get("tracks") or [] if t.get("score") is not None]
    if not tracks:
        return None
    best = max(tracks, key=lambda t: t["score"])
    if face.get("media") == "video":
        t0, t1 = best["time_range"]
        return f"track {best['track']}, {t0:.1f}–{t1:.1f} s, best frame at {best['best_time']:.1f} s"
    return f"track {best['track']}, box {[round(v) for v in best['best_box']]}"


def _where_voice(voice: dict[str, Any]) -> str | None:
    windows = voice.get("windows") or []
    thr = voice.get("threshold")
    if not windows:
        return None
    hot = [w for w in windows if thr is not None and w[2] >= thr] or [max(windows, key=lambda w: w[2])]
    return f"{len(hot)} window(s) from {hot[0][0]:.1f} s to {hot[-1][1]:.1f} s"


def provenance(doc: dict[str, Any] | None) -> Provenance | None:
    if doc is None:
        return None
    ai = doc.get("ai") or {}
    evidence = ai.get("evidence") or []
    field = None
    if evidence:
        e = evidence[0]
        field = (
            f"manifest {e.get('manifest')}: action {e.get('action')}, "
            f"digitalSourceType {e.get('digital_source_type')}"
            + (f", softwareAgent {e.get('software_agent')}" if e.get("software_agent") else "")
        )[:300]
    c2pa = doc.get("c2pa") or {}
    manifest = c2pa.get("active_manifest") or {}
    signer_doc = manifest.get("signer") or {}
    signer = signer_doc.get("organization") or signer_doc.get("common_name")
    origin = tuple(
        f"{s.get('kind')}: {s.get('value')}"[:300]
        for s in doc.get("signals") or []
        if s.get("suggests") in AI_SUGGESTIONS
    )
    state = str(doc.get("state"))
    if state == "error" and "notsupported" in str(c2pa.get("sdk_error") or "").lower().replace(" ", ""):
        state = "unsupported"  # a file type C2PA cannot carry or read: nothing to verify, nothing wrong
    return Provenance(
        state=state,
        ai=str(ai.get("verdict") or "none"),
        ai_field=field,
        failure_codes=tuple(c2pa.get("failure_codes") or ()),
        signer=signer,
        origin_ai=origin,
    )


def detection(doc: dict[str, Any] | None, modality: str) -> Detection | None:
    if doc is None:
        return None
    op = doc.get("operating_point")
    verdict = str(doc.get("verdict"))
    reason = doc.get("reason_text") or doc.get("reason")
    if verdict == "error":
        reason = (doc.get("error") or {}).get("message")
    return Detection(
        modality=modality,
        verdict=verdict,
        score=doc.get("score"),
        threshold=doc.get("threshold"),
        operating_point=None if op is None else f"{op['max_fpr']:g}",
        reason=reason,
        where=_where_face(doc) if modality == "face" else _where_voice(doc),
    )


def matches(doc: dict[str, Any] | None) -> tuple[PersonMatch, ...]:
    if not doc:
        return ()
    out = []
    for key, modality in (("faces", "face"), ("voices", "voice")):
        for subject in doc.get(key) or []:
            t0, t1 = subject.get("time_range") or (0.0, 0.0)
            where = f"{modality} {subject.get('index')}, {t0:.1f}–{t1:.1f} s"
            for m in subject.get("matches") or []:
                if m.get("matched"):
                    out.append(
                        PersonMatch(
                            person_id=str(m["person"]["id"]),
                            name=str(m["person"]["name"]),
                            modality=modality,
                            similarity=float(m["similarity"]),
                            threshold=float(m["threshold"]),
                            where=where,
                            consent=m.get("consent"),
                        )
                    )
    return tuple(out)


def from_record(record: dict[str, Any]) -> Signals:
    # a face or voice detector's own error is already its Detection (verdict "error")
    errors = tuple(
        f"{e.get('step', 'scan')}: {e.get('message')}"
        for e in record.get("errors") or []
        if e.get("step")
        and not (e["step"] in ("face", "voice") and (record.get(e["step"]) or {}).get("verdict") == "error")
    )
    return Signals(
        path=str(record.get("path")),
        provenance=provenance(record.get("provenance")),
        face=detection(record.get("face"), "face"),
        voice=detection(record.get("voice"), "voice"),
        matches=matches(record.get("likeness")),
        errors=errors,
    )
