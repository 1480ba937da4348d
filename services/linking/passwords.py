"""VK ID passwords: normalisation, argon2id hashing off the event loop, and the seed's policy."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.linking.settings import LinkingSettings

# Rule names are part of the API (`weak_password.unmet`), in this order.
RULES = ("min_length", "uppercase", "lowercase", "digit", "special")

# Invisible characters a paste or a keyboard may slip into a password: zero-width space,
# non-joiner and joiner, word joiner, byte-order mark, soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))

_T = TypeVar("_T")


def normalize_password(password: str) -> str:
    """NFKC form without invisible characters: what the teacher sees is what counts.

    Applied before the policy check, before hashing and before verifying, so «Пароль» typed
    on two keyboards (composed or decomposed letters, full-width digits) is one password.
    """
    return unicodedata.normalize("NFKC", password).translate(_INVISIBLE)


class PasswordHashing:
    """A real KDF (argon2id) run in a small thread pool, never on the event loop.

    At most `password_hash_concurrency` hashes run at once (argon2 releases the GIL, and each
    takes `password_hash_memory_cost` KiB); further requests queue for a thread while the loop
    keeps serving others. Its cost is a setting so tests can use a light profile.
    """

    def __init__(self, settings: LinkingSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_cost,
            parallelism=settings.password_hash_parallelism,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=settings.password_hash_concurrency, thread_name_prefix="argon2"
        )

    def hash_blocking(self, password: str) -> str:
        """Hash in the calling thread (demo seeding, benchmarks); requests use `hash`."""
        return self._hasher.hash(normalize_password(password))

    def verify_blocking(self, password_hash: str | None, password: str) -> bool:
        """`verify` in the calling thread."""
        if password_hash is None:
            return False
        try:
            return self._hasher.verify(password_hash, normalize_password(password))
        except (VerificationError, InvalidHashError):
            return False

    async def hash(self, password: str) -> str:
        """The argon2id hash of the normalised password, computed in the pool."""
        return await self._in_pool(self.hash_blocking, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; an account without a password matches nothing."""
        return await self._in_pool(self.verify_blocking, password_hash, password)

    async def _in_pool(self, function: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        """Let running hashes finish and stop the threads."""
        self._executor.shutdown(wait=True)


class PasswordPolicy:
    """«Минимум 8 символов — заглавные и строчные буквы, цифры и спецсимволы»."""

    def __init__(self, settings: LinkingSettings) -> None:
        self.min_length = settings.password_min_length
        self.special_characters = frozenset(settings.password_special_characters)

    def unmet(self, password: str) -> list[str]:
        """Every rule the (normalised) password breaks, in the order of `RULES`; [] when fine."""
        password = normalize_password(password)
        checks = {
            "min_length": len(password) >= self.min_length,
            "uppercase": any(ch.isupper() for ch in password),
            "lowercase": any(ch.islower() for ch in password),
            "digit": any(ch.isdigit() for ch in password),
            "special": any(ch in self.special_characters for ch in password),
        }
        return [rule for rule in RULES if not checks[rule]]

    def describe(self) -> str:
        specials = "".join(sorted(self.special_characters))
        return (
            f"At least {self.min_length} characters with upper and lower case letters, "
            f"digits and special characters ({specials})."
        )
