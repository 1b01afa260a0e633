"""Published policy versions: each version of the declaration, as written and as rendered.

Owns the ``policy_versions`` table.
"""

from .models import PolicyVersion
from .versions import (
    VersionConflict,
    VersionInHistory,
    current_version,
    get_version,
    list_versions,
    locate_version,
    publish,
    record_version,
)

__all__ = [
    "PolicyVersion",
    "VersionConflict",
    "VersionInHistory",
    "current_version",
    "get_version",
    "list_versions",
    "locate_version",
    "publish",
    "record_version",
]
