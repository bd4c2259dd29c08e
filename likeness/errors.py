"""Registry errors: each one clear about what is wrong and that nothing was changed."""

from __future__ import annotations

from veracity.errors import VeracityError


class RegistryError(VeracityError):
    """A registry that cannot be opened or used (corrupt, locked, newer schema, bad key)."""

    code = "registry-error"


class RegistryLocked(RegistryError):
    code = "registry-locked"


class NotFound(RegistryError):
    code = "not-found"


class EnrolmentError(VeracityError):
    """A reference that cannot be enrolled (no face, several faces, too little speech)."""

    code = "enrolment-refused"


class ImportRefused(RegistryError):
    code = "import-refused"
