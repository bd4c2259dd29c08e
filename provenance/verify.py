"""Verify one file: C2PA manifest state plus other origin signals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.images import DEFAULT_MAX_PIXELS, open_image
from detectors.sniff import DEFAULT_MAX_FILE_BYTES, check_file
from provenance import signals as sig
from provenance.c2pa_reader import C2paReport, read_c2pa
from provenance.trust import TrustConfig
from veracity.errors import InputError, VeracityError

REQUIRE_LEVELS = {"valid": ("valid", "trusted"), "trusted": ("trusted",)}


@dataclass(frozen=True)
class VerifyOptions:
    trust: TrustConfig = field(default_factory=TrustConfig)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    signals: bool = True
    watermark: bool = True


@dataclass(frozen=True)
class VerifyResult:
    path: str
    state: str
    reason: str | None
    media_type: str | None = None
    size: int | None = None
    c2pa: C2paReport | None = None
    signals: tuple[sig.Signal, ...] = ()
    warnings: tuple[str, ...] = ()
    error: dict[str, Any] | None = None
    elapsed_ms: float = 0.0

    @property
    def ai_declared(self) -> bool:
        m = self.c2pa.active_manifest if self.c2pa else None
        return bool(m and m.ai.declared)

    def meets(self, require: str | None) -> bool:
        return require is None or self.state in REQUIRE_LEVELS[require]

    def as_dict(self) -> dict[str, Any]:
        manifest = self.c2pa.active_manifest if self.c2pa else None
        return {
            "path": self.path,
            "state": self.state,
            "reason": self.reason,
            "media_type": self.media_type,
            "size": self.size,
            "ai": manifest.ai.as_dict()
            if manifest
            else {"verdict": "none", "declared": False, "evidence": [], "inherited": []},
            "c2pa": self.c2pa.as_dict() if self.c2pa else None,
            "signals": [s.as_dict() for s in self.signals],
            "warnings": list(self.warnings),
            "error": self.error,
            "elapsed_ms": round(self.elapsed_ms, 2),
        }


def _error_result(path: Path, exc: VeracityError, start: float, **kw: Any) -> VerifyResult:
    return VerifyResult(
        path=str(path),
        state="error",
        reason=exc.message,
        error=exc.as_dict() | {"path": str(path)},
        elapsed_ms=(time.perf_counter() - start) * 1000,
        **kw,
    )


def verify_file(path: Path, options: VerifyOptions | None = None) -> VerifyResult:
    """Verify ``path``. Never raises for a bad file: the result says what went wrong."""
    opts = options or VerifyOptions()
    start = time.perf_counter()
    try:
        check = check_file(path, opts.max_file_bytes)
    except VeracityError as exc:
        return _error_result(path, exc, start)
    warnings = [check.extension_mismatch] if check.extension_mismatch else []
    media = check.media
    if media.family == "manifest":
        bare = InputError(
            "a bare C2PA manifest store has no asset to validate against: verify the asset, "
            "with this file beside it as its sidecar",
            path=str(path),
        )
        return _error_result(path, bare, start, media_type=media.mime, size=check.size)
    signals: list[sig.Signal] = []
    image = None
    try:
        if media.pillow_decodable and (opts.signals or opts.watermark):
            image = open_image(path, max_pixels=opts.max_pixels)
        report = read_c2pa(path, media.mime if media.label != "unknown" else None, opts.trust)
        if opts.signals:
            packets = sig.xmp_packets(path, check.size)
            if image is not None:
                packets += sig.image_xmp_packets(image)
            signals += sig.xmp_signals(packets)
            if image is not None:
                signals += sig.exif_signals(image)
                if media.mime == "image/png":
                    signals += sig.png_text_signals(image)
        if opts.watermark and image is not None:
            signals += sig.watermark_signals(image)
    except VeracityError as exc:
        return _error_result(path, exc, start, media_type=media.mime, size=check.size)
    except OSError as exc:
        return _error_result(path, InputError(f"cannot read: {exc.strerror or exc}", path=str(path)), start)
    finally:
        if image is not None:
            image.close()
    error = None
    if report.state == "error":
        error = {"code": "c2pa-error", "message": report.reason or "C2PA error", "path": str(path)}
    return VerifyResult(
        path=str(path),
        state=report.state,
        reason=report.reason,
        media_type=media.mime,
        size=check.size,
        c2pa=report,
        signals=tuple(signals),
        warnings=tuple(warnings),
        error=error,
        elapsed_ms=(time.perf_counter() - start) * 1000,
    )
