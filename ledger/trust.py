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
        # fixtures/keys/demo-<label>.key (the demo ledger; seed sha256(b"factledger demo key "
        # + label), see scripts/make_fixtures.py)
        "SHA256:cMucLRnf0Rb9q+dECBCiDDTHvlRgzRmoRNqGWsUagbE",  # ines (owner)
        "SHA256:txyNZq7nmoZB9643mcmgFU0pUG2k2J96HuES9Ie/k5A",  # kofi
        "SHA256:70jonI00Wryr5Db8UQAPIX39UKLknEKyy04f6NrYAQs",  # ravi
        "SHA256:LrAqLCtoJ6KqyCeBgpYdjsBgwPWvplXVvG2IIfACq20",  # lena
        "SHA256:UDDIr5BOwxjX83UyJOA82c6wDn26NzIlTbyhO1Vcv/A",  # hana
        "SHA256:PWBZbbFfS8rjmaNptai1p/DTpzpW9hmGzuXVnybk3bg",  # ravinew
    }
)


def is_test_key(fingerprint: str) -> bool:
    """True for a published demo/test key's fingerprint."""
    return fingerprint in TEST_KEY_FINGERPRINTS
