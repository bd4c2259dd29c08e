"""The ``veracity scan`` HTML report: one self-contained file that opens offline.

A summary table, then per file: the risk and its reasons with their evidence, the provenance
chain, face crops with heatmaps and score timelines, the voice window timeline, matched people
and their consent terms, and errors. Every string that comes from media, manifests, file names
or the registry goes through ``html.escape``; images are embedded as data URIs (only PNG files
the scan itself wrote); a Content-Security-Policy forbids scripts and any remote fetch.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from reports.detector_text import spans
from reports.scan import _evidence_text

MAX_IMAGE_BYTES = 2 << 20
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
COLOURS = {"none": "#2e7d32", "low": "#00838f", "medium": "#ef6c00", "high": "#c62828", "critical": "#6a1b9a"}
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;word-break:break-all}h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.lvl{color:#fff;padding:1px 6px;border-radius:3px;font-weight:600}
.dim{color:#666}.err{color:#8e24aa}.file{border-top:2px solid #ccc;padding-top:.5em}
code{word-break:break-all}code.rule{word-break:normal;overflow-wrap:break-word}img{border:1px solid #ccc;margin:2px;width:128px;height:128px;image-rendering:auto}
svg{background:#fafafa;border:1px solid #ddd}ul{margin:.2em 0}
"""


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def badge(level: str | None) -> str:
    if level is None:
        return '<span class="lvl" style="background:#757575">not assessed</span>'
    return f'<span class="lvl" style="background:{COLOURS.get(level, "#555")}">{e(level)}</span>'


