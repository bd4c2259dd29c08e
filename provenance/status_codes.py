"""Plain-words explanations of C2PA validation status codes.

Codes come from the C2PA 2.x specification (section 15, "Validation") and the CAWG
identity assertion specification; c2pa-rs reports them.  An unknown code falls back
to the explanation the SDK gave, so a newer SDK never makes a report go blank.
"""

from __future__ import annotations

EXPLANATIONS: dict[str, str] = {
    # Signature and signing credential
    "claimSignature.validated": "The claim's signature checks out against the signing certificate.",
    "claimSignature.insideValidity": "The claim was signed while the signing certificate was valid.",
    "claimSignature.outsideValidity": "The claim was signed outside the signing certificate's validity period.",
    "claimSignature.mismatch": "The claim's signature does not match: the manifest was altered or forged after signing.",
    "claimSignature.missing": "The claim names a signature that is not there.",
    "signingCredential.trusted": "The signing certificate chains to a trust anchor you configured.",
    "signingCredential.untrusted": "The signing certificate does not chain to any configured trust anchor: the signature is intact, but nobody you trust vouches for the signer.",
    "signingCredential.invalid": "The signing certificate is malformed or not allowed for C2PA signing.",
    "signingCredential.revoked": "The signing certificate has been revoked by its issuer.",
    "signingCredential.expired": "The signing certificate had expired when the claim was signed (or has expired and no trusted timestamp proves an earlier signing time).",
    "signingCredential.ocsp.skipped": "Certificate revocation (OCSP) was not checked: network checks are off.",
    "signingCredential.ocsp.notRevoked": "The certificate's OCSP response says it is not revoked.",
    "signingCredential.ocsp.revoked": "The certificate's OCSP response says it is revoked.",
    "signingCredential.ocsp.unknown": "The certificate's OCSP status is unknown.",
    "signingCredential.ocsp.inaccessible": "The OCSP responder could not be reached.",
    # Time-stamps
    "timeStamp.validated": "The signing time comes from a time-stamp whose message imprint matches.",
    "timeStamp.trusted": "The time-stamp authority's certificate is trusted.",
    "timeStamp.untrusted": "The time-stamp authority's certificate is not in the configured trust list: the signing time is claimed, not proven.",
    "timeStamp.mismatch": "The time-stamp does not belong to this signature.",
    "timeStamp.malformed": "The time-stamp response is malformed.",
    "timeStamp.outsideValidity": "The time-stamp lies outside its certificate's validity.",
    # Hashes and bindings
    "assertion.hashedURI.match": "An assertion's hash matches the claim.",
    "assertion.hashedURI.mismatch": "An assertion's content does not match the hash in the claim: the manifest was tampered with.",
    "assertion.dataHash.match": "The asset's bytes match the hash in the manifest.",
    "assertion.dataHash.mismatch": "The asset's bytes do not match the hash in the manifest: the file was changed after signing.",
    "assertion.dataHash.malformed": "The data-hash assertion is malformed.",
    "assertion.bmffHash.match": "The video/audio (BMFF) content matches the hash in the manifest.",
    "assertion.bmffHash.mismatch": "The video/audio (BMFF) content does not match the hash in the manifest: the file was changed after signing.",
    "assertion.bmffHash.malformed": "The BMFF hash assertion is malformed.",
    "assertion.bmffHash.additionalExclusionsPresent": "The BMFF hash excludes more of the file than usual.",
    "assertion.boxesHash.match": "The asset's boxes match the hash in the manifest.",
    "assertion.boxesHash.mismatch": "The asset's boxes do not match the hash in the manifest: the file was changed after signing.",
    "assertion.collectionHash.match": "The collection's files match their hashes.",
    "assertion.collectionHash.mismatch": "A file of the collection does not match its hash.",
    "assertion.missing": "An assertion named in the claim is missing.",
    "assertion.multipleHardBindings": "The manifest has more than one hard binding.",
    "assertion.undeclared": "The manifest holds an assertion that the claim does not list.",
    "assertion.inaccessible": "An assertion could not be read.",
    "assertion.notRedacted": "An assertion that should have been redacted is still there.",
    "assertion.selfRedacted": "The manifest redacts one of its own assertions, which is not allowed.",
    "assertion.required.missing": "A required assertion is missing or could not be decoded.",
    "assertion.cbor.invalid": "An assertion's CBOR data is malformed.",
    "assertion.json.invalid": "An assertion's JSON data is malformed.",
    "assertion.action.ingredientMismatch": "An action refers to an ingredient that does not match.",
    "assertion.action.malformed": "An actions assertion is malformed.",
    "assertion.action.redacted": "An actions assertion was redacted, which is not allowed.",
    "actions.unknownActionsPerformed": "Software whose actions are not all known (for example a third-party plug-in) changed the asset.",
    # Claims and manifests
    "claim.missing": "The claim is missing.",
    "claim.multiple": "More than one claim was found in one manifest.",
    "claim.hardBindings.missing": "The claim binds to no asset content (no hard binding).",
    "claim.malformed": "The claim is malformed.",
    "claim.cbor.invalid": "The claim's CBOR data is malformed.",
    "manifest.inaccessible": "A manifest could not be read.",
    "manifest.multipleParents": "The manifest names more than one parent ingredient.",
    "manifest.update.invalid": "An update manifest makes changes that update manifests may not make.",
    "manifest.update.wrongParents": "An update manifest does not have exactly one parent.",
    "manifest.compressed.invalid": "A compressed manifest could not be decompressed.",
    "manifest.unreferenced": "The store holds a manifest that nothing refers to.",
    "manifest.timestamp.invalid": "The manifest's time-stamp is invalid.",
    "manifest.timestamp.wrongParents": "A time-stamp manifest does not have exactly one parent.",
    "ingredient.manifest.validated": "An ingredient's manifest matches the hash recorded for it.",
    "ingredient.manifest.missing": "An ingredient refers to a manifest that is not in the file.",
    "ingredient.manifest.mismatch": "An ingredient's manifest does not match the hash recorded for it.",
    "ingredient.claimSignature.validated": "An ingredient's claim signature checks out.",
    "ingredient.claimSignature.missing": "An ingredient's claim signature is missing.",
    "ingredient.claimSignature.mismatch": "An ingredient's claim signature does not match.",
    "ingredient.hashedURI.mismatch": "An ingredient assertion's hash does not match.",
    "ingredient.unknownProvenance": "An ingredient has no Content Credentials of its own: where it came from is unknown.",
    "ingredient.provenance.unknown": "An ingredient has no Content Credentials of its own: where it came from is unknown.",
    "general.error": "The validator hit an error.",
    "algorithm.unsupported": "The manifest uses a hash or signature algorithm that is not supported.",
    "algorithm.deprecated": "The manifest uses a deprecated algorithm.",
    "c2pa.unknown": "Something the validator could not classify happened.",
    # CAWG identity assertions
    "cawg.identity.well-formed": "The CAWG identity assertion is well formed.",
    "cawg.identity.assertion.duplicate": "The CAWG identity assertion refers to the same assertion twice.",
    "cawg.identity.assertion.mismatch": "The CAWG identity assertion refers to an assertion that is not in the claim.",
    "cawg.identity.hard_binding_missing": "The CAWG identity assertion does not cover the asset's hard binding.",
    "cawg.identity.pad.invalid": "The CAWG identity assertion has invalid padding.",
    "cawg.identity.sig_type.unknown": "The CAWG identity assertion uses an unknown signature type.",
    "cawg.x509.signature.validated": "The identity assertion's X.509 signature checks out.",
    "cawg.x509.credential.untrusted": "The identity assertion's X.509 certificate does not chain to a configured CAWG trust anchor.",
    "cawg.ica.did_unavailable": "The identity credential's issuer (a DID) could not be resolved: nothing is fetched from the network.",
    "cawg.ica.invalid_alg": "The identity credential uses an invalid or missing signature algorithm.",
    "cawg.ica.invalid_content_type": "The identity credential has an invalid or missing content type.",
    "cawg.ica.invalid_cose_sign1": "The identity credential's COSE signature structure is malformed.",
    "cawg.ica.invalid_issuer": "The identity credential's issuer is invalid or uses an unsupported DID method.",
    "cawg.ica.invalid_verifiable_credential": "The identity credential is not a valid verifiable credential.",
    "cawg.ica.signature_mismatch": "The identity credential's signature does not match.",
    "cawg.ica.signer_payload.mismatch": "The identity credential was made for another asset.",
    "cawg.ica.time_stamp.invalid": "The identity credential's time-stamp does not match.",
    "cawg.ica.time_stamp.validated": "The identity credential's time-stamp checks out.",
    "cawg.ica.untrusted_issuer": "The identity credential's issuer is not trusted.",
    "cawg.ica.valid_from.invalid": "The identity credential's validFrom date is after the signature or in the future.",
    "cawg.ica.valid_from.missing": "The identity credential has no validFrom date.",
    "cawg.ica.valid_until.invalid": "The identity credential had expired.",
    "cawg.ica.credential_valid": "The identity credential checks out.",
}


def explain(code: str, sdk_explanation: str | None = None) -> str:
    """Plain words for ``code``; the SDK's own text where the code is unknown here."""
    if code in EXPLANATIONS:
        return EXPLANATIONS[code]
    if sdk_explanation:
        return sdk_explanation
    return f"Validation status {code!r} (no explanation known to this version)."
