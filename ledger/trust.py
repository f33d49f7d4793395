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
        # scripts/generate_ledger.py (seed sha256(b"factledger/generate_ledger/TEST-ONLY/"
        # + label); generated benchmark and tamper-test ledgers)
        "SHA256:A2WjCPt3b1Wv3w21o592APwRbC8kmZiMeaf7NQFiXd0",  # olga-owner
        "SHA256:NduYO+OiLwH1+lnRWynz5qYbQE7+D9qeO+Pw43Syngk",  # esme-editor
        "SHA256:uoRPbLPFvajzbhReDxeUGJ7dtJJr6KFNSdESBgma30w",  # emil-editor-2021
        "SHA256:X4R++8hG6IYQFtmS3cTW/oQXqIsGWEVBm/JoltkXpFs",  # eva-editor
        "SHA256:OxSk0OnOy0/rCXcBBOzizBcveYTNT6bpYOlHwLiJBjA",  # rosa-reviewer
        "SHA256:/1zloILtEmoPVA34F2EWJyrLCIJ3ZacYqv9rs5gAPPc",  # raj-reviewer-2021
        "SHA256:MU/eHDKEQkjTDGgAhNpcw0+LZmeAR2gAnqdSdIikeUU",  # rina-reviewer
        "SHA256:4ZAs4xVuk2InKN3dGKGLUx/noaeYouPJM6Kr7hRJnfQ",  # remy-reviewer
        "SHA256:esmRIqw+Dt4Qte8AJiWKPrKJl/oviKQMG26PoBQnnK4",  # rhea-reviewer
        "SHA256:m08YkuKY8xsbV9UOtywsLp3+rN9xL3LC4ok4kLtgaEc",  # raj-reviewer-2023
        "SHA256:XqAWbehcp2RVjyrJCcwmnazyATTlLq6X5C6RUDjSB7k",  # emil-editor-2023
        "SHA256:52S44oUdEHAuzrHya7R/mDr9b6JdDzWu8avseFll3wo",  # mallory-intruder
    }
)


def is_test_key(fingerprint: str) -> bool:
    """True for a published demo/test key's fingerprint."""
    return fingerprint in TEST_KEY_FINGERPRINTS
