"""Optional encryption at rest for templates and kept media (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from the environment (``VERACITY_REGISTRY_KEY``, a Fernet key: 32 bytes,
URL-safe base64), never from the registry file. ``veracity registry keygen`` prints a new one.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken

from likeness.errors import RegistryError

KEY_ENV = "VERACITY_REGISTRY_KEY"
CHECK_PLAINTEXT = b"veracity-registry-key-check"


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


class Cipher:
    """Encrypts blobs when a key is set; a pass-through otherwise."""

    def __init__(self, key: str | None) -> None:
        self._fernet = None
        if key:
            try:
                self._fernet = Fernet(key.encode("ascii") if isinstance(key, str) else key)
            except (ValueError, TypeError):
                raise RegistryError(f"{KEY_ENV} is not a valid key (32 bytes, URL-safe base64)") from None

    @classmethod
    def from_env(cls) -> Cipher:
        return cls(os.environ.get(KEY_ENV) or None)

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data) if self._fernet else data

    def decrypt(self, data: bytes) -> bytes:
        if self._fernet is None:
            raise RegistryError(f"the registry's templates are encrypted; set {KEY_ENV} to read them")
        try:
            return self._fernet.decrypt(data)
        except InvalidToken:
            raise RegistryError(f"{KEY_ENV} does not decrypt this registry (wrong key)") from None

    def check_value(self) -> bytes:
        return self.encrypt(CHECK_PLAINTEXT)

    def verify(self, check: bytes) -> None:
        if self.decrypt(check) != CHECK_PLAINTEXT:
            raise RegistryError(f"{KEY_ENV} does not decrypt this registry (wrong key)")
