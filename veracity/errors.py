"""One root exception with typed subclasses; each renders as JSON and as one line."""

from __future__ import annotations

from typing import Any


class VeracityError(Exception):
    """Root of every error this toolkit raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.path is not None:
            out["path"] = self.path
        return out

    def one_line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.message}"


class InputError(VeracityError):
    """A file that cannot be read or is not what it claims to be."""

    code = "input-error"


class TooLargeError(InputError):
    """A file, or an image's dimensions, over the configured limits."""

    code = "too-large"


class ConfigError(VeracityError):
    """A configuration file, trust anchor file or option that cannot be used."""

    code = "config-error"


class OutputError(VeracityError):
    """An output file that cannot be written (or exists and --force was not given)."""

    code = "output-error"