def _png_data_uri(path: str | None, evidence_root: Path | None) -> str | None:
    """A data URI for a PNG the scan wrote (inside ``evidence_root``); None otherwise."""
    if not path or evidence_root is None:
        return None
    p = Path(path)
    try:
        p.resolve().relative_to(evidence_root.resolve())
        if p.suffix.lower() != ".png" or not p.is_file() or p.stat().st_size > MAX_IMAGE_BYTES:
            return None
        data = p.read_bytes()
    except (OSError, ValueError):
        return None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def timeline_svg(
    points: list[tuple[float, float]],
    threshold: float | None,
    label: str,
    width: int = 420,
    height: int = 90,
    *,
    spans: list[tuple[float, float, float]] | None = None,
    extent: tuple[float, float] | None = None,
) -> str:
    """Scores (0–1) over time as an inline SVG line chart with the threshold dashed.

    ``spans`` (start, end, score) draws each scored stretch as a bar over the time it covers
    (voice windows) instead of a point; ``extent`` fixes the time axis (the file's 0 s to its
    duration), so that a file with one window still shows where in the file it lies."""
    times = [t for t, _ in points] + [t for a, b, _ in spans or [] for t in (a, b)]
    if not times:
        return ""
    bounds = times + list(extent or ())
    t0, t1 = min(bounds), max(bounds)
    span = (t1 - t0) or 1.0
    pad = 4

    def x_of(t: float) -> float:
        return pad + (t - t0) / span * (width - 2 * pad)

    def y_of(s: float) -> float:
        return pad + (1 - max(0.0, min(1.0, s))) * (height - 2 * pad)

    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{e(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if threshold is not None:
        y = y_of(threshold)
        parts.append(
            f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c62828" stroke-dasharray="4 3"/>'
        )
    if points:
        xy = " ".join(f"{x_of(t):.1f},{y_of(s):.1f}" for t, s in points)
        parts.append(f'<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{xy}"/>')
        parts += [
            f'<circle cx="{x_of(t):.1f}" cy="{y_of(s):.1f}" r="2.5" fill="#1565c0"/>' for t, s in points
        ]
    for a, b, s in spans or []:
        colour = "#c62828" if threshold is not None and s >= threshold else "#1565c0"
        parts.append(
            f'<line x1="{x_of(a):.1f}" x2="{x_of(b):.1f}" y1="{y_of(s):.1f}" y2="{y_of(s):.1f}" '
            f'stroke="{colour}" stroke-width="3" stroke-opacity="0.7"><title>{a:.1f}–{b:.1f} s: {s:.2f}</title></line>'
        )
    parts.append(f'<text x="{pad}" y="{height - 4}" font-size="10" fill="#666">{t0:.1f} s</text>')
    parts.append(
        f'<text x="{width - pad}" y="{height - 4}" font-size="10" fill="#666" text-anchor="end">{t1:.1f} s</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _reasons(risk: dict[str, Any]) -> str:
    rows = []
    for r in risk.get("reasons") or []:
        legal = "".join(f"<li>{e(x['note'])}</li>" for x in r.get("legal") or [])
        rows.append(
            f"<tr><td>{badge(r['level'])}</td><td>{e(r['action'])}</td><td><code class='rule'>{e(r['rule'])}</code></td>"
            f"<td>{e(r['message'])}<div class='dim'>{e(_evidence_text(r.get('evidence') or {}))}</div>"
            + (f"<ul class='dim'>{legal}</ul>" if legal else "")
            + "</td></tr>"
        )
    return (
        "<table><tr><th>level</th><th>action</th><th>rule</th><th>reason and evidence</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _manifest(m: dict[str, Any] | None, depth: int = 0) -> str:
    if not m or depth > 4:
        return ""
    signer = m.get("signer") or {}
    actions = ", ".join(
        str(a.get("action")) + (f" ({a.get('software_agent')})" if a.get("software_agent") else "")
        for a in (m.get("actions") or [])[:20]
    )
    items = [
        f"<li>claim generator: {e(m.get('claim_generator'))}</li>",
        f"<li>title: {e(m.get('title'))}; format: {e(m.get('format'))}</li>",
        f"<li>signer: {e(signer.get('organization') or signer.get('common_name') or 'unknown')}; "
        f"signed: {e((m.get('signing_time') or {}).get('time'))}</li>",
        f"<li>AI: {e((m.get('ai') or {}).get('verdict'))}</li>",
    ]
    if actions:
        items.append(f"<li>actions: {e(actions)}</li>")
    for ing in (m.get("ingredients") or [])[:20]:
        items.append(
            f"<li>ingredient {e(ing.get('title'))} ({e(ing.get('relationship'))}, {e(ing.get('state'))})"
            + _manifest(ing.get("manifest"), depth + 1)
            + "</li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def _provenance(p: dict[str, Any] | None) -> str:
    if not p:
        return ""
    c2pa = p.get("c2pa") or {}
    out = f"<h3>Provenance</h3><p>C2PA state: <b>{e(p.get('state'))}</b> — {e(p.get('reason'))}</p>"
    if c2pa.get("failure_codes"):
        out += f"<p class='err'>failures: {e(', '.join(c2pa['failure_codes']))}</p>"
    out += _manifest(c2pa.get("active_manifest"))
    sig = p.get("signals") or []
    if sig:
        out += (
            "<ul>"
            + "".join(
                f"<li>{e(s.get('kind'))}: {e(s.get('value'))} → {e(s.get('suggests'))}</li>" for s in sig[:30]
            )
            + "</ul>"
        )
    return out


def _face(f: dict[str, Any] | None, root: Path | None) -> str:
    if not f:
        return ""
    head = f"<h3>Face</h3><p>{e(f.get('verdict'))}"
    if f.get("score") is not None:
        head += f": score {f['score']:.3f}, threshold {f['threshold']:.3f}"
    if f.get("reason_text"):
        head += f" — {e(f['reason_text'])}"
    out = head + "</p>"
    out += "".join(f'<p class="err">Caution: {e(c)}.</p>' for c in f.get("cautions") or [])
    for t in f.get("tracks") or []:
        score = "not scored" if t.get("score") is None else f"score {t['score']:.3f}"
        t0, t1 = t.get("time_range") or (0.0, 0.0)
        out += f"<div>track {e(t.get('track'))}: {t0:.1f}–{t1:.1f} s, {e(score)}<br>"
        for kind in ("crop", "heatmap"):
            uri = _png_data_uri((t.get("evidence") or {}).get(kind), root)
            if uri:
                out += f'<img alt="{e(kind)}" src="{uri}">'
        points = [(float(a), float(b)) for a, b in t.get("timeline") or []]
        if len(points) > 1:
            out += "<br>" + timeline_svg(
                points, f.get("threshold"), f"track {t.get('track')} score over time"
            )
        out += "</div>"
    return out


def _voice(v: dict[str, Any] | None, root: Path | None = None) -> str:
    if not v:
        return ""
    out = f"<h3>Voice</h3><p>{e(v.get('verdict'))}"
    if v.get("score") is not None:
        out += f": score {v['score']:.3f}, threshold {v['threshold']:.3f}"
    if v.get("reason_text"):
        out += f" — {e(v['reason_text'])}"
    out += f"; {v.get('speech_s', 0):.1f} s of speech in {v.get('duration_s', 0):.1f} s</p>"
    out += "".join(f'<p class="err">Caution: {e(c)}.</p>' for c in v.get("cautions") or [])
    segments = v.get("segments") or []
    if segments:
        under = v.get("verdict") == "not-detected"
        note = "; the file's score is under it, but a short synthetic edit looks like this: listen there"
        tag = '<p class="err">' if under else "<p>"
        out += (
            f"{tag}Windows over the threshold: {spans(segments, len(segments))}{note if under else ''}.</p>"
        )
    windows = [(float(a), float(b), float(s)) for a, b, s in v.get("windows") or []]
    if windows:
        out += timeline_svg(
            [],
            v.get("threshold"),
            "voice window scores over time",
            spans=windows,
            extent=(0.0, float(v.get("duration_s") or 0.0)),
        )
    pictures = [
        (k, _png_data_uri((v.get("evidence") or {}).get(k), root)) for k in ("spectrogram", "heatmap")
    ]
    if any(uri for _, uri in pictures) and v.get("evidence_window"):
        a, b = (float(t) for t in v["evidence_window"])
        out += (
            f"<div>the top-scoring window, {a:.1f}–{b:.1f} s (time left to right, low frequencies at the bottom, up to 8 kHz"
            "; the heatmap: where the spectrogram network's score came from)<br>"
            + "".join(f'<img alt="{e(k)}" src="{uri}">' for k, uri in pictures if uri)
            + "</div>"
        )
    return out


def _likeness(doc: dict[str, Any] | None) -> str:
    if not doc:
        return ""
    rows = []
    for key in ("faces", "voices"):
        for s in doc.get(key) or []:
            for m in s.get("matches") or []:
                if not m.get("matched"):
                    continue
                c = m.get("consent")
                terms = "none recorded" if not c else " ".join(f"{k}={v}" for k, v in c.items() if v)
                rows.append(
                    f"<tr><td>{e(m['person']['name'])}</td><td>{e(m['modality'])}</td><td>{m['similarity']:.3f} "
                    f"(≥ {m['threshold']:.3f})</td><td>{e(terms)}</td><td>{e(m['person'].get('rights_holder') or '')}</td></tr>"
                )
    if not rows:
        return "<h3>Likeness</h3><p class='dim'>no enrolled person matched</p>"
    return (
        "<h3>Likeness</h3><table><tr><th>person</th><th>modality</th><th>similarity</th>"
        "<th>consent for this use</th><th>rights holder</th></tr>" + "".join(rows) + "</table>"
    )


def render(doc: dict[str, Any], evidence_root: Path | None = None) -> str:
    """The whole report; ``evidence_root`` is the folder the scan wrote face evidence to."""
    s = doc["summary"]
    records = doc["results"]
    rows = []
    for i, r in enumerate(records):
        risk = r.get("risk") or {}
        rows.append(
            f"<tr><td><a href='#f{i}'>{e(r['path'])}</a></td><td>{badge(risk.get('level'))}</td>"
            f"<td>{e(risk.get('action', ''))}</td><td>{e(r.get('status'))}</td>"
            f"<td>{e((r.get('face') or {}).get('verdict', '—'))}</td><td>{e((r.get('voice') or {}).get('verdict', '—'))}</td></tr>"
        )
    files = []
    for i, r in enumerate(records):
        risk = r.get("risk")
        body = f"<div class='file' id='f{i}'><h2>{e(r['path'])}</h2>"
        body += f"<p>{badge(None if not risk else risk['level'])} <b>{e((risk or {}).get('action', 'not assessed'))}</b>"
        body += f" <span class='dim'>sha256 {e(r.get('sha256') or '—')}; {e(r.get('media'))}</span></p>"
        if r.get("duplicate_of"):
            body += f"<p class='dim'>same content as {e(r['duplicate_of'])}</p>"
        if risk:
            body += _reasons(risk)
        body += (
            _provenance(r.get("provenance"))
            + _face(r.get("face"), evidence_root)
            + _voice(r.get("voice"), evidence_root)
        )
        body += _likeness(r.get("likeness"))
        for n in r.get("notes") or []:
            body += f"<p class='dim'>note: {e(n)}</p>"
        for err in r.get("errors") or []:
            body += f"<p class='err'>error ({e(err.get('step', 'scan'))}): {e(err.get('message'))}</p>"
        files.append(body + "</div>")
    pol = doc.get("policy") or {}
    weights = ", ".join(f"{w['name']} ({w['sha256'][:12]}…)" for w in doc.get("weights") or [])
    counts = ", ".join(f"{n} {lv}" for lv, n in s["risk"].items() if n)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>Veracity scan report</title><style>{STYLE}</style></head><body>"
        f"<h1>Veracity scan report</h1><p class='dim'>{e(doc['tool']['name'])} {e(doc['tool']['version'])}, "
        f"{e(doc['generated_at'])}; use: {e(pol.get('use'))}; policy: {e(pol.get('source'))}; weights: {e(weights)}</p>"
        f"<p><b>{s['files']} file(s)</b>: {e(counts)}; {s['status']['error']} error(s); "
        f"{s['at_or_above_fail_on']} at or above {e(s['fail_on'])}.</p>"
        "<table><tr><th>file</th><th>risk</th><th>action</th><th>status</th><th>face</th><th>voice</th></tr>"
        + "".join(rows)
        + "</table>"
        + "".join(files)
        + "<p class='dim'>Scores are detector outputs with known error rates (see the model cards); legal notes "
        "are information for a reviewer, not legal advice.</p></body></html>\n"
    )
