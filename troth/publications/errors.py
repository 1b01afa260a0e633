"""Why a publication operation cannot be done; messages hold no personal data."""

from __future__ import annotations


class PublicationError(Exception):
    """Base of the errors below."""


class UnknownPublication(PublicationError):
    def __init__(self, publication_id: str) -> None:
        super().__init__(f"no publication with id {publication_id!r}")
        self.publication_id = publication_id


class StaleReview(PublicationError):
    """The draft changed after this review link was sent: the new draft has its own link."""

    def __init__(self, publication_id: str) -> None:
        super().__init__(
            f"publication {publication_id!r} was changed after this link was sent; "
            "the link sent with the new draft reviews it"
        )
        self.publication_id = publication_id


class AlreadyDecided(PublicationError):
    """The person already made the other decision on this draft."""

    def __init__(self, publication_id: str, status: str) -> None:
        super().__init__(f"publication {publication_id!r} is already {status}")
        self.publication_id = publication_id
        self.status = status
