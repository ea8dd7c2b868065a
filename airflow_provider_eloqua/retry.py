"""The one retry policy: which failures are transient, and how long to wait before trying again.

The hook (requests, tenacity ``Retrying``) and the trigger (httpx, tenacity ``AsyncRetrying``)
both build their retry loops from :class:`RetryPolicy`, so Eloqua's rules are written once:
retry 429, 502, 503, 504 and connection errors with exponential backoff and full jitter; honour
``Retry-After`` (also on a 500 that carries it); never retry another 4xx. A caller with a deadline
(a wait for a sync) passes it: no retry sleeps past it.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from airflow_provider_eloqua.exceptions import EloquaApiError, EloquaInputError, EloquaProxyError, EloquaTransportError

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_retryable_status(status: int, retry_after: float | None) -> bool:
    return status in RETRYABLE_STATUSES or (status == 500 and retry_after is not None)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry a transient failure.

    ``max_attempts`` counts the first try. ``max_wait`` caps one backoff sleep and also caps a
    ``Retry-After`` the server asks for, so no single wait is unbounded.
    """

    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"retry max_attempts must be >= 1; got {self.max_attempts}")
        if self.initial_wait < 0 or self.max_wait < 0:
            raise ValueError("retry waits must be >= 0")

    @classmethod
    def from_setting(cls, value: RetryPolicy | dict[str, Any] | None, setting: str = "retry_policy") -> RetryPolicy:
        """The policy an operator, sensor, hook or trigger argument describes (the default when None).

        A dict takes the field names; anything else fails here, naming ``setting``, when the task
        is defined: before anything is sent to Eloqua.
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise EloquaInputError(f"{setting} must be a dict of {sorted(cls.__dataclass_fields__)}; got {value!r}")
        unknown = sorted(set(value) - set(cls.__dataclass_fields__))
        if unknown:
            raise EloquaInputError(
                f"{setting} has unknown key(s) {unknown}; it takes {sorted(cls.__dataclass_fields__)}"
            )
        try:
            return cls(**value)
        except (TypeError, ValueError) as exc:
            raise EloquaInputError(f"{setting}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given (1-based) failed attempt."""
        ceiling = min(self.max_wait, self.initial_wait * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)

    def wait_after(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) ended with ``exc``: the
        ``Retry-After`` it carries (capped at ``max_wait``), else the backoff."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_wait)
        return self.backoff(attempt)

    def wait_for(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self.wait_after(exc, retry_state.attempt_number)

    def _tenacity_kwargs(self, idempotent: bool, deadline: float | None) -> dict[str, Any]:
        stop: stop_base = stop_after_attempt(self.max_attempts)
        if deadline is not None:
            stop = stop | _StopBefore(deadline)
        return {
            "stop": stop,
            "wait": self.wait_for,
            "retry": retry_if_exception(is_transient if idempotent else is_safe_to_resend),
            "reraise": True,
        }

    def retrying(self, idempotent: bool = True, deadline: float | None = None) -> Retrying:
        """The retry loop of one request.

        :param idempotent: whether the request may be resent after any transient failure.
        :param deadline: wall-clock end (seconds since the epoch) of the caller's wait: a retry whose
            sleep would end after it is not made, and the last failure is raised instead.
        """
        return Retrying(**self._tenacity_kwargs(idempotent, deadline))

    def async_retrying(self, idempotent: bool = True, deadline: float | None = None) -> AsyncRetrying:
        """:meth:`retrying` for the event loop."""
        return AsyncRetrying(**self._tenacity_kwargs(idempotent, deadline))


class _StopBefore(stop_base):
    """Stop when the coming sleep would end past ``deadline`` (seconds since the epoch)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.time() + retry_state.upcoming_sleep > self.deadline


def is_transient(exc: BaseException) -> bool:
    """A failure worth another try of an idempotent request (GET, PUT, DELETE)."""
    if isinstance(exc, EloquaApiError):
        return is_retryable_status(exc.status, exc.retry_after)
    return isinstance(exc, EloquaTransportError)


def is_safe_to_resend(exc: BaseException) -> bool:
    """A failure after which a non-idempotent POST (staging rows, starting a sync) may be resent.

    Only when Eloqua certainly did nothing: it refused with 429, the connection was never made, or
    the connection's proxy refused to open the tunnel to Eloqua (a 407 there is not retried).
    A 5xx, a read timeout or a connection dropped mid-request may have staged the rows already;
    resending could stage them twice, so the caller clears staging and starts over instead.
    """
    if isinstance(exc, EloquaProxyError):  # the proxy refused the tunnel: nothing reached Eloqua
        return is_retryable_status(exc.status, exc.retry_after)
    if isinstance(exc, EloquaApiError):
        return exc.status == 429
    return isinstance(exc, EloquaTransportError) and exc.connect_phase


def may_have_taken_effect(exc: BaseException) -> bool:
    """A failed non-idempotent POST that Eloqua may have carried out all the same.

    A 5xx, a read timeout or a connection dropped after the request was sent: the rows may be
    staged, the sync may exist. The caller must find out or undo, never simply resend.
    """
    if isinstance(exc, EloquaProxyError):
        return False
    if isinstance(exc, EloquaTransportError):
        return not exc.connect_phase
    return isinstance(exc, EloquaApiError) and exc.status >= 500
