"""Trust configuration for C2PA validation: anchors, allowed signers, network policy.

Nothing is fetched: anchors and allowed signer certificates come from PEM files the
user names on the command line or in a TOML config file::

    [trust]
    anchors = ["c2pa-trust-list.pem"]      # paths relative to this file
    allowed = ["our-newsroom-signers.pem"]
    allow_network = false                  # remote manifests and OCSP

The config file is ``--config FILE`` or, failing that, ``$VERACITY_CONFIG``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from veracity.errors import ConfigError

CONFIG_ENV = "VERACITY_CONFIG"


@dataclass(frozen=True)
class TrustConfig:
    anchors_pem: str = ""
    allowed_pem: str = ""
    allow_network: bool = False
    sources: tuple[str, ...] = field(default=())

    @property
    def has_anchors(self) -> bool:
        return bool(self.anchors_pem or self.allowed_pem)

    def c2pa_settings(self) -> dict[str, Any]:
        """The c2pa-rs settings document for a Reader's Context."""
        settings: dict[str, Any] = {
            "verify": {
                "verify_after_reading": True,
                "verify_trust": True,
                "remote_manifest_fetch": self.allow_network,
                "ocsp_fetch": self.allow_network,
            },
            "core": {"decode_identity_assertions": True},
        }
        if not self.allow_network:
            settings["core"]["allowed_network_hosts"] = []
        trust: dict[str, Any] = {}
        if self.anchors_pem:
            # Replace the SDK's built-in list: only what the user names is trusted.
            trust["trust_anchors"] = self.anchors_pem
        if self.allowed_pem:
            trust["allowed_list"] = self.allowed_pem
        if trust:
            settings["trust"] = trust
            settings["cawg_trust"] = {"verify_trust_list": True, **trust}
        return settings


def read_pem_certificates(path: Path) -> str:
    """The certificates in ``path`` as PEM text; ConfigError if there are none."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read certificate file: {exc.strerror}", path=str(path)) from exc
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError("no PEM certificate could be read", path=str(path)) from exc
    from cryptography.hazmat.primitives.serialization import Encoding

    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certs)


def _paths(value: Any, base: Path, key: str, cfg: Path) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[trust] {key} must be a path or a list of paths", path=str(cfg))
    return [(base / v).expanduser() for v in value]


def load_trust(
    anchors: Sequence[Path] = (),
    allowed: Sequence[Path] = (),
    *,
    config: Path | None = None,
    allow_network: bool | None = None,
    environ: dict[str, str] | None = None,
) -> TrustConfig:
    """Merge command-line files with the config file (``config`` or ``$VERACITY_CONFIG``)."""
    env = os.environ if environ is None else environ
    if config is None and env.get(CONFIG_ENV):
        config = Path(env[CONFIG_ENV])
    anchor_files: list[Path] = list(anchors)
    allowed_files: list[Path] = list(allowed)
    network = False
    if config is not None:
        try:
            doc = tomllib.loads(config.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file: {exc.strerror}", path=str(config)) from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file is not valid TOML: {exc}", path=str(config)) from exc
        section = doc.get("trust", {})
        if not isinstance(section, dict):
            raise ConfigError("[trust] must be a table", path=str(config))
        unknown = set(section) - {"anchors", "allowed", "allow_network"}
        if unknown:
            raise ConfigError(f"unknown [trust] keys: {', '.join(sorted(unknown))}", path=str(config))
        base = config.parent
        anchor_files += _paths(section.get("anchors"), base, "anchors", config)
        allowed_files += _paths(section.get("allowed"), base, "allowed", config)
        net = section.get("allow_network", False)
        if not isinstance(net, bool):
            raise ConfigError("[trust] allow_network must be true or false", path=str(config))
        network = net
    if allow_network is not None:
        network = allow_network
    return TrustConfig(
        anchors_pem=_join(anchor_files),
        allowed_pem=_join(allowed_files),
        allow_network=network,
        sources=tuple(str(p) for p in [*anchor_files, *allowed_files]),
    )


def _join(files: Iterable[Path]) -> str:
    return "".join(read_pem_certificates(p) for p in files)
