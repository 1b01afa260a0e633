"""Publication consent (P9): testimonials, case studies and portfolio items are published only
after the person reviewed and approved them, and are withdrawn on request.

Staff draft (:func:`draft_publication`); the person gets a signed review link by email and
approves or rejects (:func:`approve`, :func:`reject`); an approval's confirmation carries a
withdraw link (:func:`withdraw_by_link`); staff withdraw on request (:func:`withdraw`);
:func:`published` lists what may be shown. See docs/publications.md.
"""

from .content import (
    REVIEW_FOR,
    REVIEW_PATH,
    REVIEW_PURPOSE,
    WITHDRAW_FOR,
    WITHDRAW_PATH,
    WITHDRAW_PURPOSE,
    PublicationText,
)
from .decisions import (
    Decision,
    approve,
    reject,
    reviewed_item,
    withdraw,
    withdraw_by_link,
    withdrawable_item,
)
from .drafts import draft_publication, revise_draft
from .errors import AlreadyDecided, PublicationError, StaleReview, UnknownPublication
from .models import Publication, PublicationKind, PublicationStatus
from .reading import PublishedItem, published

__all__ = [
    "REVIEW_FOR",
    "REVIEW_PATH",
    "REVIEW_PURPOSE",
    "WITHDRAW_FOR",
    "WITHDRAW_PATH",
    "WITHDRAW_PURPOSE",
    "AlreadyDecided",
    "Decision",
    "Publication",
    "PublicationError",
    "PublicationKind",
    "PublicationStatus",
    "PublicationText",
    "PublishedItem",
    "StaleReview",
    "UnknownPublication",
    "approve",
    "draft_publication",
    "published",
    "reject",
    "reviewed_item",
    "revise_draft",
    "withdraw",
    "withdraw_by_link",
    "withdrawable_item",
]
