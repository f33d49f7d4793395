"""Keys that must never be a trust root by default.

The demo and test keys committed under ``fixtures/`` (and the TEST-ONLY keys of
the published format vectors) are public: anyone can sign with them. A ledger
whose pinned owner is one of them verifies only with an explicit, loudly named
opt-in (``--unsafe-allow-test-keys``).
"""

from __future__ import annotations

from typing import Final

TEST_KEY_FINGERPRINTS: Final = frozenset(
    {
        # fixtures/vectors/factledger-format (TEST-ONLY seeds published in vectors.json)
        "SHA256:i9gOlPZf3grgT6WjnSG7xW5NpC768eld4VPacLAd9Bo",
        "SHA256:ReCuieQFrXkjrMEdh9ahzhvJAJTqIfqwQeuaSb2DIcs",
        "SHA256:47v/u9cFC5gSb1A5slwFDdjfaqrw+qNd5Y/gLQEF2TQ",
    }
)


def is_test_key(fingerprint: str) -> bool:
    """True for a published demo/test key's fingerprint."""
    return fingerprint in TEST_KEY_FINGERPRINTS
