"""The one exception the emulator's handlers raise to answer with an Eloqua-shaped error.

Eloqua's error bodies are not uniform (a bare JSON string for 401, ``{"failures": [...]}`` for
validation, ``{"error", "error_description"}`` on the token endpoint), so the body is carried as-is
rather than wrapped in FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

from typing import Any

NOT_AUTHENTICATED = "Not authenticated."


class ApiError(Exception):
    """An HTTP error answer: status, JSON body (``None`` for an empty body) and extra headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {body!r}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def failure(field: str, value: Any, constraint: str) -> dict[str, Any]:
    """One item of a 400 answer's ``failures`` list, as Eloqua spells it."""
    return {"field": field, "value": value, "constraint": constraint}


def validation_error(failures: list[dict[str, Any]]) -> ApiError:
    return ApiError(400, {"failures": failures})


def unauthorized() -> ApiError:
    return ApiError(401, NOT_AUTHENTICATED)


def not_found(what: str) -> ApiError:
    return ApiError(404, {"failures": [failure("uri", what, "Must reference an existing resource.")]})
