"""A throwaway certificate authority and C2PA signing, for sample media and tests.

Nothing here is for production: the keys are made on the spot, kept in memory or in
the folder the caller names, and the root is trusted by nobody but the caller.  It
exists so that the repository can make its own signed sample media and test fixtures
instead of shipping or fetching anyone else's.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class DemoPKI:
    """A root, an intermediate and a signer: PEM text for each part."""

    root_pem: str
    intermediate_pem: str
    signer_pem: str
    signer_key_pem: str

    @property
    def chain_pem(self) -> str:
        """Signer first, then the intermediate: what a C2PA signer embeds."""
        return self.signer_pem + self.intermediate_pem

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "root.pem").write_text(self.root_pem)
        (folder / "chain.pem").write_text(self.chain_pem)
        (folder / "signer.pem").write_text(self.signer_pem)
        key = folder / "signer.key"
        key.write_text(self.signer_key_pem)
        key.chmod(0o600)


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _cert(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    not_before: dt.datetime,
    not_after: dt.datetime,
    path_length: int | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(
    org: str = "Veracity Demo",
    *,
    signer_not_before: dt.datetime | None = None,
    signer_not_after: dt.datetime | None = None,
) -> DemoPKI:
    """Make a fresh root → intermediate → signer chain (EC P-256, ES256).

    ``signer_not_before``/``signer_not_after`` let tests make an expired signer.
    """
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    root_key = ec.generate_private_key(ec.SECP256R1())
    int_key = ec.generate_private_key(ec.SECP256R1())
    sig_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{org} Root CA", org)
    int_name = _name(f"{org} Intermediate CA", org)
    start = now - dt.timedelta(days=3650)
    root = _cert(
        root_name,
        root_name,
        root_key.public_key(),
        root_key,
        ca=True,
        not_before=start,
        not_after=now + dt.timedelta(days=3650),
    )
    inter = _cert(
        int_name,
        root_name,
        int_key.public_key(),
        root_key,
        ca=True,
        path_length=0,
        not_before=start,
        not_after=now + dt.timedelta(days=3650),
    )
    signer = _cert(
        _name(f"{org} Signer", org),
        int_name,
        sig_key.public_key(),
        int_key,
        ca=False,
        not_before=signer_not_before or now - dt.timedelta(days=1),
        not_after=signer_not_after or now + dt.timedelta(days=365),
    )
    key_pem = sig_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return DemoPKI(_pem(root), _pem(inter), _pem(signer), key_pem)


def manifest_definition(
    title: str,
    mime: str,
    *,
    action: str = "c2pa.created",
    source_type: str | None = "digitalCapture",
    software_agent: str = "Veracity demo signer",
    training_mining: str | None = None,
    extra_assertions: list[dict[str, Any]] | None = None,
    parent_ingredient_id: str | None = None,
) -> dict[str, Any]:
    """A manifest definition for ``c2pa.Builder`` with one action.

    For an edit, ``parent_ingredient_id`` is the ``instance_id`` given to the parent
    ingredient; the ``c2pa.opened`` action that starts the edit refers to it.
    """
    act: dict[str, Any] = {"action": action, "softwareAgent": {"name": software_agent}}
    if source_type:
        act["digitalSourceType"] = IPTC + source_type
    actions = [act]
    if action not in ("c2pa.created", "c2pa.opened"):
        # A manifest's first action must be c2pa.created or c2pa.opened.
        opened: dict[str, Any] = {"action": "c2pa.opened", "softwareAgent": {"name": software_agent}}
        if parent_ingredient_id:
            opened["parameters"] = {"ingredientIds": [parent_ingredient_id]}
        actions.insert(0, opened)
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions", "data": {"actions": actions}}]
    if training_mining:
        entries = {
            key: {"use": training_mining}
            for key in (
                "c2pa.ai_generative_training",
                "c2pa.ai_inference",
                "c2pa.ai_training",
                "c2pa.data_mining",
            )
        }
        assertions.append({"label": "c2pa.training-mining", "data": {"entries": entries}})
    assertions.extend(extra_assertions or [])
    return {
        "claim_generator_info": [{"name": "veracity-demo", "version": "1"}],
        "title": title,
        "format": mime,
        "assertions": assertions,
    }


def _signer(pki: DemoPKI) -> c2pa.Signer:
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256, pki.chain_pem.encode(), pki.signer_key_pem.encode(), None
    )
    return c2pa.Signer.from_info(info)


def _context() -> c2pa.Context:
    # Demo signing must not reach the network; no thumbnails keeps fixtures small.
    return c2pa.Context.from_dict(
        {
            "verify": {"verify_after_sign": False, "remote_manifest_fetch": False},
            "builder": {"thumbnail": {"enabled": False}},
        }
    )


def sign_bytes(
    pki: DemoPKI,
    data: bytes,
    mime: str,
    definition: dict[str, Any],
    *,
    ingredients: list[tuple[bytes, str, dict[str, Any]]] | None = None,
    sidecar: bool = False,
    remote_url: str | None = None,
) -> tuple[bytes, bytes]:
    """Sign ``data`` and return ``(signed asset, manifest store bytes)``.

    With ``sidecar`` the manifest is not embedded: the asset comes back unchanged and
    the manifest store is meant to be written beside it as ``NAME.c2pa``.
    """
    with _context() as ctx, c2pa.Builder(json.dumps(definition), context=ctx) as builder:
        for ing_data, ing_mime, ing_def in ingredients or []:
            builder.add_ingredient(json.dumps(ing_def), ing_mime, io.BytesIO(ing_data))
        if sidecar or remote_url:
            builder.set_no_embed()
        if remote_url:
            builder.set_remote_url(remote_url)
        out = io.BytesIO()
        with _signer(pki) as signer:
            manifest = builder.sign(signer, mime, io.BytesIO(data), out)
        signed = out.getvalue()
    return (data if sidecar else signed), bytes(manifest)
