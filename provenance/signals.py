"""Origin signals besides C2PA: IPTC/XMP source type, EXIF, AI-tool metadata, watermarks.

Each is a *signal* with its evidence, never proof: metadata is trivially written,
copied or stripped.  Everything read here is untrusted text, trimmed and carried as
data.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from provenance import watermark
from provenance.manifest import AI_SOURCE_TYPES, ALGORITHMIC_SOURCE_TYPES, COMPOSITE_TYPES, source_type_name

XMP_HEAD_BYTES = 16 * 1024 * 1024
XMP_TAIL_BYTES = 4 * 1024 * 1024
MAX_XMP_PACKET = 4 * 1024 * 1024
MAX_PACKETS = 8
VALUE_LIMIT = 500

_XMP_RE = re.compile(rb"<x:xmpmeta\b.*?</x:xmpmeta>", re.DOTALL)
_DST_RES = [
    re.compile(rb'(?:\w+:)?DigitalSourceType\s*=\s*"([^"]{1,300})"'),
    re.compile(rb"<(?:\w+:)?DigitalSourceType\b[^>]*?rdf:resource\s*=\s*\"([^\"]{1,300})\""),
    re.compile(rb"<(?:\w+:)?DigitalSourceType\b[^>/]*>\s*([^<\s][^<]{0,300})<"),
]
_CREATOR_RES = [
    re.compile(rb'xmp:CreatorTool\s*=\s*"([^"]{1,300})"'),
    re.compile(rb"<xmp:CreatorTool>\s*([^<]{1,300})<"),
]
_AIGC_RE = re.compile(rb"(?:\w+:)?AIGC\b\s*=?\s*\"?([^\"<]{0,300})")

# Names of generators and generative front ends, matched case-insensitively in
# software/creator-tool fields.
AI_TOOLS = (
    "midjourney",
    "dall-e",
    "dall·e",
    "openai",
    "chatgpt",
    "stable diffusion",
    "stablediffusion",
    "automatic1111",
    "comfyui",
    "invokeai",
    "novelai",
    "adobe firefly",
    "firefly",
    "imagen",
    "ideogram",
    "leonardo.ai",
    "dreamstudio",
    "nightcafe",
    "craiyon",
    "bing image creator",
    "runway",
    "sora",
    "kling",
    "flux.1",
    "black forest labs",
)

# PNG text keys that generative tools write, and what they mean.
PNG_AI_KEYS = {
    "parameters": "Stable Diffusion WebUI (AUTOMATIC1111/Forge/SD.Next) generation parameters",
    "prompt": "ComfyUI prompt graph",
    "workflow": "ComfyUI workflow",
    "dream": "InvokeAI (legacy) generation parameters",
    "sd-metadata": "InvokeAI generation metadata",
    "invokeai_metadata": "InvokeAI generation metadata",
    "invokeai_graph": "InvokeAI workflow graph",
    "generation_data": "generation parameters",
    "fooocus_scheme": "Fooocus generation parameters",
}

EXIF_SOFTWARE, EXIF_MAKE, EXIF_MODEL = 0x0131, 0x010F, 0x0110
EXIF_IFD, EXIF_USER_COMMENT = 0x8769, 0x9286


@dataclass(frozen=True)
class Signal:
    kind: str  # xmp-digital-source-type | xmp-creator-tool | xmp-aigc | exif | png-text | exif-user-comment | watermark
    source: str
    value: str
    # ai-generated | ai-edited | composite-with-ai | ai-tool | camera | software | none
    suggests: str
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _trim(value: Any, limit: int = VALUE_LIMIT) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text.replace("\x00", "").strip()
    return text[:limit] + "…" if len(text) > limit else text


def _ai_tool(text: str) -> str | None:
    low = text.lower()
    return next((tool for tool in AI_TOOLS if tool in low), None)


def xmp_packets(path: Path, size: int) -> list[bytes]:
    """XMP packets found in the head and tail of the file (bounded reads)."""
    with path.open("rb") as fh:
        head = fh.read(XMP_HEAD_BYTES)
        tail = b""
        if size > XMP_HEAD_BYTES:
            fh.seek(max(XMP_HEAD_BYTES, size - XMP_TAIL_BYTES))
            tail = fh.read(XMP_TAIL_BYTES)
    packets: list[bytes] = []
    for blob in (head, tail):
        for match in _XMP_RE.finditer(blob):
            if len(match.group(0)) <= MAX_XMP_PACKET:
                packets.append(match.group(0))
            if len(packets) >= MAX_PACKETS:
                return packets
    return packets


def image_xmp_packets(img: Image.Image) -> list[bytes]:
    """XMP that Pillow decoded (e.g. a compressed PNG iTXt chunk a byte scan misses)."""
    out = []
    for value in (img.info.get("xmp"), getattr(img, "text", {}).get("XML:com.adobe.xmp")):
        if isinstance(value, str):
            value = value.encode("utf-8", "replace")
        if isinstance(value, bytes) and len(value) <= MAX_XMP_PACKET:
            out += [m.group(0) for m in _XMP_RE.finditer(value)] or [value]
    return out


def _source_type_signal(value: str, source: str) -> Signal:
    name = source_type_name(value) or value
    if name in AI_SOURCE_TYPES:
        suggests = "composite-with-ai" if name in COMPOSITE_TYPES else "ai-generated"
        explanation = f"IPTC digital source type {name}: {AI_SOURCE_TYPES[name]}."
    elif name in ALGORITHMIC_SOURCE_TYPES:
        suggests = "none"
        explanation = (
            f"IPTC digital source type {name}: {ALGORITHMIC_SOURCE_TYPES[name]} (not generative AI)."
        )
    elif name in ("digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm", "print"):
        suggests = "camera"
        explanation = f"IPTC digital source type {name}: the metadata claims a capture, not generation."
    else:
        suggests = "none"
        explanation = f"IPTC digital source type {name}."
    return Signal("xmp-digital-source-type", source, _trim(value, 300), suggests, explanation)


def xmp_signals(packets: list[bytes]) -> list[Signal]:
    out: list[Signal] = []
    seen: set[tuple[str, str]] = set()

    def add(sig: Signal) -> None:
        if (sig.kind, sig.value) not in seen:
            seen.add((sig.kind, sig.value))
            out.append(sig)

    for packet in packets:
        for regex in _DST_RES:
            for match in regex.finditer(packet):
                add(_source_type_signal(_trim(match.group(1), 300), "XMP Iptc4xmpExt:DigitalSourceType"))
        for regex in _CREATOR_RES:
            for match in regex.finditer(packet):
                value = _trim(match.group(1), 300)
                tool = _ai_tool(value)
                add(
                    Signal(
                        "xmp-creator-tool",
                        "XMP xmp:CreatorTool",
                        value,
                        "ai-tool" if tool else "software",
                        f"Created with {value!r}" + (f", a generative AI tool ({tool})." if tool else "."),
                    )
                )
        for match in _AIGC_RE.finditer(packet):
            add(
                Signal(
                    "xmp-aigc",
                    "XMP AIGC label",
                    _trim(match.group(1), 300),
                    "ai-generated",
                    "An AIGC label (as China's GB 45438-2025 labelling rules require for AI-generated content).",
                )
            )
    return out


def exif_signals(img: Image.Image) -> list[Signal]:
    try:
        exif = img.getexif()
    except Exception:  # malformed EXIF is common; it only means no signal
        return []
    out: list[Signal] = []
    software = exif.get(EXIF_SOFTWARE)
    if software:
        value = _trim(software, 300)
        tool = _ai_tool(value)
        out.append(
            Signal(
                "exif",
                "EXIF Software",
                value,
                "ai-tool" if tool else "software",
                f"Last written by {value!r}" + (f", a generative AI tool ({tool})." if tool else "."),
            )
        )
    make, model = exif.get(EXIF_MAKE), exif.get(EXIF_MODEL)
    if make or model:
        value = _trim(" ".join(str(v) for v in (make, model) if v), 300)
        out.append(
            Signal(
                "exif", "EXIF Make/Model", value, "camera", f"The metadata names a capture device: {value!r}."
            )
        )
    try:
        comment = exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    except Exception:
        comment = None
    if comment:
        text = _trim(comment[8:] if isinstance(comment, bytes) else comment, 2000)
        if "Steps:" in text and ("Sampler:" in text or "CFG scale:" in text):
            out.append(
                Signal(
                    "exif-user-comment",
                    "EXIF UserComment",
                    _trim(text),
                    "ai-generated",
                    "Stable Diffusion WebUI generation parameters (prompt, steps, sampler) in EXIF.",
                )
            )
    return out


def png_text_signals(img: Image.Image) -> list[Signal]:
    text = getattr(img, "text", None)
    if not isinstance(text, dict):
        return []
    out: list[Signal] = []
    for key, value in text.items():
        low = str(key).lower()
        sval = _trim(value)
        if low in PNG_AI_KEYS:
            if low == "prompt" and not _looks_like_json(str(value)):
                continue
            out.append(
                Signal(
                    "png-text",
                    f"PNG text chunk {str(key)[:80]!r}",
                    sval,
                    "ai-generated",
                    f"{PNG_AI_KEYS[low]} written by a generative tool.",
                )
            )
        elif low in ("software", "source") and (tool := _ai_tool(str(value))):
            out.append(
                Signal(
                    "png-text",
                    f"PNG text chunk {str(key)[:80]!r}",
                    sval,
                    "ai-tool",
                    f"Written by a generative AI tool ({tool}).",
                )
            )
        elif low == "comment" and _looks_like_json(str(value)) and '"steps"' in str(value).lower():
            out.append(
                Signal(
                    "png-text",
                    "PNG text chunk 'Comment'",
                    sval,
                    "ai-generated",
                    "Generation parameters (steps, sampler, seed) as NovelAI writes them.",
                )
            )
    return out


def _looks_like_json(text: str) -> bool:
    text = text.strip()
    if not text.startswith(("{", "[")):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def watermark_signals(img: Image.Image) -> list[Signal]:
    if img.mode in ("P", "PA"):  # palette with transparency: go through RGBA, as Pillow advises
        img = img.convert("RGBA")
    rgb = np.asarray(img.convert("RGB"))
    out = []
    for result in watermark.detect(rgb):
        if result.detected:
            out.append(
                Signal(
                    "watermark",
                    f"invisible watermark ({result.method})",
                    f"{result.name} ({result.bits - result.bit_errors}/{result.bits} bits match)",
                    "ai-generated",
                    "The invisible watermark that the reference Stable Diffusion scripts embed in "
                    "every image they generate. Survives PNG, not JPEG re-compression or resizing.",
                )
            )
    return out
