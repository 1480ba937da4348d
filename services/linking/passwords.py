"""VK ID passwords: argon2id hashing and the seed's policy (every unmet rule reported)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.linking.settings import LinkingSettings

# Rule names are part of the API (`weak_password.unmet`), in this order.
RULES = ("min_length", "uppercase", "lowercase", "digit", "special")


class PasswordHashing:
    """A real KDF (argon2id); its cost is a setting so tests can use a light profile."""

    def __init__(self, settings: LinkingSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_cost,
            parallelism=settings.password_hash_parallelism,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; an account without a password matches nothing."""
        if password_hash is None:
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class PasswordPolicy:
    """«Минимум 8 символов — заглавные и строчные буквы, цифры и спецсимволы»."""

    def __init__(self, settings: LinkingSettings) -> None:
        self.min_length = settings.password_min_length
        self.special_characters = frozenset(settings.password_special_characters)

    def unmet(self, password: str) -> list[str]:
        """Every rule the password breaks, in the order of `RULES`; empty when it is fine."""
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
