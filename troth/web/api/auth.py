"""Who is calling: the API key in ``Authorization: Bearer`` (or ``X-API-Key``) and its scopes.

A route names what it needs with a dependency::

    @router.post("/consents")
    def record(..., key: AuthenticatedKey = Depends(require_scope("consent:write"))): ...

No key, or one that is malformed, unknown or revoked, is answered 401 with ``WWW-Authenticate:
Bearer``; a valid key without the scope, 403 naming the scope. The dependency returns the key, so
that the route can name it as the actor of its audit event (``key.actor``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool

from troth.apikeys import SCOPES, AuthenticatedKey, KeyCache, NotCached

# The name under which the dependency carries what it requires: a scope, or "" for any key.
_REQUIRES = "troth_requires"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="troth_<id>_<secret>",
    description="An API key from `troth apikey create`: `Authorization: Bearer troth_…`",
)
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKeyHeader",
    description="The same API key in an `X-API-Key` header, for clients that cannot send Bearer",
)

KeyDependency = Callable[..., Awaitable[AuthenticatedKey]]


def key_cache(request: Request) -> KeyCache:
    cache: KeyCache = request.app.state.key_cache
    return cache


def require_scope(scope: str) -> KeyDependency:
    """A dependency: the caller's key, which must hold ``scope`` (401 or 403 otherwise)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; the scopes are {', '.join(SCOPES)}")
    return _key_dependency(scope)


def require_key() -> KeyDependency:
    """A dependency: the caller's key, whatever its scopes (401 without a valid one)."""
    return _key_dependency("")


def _key_dependency(scope: str) -> KeyDependency:
    async def caller(request: Request) -> AuthenticatedKey:
        # The headers are read here rather than through FastAPI's security classes: their
        # sub-dependencies cost more than the rest of a warm decision. The OpenAPI document
        # still declares both schemes (see reference.py).
        presented = _presented_key(request)
        if not presented:
            raise HTTPException(
                401,
                "An API key is required: send it as 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        cache = key_cache(request)
        cached = cache.from_memory(presented)
        if isinstance(cached, NotCached):
            found = await run_in_threadpool(cache.authenticate, presented)
        else:
            found = cached
        if found is None:
            raise HTTPException(
                401,
                "The API key is not valid: it is malformed, unknown or revoked",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if scope and not found.allows(scope):
            raise HTTPException(
                403,
                f"This API key lacks the scope '{scope}', which this endpoint requires",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return found

    setattr(caller, _REQUIRES, scope)
    caller.__name__ = f"require_scope_{scope}" if scope else "require_key"
    return caller


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return request.headers.get(api_key_header.model.name) or None


def route_requirements(route: APIRoute) -> list[str] | None:
    """What a route asks of its caller: None (no key), [] (any key), or the scopes it needs."""
    found = [getattr(call, _REQUIRES) for call in _calls(route.dependant)]
    if not found:
        return None
    return sorted({scope for scope in found if scope})


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        if hasattr(dependency.call, _REQUIRES):
            yield dependency.call
        yield from _calls(dependency)
