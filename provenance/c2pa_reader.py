"""Read and validate a file's C2PA manifest store with c2pa-python."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import c2pa

from provenance.manifest import ManifestSummary, StatusEntry, summarize, validation_entries
from provenance.trust import TrustConfig

log = logging.getLogger(__name__)

STATES = ("trusted", "valid", "invalid", "absent", "error")
_REMOTE_RE = re.compile(r"remote manifests? from url (\S+)", re.IGNORECASE)
MAX_SIDECAR_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class C2paReport:
    state: str
    reason: str | None = None
    manifest_source: str | None = None  # embedded | sidecar | remote
    sidecar: str | None = None
    remote_manifest_url: str | None = None
    manifest_count: int = 0
    validation: tuple[StatusEntry, ...] = ()
    active_manifest: ManifestSummary | None = None
    sdk_error: str | None = None
    trust_anchors_configured: bool = False

    @property
    def failure_codes(self) -> list[str]:
        """The active manifest's failure codes, in the SDK's order."""
        return [s.code for s in self.validation if s.kind == "failure" and s.scope == "active"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "manifest_source": self.manifest_source,
            "sidecar": self.sidecar,
            "remote_manifest_url": self.remote_manifest_url,
            "manifest_count": self.manifest_count,
            "trust_anchors_configured": self.trust_anchors_configured,
            "failure_codes": self.failure_codes,
            "validation": [s.as_dict() for s in self.validation],
            "active_manifest": self.active_manifest.as_dict() if self.active_manifest else None,
            "sdk_error": self.sdk_error,
        }


@lru_cache(maxsize=8)
def _context(trust: TrustConfig) -> c2pa.Context:
    return c2pa.Context.from_dict(trust.c2pa_settings())


def sidecar_for(path: Path) -> Path | None:
    """``photo.c2pa`` or ``photo.jpg.c2pa`` beside ``photo.jpg``, if either exists."""
    for candidate in (path.with_suffix(".c2pa"), path.with_name(path.name + ".c2pa")):
        if candidate != path and candidate.is_file():
            return candidate
    return None


def _state(store: dict[str, Any]) -> str:
    value = str(store.get("validation_state") or "").lower()
    if value in ("trusted", "valid", "invalid"):
        return value
    # No state: an SDK that did not validate.  Fall back on failures.
    entries = validation_entries(store)
    return "invalid" if any(e.kind == "failure" for e in entries) else "valid"


def _sdk_message(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


def _explain_error(message: str) -> str:
    low = message.lower()
    if "unsupported" in low or "notsupported" in low:
        return "C2PA cannot read this file type"
    if "jumbf" in low or "manifest" in low:
        return f"the C2PA manifest is damaged or unreadable ({message})"
    if "could not be parsed" in low or "parse" in low:
        return f"the file's container could not be parsed ({message})"
    return f"C2PA validation failed ({message})"


def _read(
    stream: BinaryIO, mime: str | None, trust: TrustConfig, manifest_data: bytes | None = None
) -> c2pa.Reader:
    return c2pa.Reader(mime, stream, manifest_data, context=_context(trust))


def read_c2pa(path: Path, mime: str | None, trust: TrustConfig) -> C2paReport:
    """Validate ``path``'s manifest store (embedded, else a sidecar beside it)."""
    base: dict[str, Any] = {"trust_anchors_configured": trust.has_anchors}
    sidecar = sidecar_for(path)
    source = "embedded"
    try:
        with path.open("rb") as fh:
            try:
                reader = _read(fh, mime, trust)
            except c2pa.C2paError.ManifestNotFound:
                if sidecar is None:
                    return C2paReport("absent", "no C2PA manifest in the file", **base)
                if sidecar.stat().st_size > MAX_SIDECAR_BYTES:
                    return C2paReport("error", "sidecar manifest is too large", sidecar=str(sidecar), **base)
                fh.seek(0)
                source = "sidecar"
                reader = _read(fh, mime, trust, sidecar.read_bytes())
            with reader:
                store = json.loads(reader.json())
                try:
                    crjson = json.loads(reader.crjson())
                except (c2pa.C2paError, ValueError) as exc:  # crJSON only adds details
                    log.debug("crJSON unavailable for %s: %s", path, exc)
                    crjson = None
                remote = None
                if not reader.is_embedded():
                    remote = reader.get_remote_url()
                    source = "remote" if source == "embedded" else source
    except c2pa.C2paError as exc:
        message = _sdk_message(exc)
        match = _REMOTE_RE.search(message)
        if match:
            url = match.group(1)
            return C2paReport(
                "error",
                f"the manifest is stored remotely at {url} and fetching is off "
                "(use --allow-network to fetch it)",
                manifest_source="remote",
                remote_manifest_url=url,
                sdk_error=message,
                **base,
            )
        return C2paReport(
            "error",
            _explain_error(message),
            manifest_source=source if source == "sidecar" else None,
            sidecar=str(sidecar) if source == "sidecar" else None,
            sdk_error=message,
            **base,
        )
    manifests = store.get("manifests") if isinstance(store.get("manifests"), dict) else {}
    state = _state(store)
    summary = summarize(store, crjson)
    reason = {
        "trusted": "signature and hashes hold; the signer chains to a configured trust anchor",
        "valid": "signature and hashes hold; the signer is not on a configured trust list",
        "invalid": "the manifest fails validation",
    }[state]
    return C2paReport(
        state,
        reason,
        manifest_source=source,
        sidecar=str(sidecar) if sidecar else None,
        remote_manifest_url=remote,
        manifest_count=len(manifests),
        validation=tuple(validation_entries(store)),
        active_manifest=summary,
        **base,
    )
