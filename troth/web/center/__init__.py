"""The privacy center (``/center``): pages for data subjects, server-rendered, no script.

See docs/center.md.
"""

from fastapi import APIRouter

from . import pages, requests, unsubscribe

router = APIRouter()
router.include_router(pages.router)
router.include_router(requests.router)
router.include_router(unsubscribe.router)

__all__ = ["router"]
