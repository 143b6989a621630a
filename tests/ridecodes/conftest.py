"""A small world for ride code tests: a clearing house, wallet providers on its
trust list, riders with phones, and a reader's clock.

Keys are derived from names, so a failing example names the parties it used.
Riders are made with ``scene.rider("tok-ana")`` and codes with
``ana.code(seconds_after_t0, counter)``; a test reads like a scan script.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import farebridge.codecs
from farebridge.codecs.ridecode import (
    DenyList,
    ReplayGuard,
    RideCredential,
    TrustList,
    VerifiedRide,
    generate_code,
    issue_credential,
    open_trust_list,
    sign_trust_list,
    verify_code,
)

VECTORS_PATH = Path(farebridge.codecs.__file__).with_name("ridecode_vectors.json")
T0 = datetime(2026, 3, 2, 8, 0, 0, 250000, tzinfo=UTC)


def named_key(name: str) -> Ed25519PrivateKey:
    """The same key for the same name, in every run."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


@dataclass(frozen=True)
class Rider:
    """A phone: the rider's key and the credential its wallet provider issued."""

    credential: RideCredential
    key: Ed25519PrivateKey

    def code(self, seconds: float, counter: int) -> str:
        """A code made ``seconds`` after T0."""
        return generate_code(self.credential, self.key, T0 + timedelta(seconds=seconds), counter)


@dataclass
class Scene:
    """Two trusted wallet providers, an empty deny list, and a reader's memory."""

    clearing_house: Ed25519PrivateKey = field(default_factory=lambda: named_key("clearing-house"))
    issuers: dict[str, Ed25519PrivateKey] = field(
        default_factory=lambda: {name: named_key(name) for name in ("tapwallet", "payroute")}
    )
    deny_list: DenyList = field(default_factory=lambda: DenyList(version=1))
    guard: ReplayGuard = field(default_factory=ReplayGuard)

    @property
    def trust_list(self) -> TrustList:
        blob = sign_trust_list(
            self.clearing_house,
            {name: key.public_key() for name, key in self.issuers.items()},
            version=1,
            issued_at=T0 - timedelta(days=1),
        )
        return open_trust_list(blob, self.clearing_house.public_key())

    def rider(
        self,
        token: str = "tok-ana",
        *,
        issuer: str = "tapwallet",
        category: str = "adult",
        serial: int = 1,
        expires_in: timedelta = timedelta(days=30),
        signed_by: Ed25519PrivateKey | None = None,
    ) -> Rider:
        phone = named_key(f"phone of {token} #{serial}")
        credential = issue_credential(
            signed_by or self.issuers.get(issuer) or named_key(issuer),
            issuer,
            token,
            phone.public_key(),
            category=category,
            expires_at=T0 + expires_in,
            serial=serial,
        )
        return Rider(credential, phone)

    def scan(self, text: str, seconds: float, **windows: timedelta) -> VerifiedRide:
        """Verifies ``text`` at the reader, ``seconds`` after T0."""
        now = T0 + timedelta(seconds=seconds)
        return verify_code(text, self.trust_list, self.deny_list, now, self.guard, **windows)


@pytest.fixture
def scene() -> Scene:
    return Scene()


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return document
