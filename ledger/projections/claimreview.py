"""schema.org ClaimReview JSON-LD for claims with a current verdict (DESIGN §11).

Pure mapping from :class:`~ledger.projections.views.ReviewRow` to JSON-LD; the
mapping is documented in ``docs/claimreview.md``. Ratings use the ledger's own
scale: ``bestRating`` is its highest value, ``worstRating`` its lowest,
``ratingValue`` the rating's value and ``alternateName`` the rating's name; an
off-scale rating (value ``null``, e.g. ``unproven``) has no ``ratingValue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ledger.projections.views import ReviewRow, ScaleStep
from ledger.text import is_web_url

CONTEXT = "https://schema.org"

UNKNOWN_CLAIMANT: Final = "unknown"
"""What `claim add` records when no --claimant is given: no author is exported for it."""


def review(
    row: ReviewRow,
    scale: Sequence[ScaleStep],
    *,
    organisation: str | None,
    url_template: str | None = None,
) -> dict[str, Any]:
    """One ClaimReview object (without ``@context``; :func:`document` adds it once)."""
    values = [step.value for step in scale if step.value is not None]
    rating: dict[str, Any] = {"@type": "Rating", "alternateName": row.rating}
    if values:
        rating["bestRating"] = max(values)
        rating["worstRating"] = min(values)
    if row.rating_value is not None:
        rating["ratingValue"] = row.rating_value
    if row.rationale:
        rating["ratingExplanation"] = row.rationale
    claim: dict[str, Any] = {"@type": "Claim"}
    if row.claimant and row.claimant != UNKNOWN_CLAIMANT:
        claim["author"] = {"@type": "Person", "name": row.claimant}
    url = row.appearance_url if is_web_url(row.appearance_url) else None
    if url or row.appearance_title:
        work: dict[str, Any] = {"@type": "CreativeWork"}
        if url:
            work["url"] = url
        if row.appearance_title:
            work["name"] = row.appearance_title
        claim["appearance"] = [work]
    out: dict[str, Any] = {
        "@type": "ClaimReview",
        "identifier": row.claim_id,
        "claimReviewed": row.text,
        "datePublished": row.verdict_at[:10],
        "reviewRating": rating,
        "itemReviewed": claim,
    }
    if organisation:
        out["author"] = {"@type": "Organization", "name": organisation}
    if url_template:
        out["url"] = url_template.replace("{claim}", row.claim_id)
    return out


def document(
    rows: Sequence[ReviewRow],
    scale: Sequence[ScaleStep],
    *,
    organisation: str | None,
    url_template: str | None = None,
) -> dict[str, Any]:
    """A JSON-LD document: one ``@context`` and a ``@graph`` of ClaimReview objects."""
    return {
        "@context": CONTEXT,
        "@graph": [
            review(row, scale, organisation=organisation, url_template=url_template) for row in rows
        ],
    }


__all__ = ["CONTEXT", "document", "review"]
