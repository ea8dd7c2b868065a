"""The provider's exception types. Their text never carries credentials or tokens.

Failures a retry of the task cannot change are also :class:`AirflowFailException`, so Airflow
fails the task at once instead of using its retries: credentials refused (:class:`EloquaAuthError`),
bad input (:class:`EloquaInputError`), a definition Eloqua refuses (:class:`EloquaDefinitionRefused`),
a row count that does not match (:class:`EloquaRowCountError`), a sync, or an export sync's
data, gone from Eloqua (:class:`EloquaSyncGone`) and an ended sync whose outcome the task refuses
(:class:`EloquaOutcomeRefused`). Everything else (timeouts, transport errors, 5xx, a sync that ended
in ``error``) keeps Airflow's retries.

:func:`failure_to_json` and :func:`failure_from_json` carry a failure across processes (the
trigger's event) as plain JSON, so that the task raises the very exception the wait raised.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

_BODY_LIMIT = 2000


class EloquaError(AirflowException):
    """Base class of every error this provider raises on purpose."""


class EloquaApiError(EloquaError):
    """A non-2xx answer from Eloqua (or the emulator).

    Carries what a user needs to act: the method and path called, the status, Eloqua's
    ``failures`` list (validation errors name the field, value and constraint) and the body,
    cut to a readable length. Request headers are never kept, so no credential can leak here.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        *,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.hint = hint
        self.failures: list[dict[str, Any]] = []
        if isinstance(body, dict) and isinstance(body.get("failures"), list):
            self.failures = [f for f in body["failures"] if isinstance(f, dict)]
        super().__init__(self._describe(hint))

    def _describe(self, hint: str | None) -> str:
        text = f"Eloqua answered {self.status} to {self.method} {self.path}"
        if self.failures:
            parts = [
                "{field}: {constraint} (value {value!r})".format(
                    field=f.get("field", "?"), constraint=f.get("constraint", "?"), value=f.get("value")
                )
                for f in self.failures
            ]
            text += "; failures: " + "; ".join(parts)
        elif self.body not in (None, "", b""):
            body = self.body if isinstance(self.body, str) else repr(self.body)
            text += f"; body: {body[:_BODY_LIMIT]}"
        if hint:  # a body such as "Not authenticated." brings its own full stop
            text += f" {hint}" if text.endswith(".") else f". {hint}"
        return text


class EloquaAuthError(EloquaApiError, AirflowFailException):
    """401/403, or a token endpoint refusal: credentials wrong, rotated, blocked or expired.
    Not retried by Airflow: a retry sends the same credentials."""


class EloquaDefinitionRefused(EloquaApiError, AirflowFailException):
    """Eloqua refused to create a definition (a 4xx with its ``failures``). Not retried by Airflow:
    a retry sends the same definition."""

    @classmethod
    def of(cls, exc: EloquaApiError) -> EloquaDefinitionRefused:
        return cls(
            exc.method,
            exc.path,
            exc.status,
            exc.body,
            retry_after=exc.retry_after,
            hint="A retry would send the same definition, so the task is not retried: fix what Eloqua names "
            "(the definition arguments, or the template the load copies)",
        )


class EloquaProxyError(EloquaApiError):
    """The connection's proxy (extra ``proxy_url``) refused the request, e.g. 407: its credentials are
    missing or wrong. Nothing reached Eloqua. The text never carries the proxy URL or credentials."""

    def _describe(self, hint: str | None) -> str:
        text = f"The proxy (connection extra 'proxy_url') answered {self.status} to {self.method} {self.path}"
        return f"{text}. {hint}" if hint else text


class EloquaTransportError(EloquaError):
    """The connection failed or timed out before Eloqua answered (after retries)."""

    def __init__(self, method: str, path: str, reason: str, *, connect_phase: bool = False) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        #: True when the request never reached Eloqua (refused, DNS, connect timeout): safe to resend.
        self.connect_phase = connect_phase
        super().__init__(f"{method} {path} failed before Eloqua answered: {reason}")


class EloquaInputError(EloquaError, AirflowFailException, ValueError):
    """Bad input caught before anything was sent to Eloqua; the text names the field, row or setting.
    Not retried by Airflow: a retry reads the same input."""


class EloquaSyncError(EloquaError):
    """A sync ended in ``error``/``errored`` (or in ``warning`` with ``on_warning="fail"``)."""


class EloquaRowCountError(EloquaSyncError, AirflowFailException):
    """A sync did not process exactly the rows the load staged for it (or its log has no count).
    Not retried by Airflow: a retry reattaches to the same sync and finds the same count."""


class EloquaOutcomeRefused(EloquaSyncError, AirflowFailException):
    """The sync ended, and the task's settings refuse what it did: a ``warning`` with ``on_warning="fail"``,
    or more rejects than allowed (:class:`EloquaRejectedRowsError`). Not retried by Airflow: a retry
    cannot change what Eloqua did (docs/retries-and-clears.md says what a Clear does)."""


class EloquaRejectedRowsError(EloquaOutcomeRefused):
    """Eloqua rejected more rows than the task's ``max_rejected_rows`` or ``max_rejected_ratio`` allows."""


class EloquaSyncGone(EloquaError, AirflowFailException):
    """A sync an earlier try started is gone from Eloqua (404), so whether it loaded its rows is
    unknown; or the data of an export sync to download is gone (expired, deleted). Not retried (a
    retry would find it gone again); the try after a Clear loads again."""


class EloquaSyncTimeout(EloquaError):
    """The sync had not ended at the wall-clock deadline (the operator's or sensor's ``timeout``).

    Deliberately not an ``AirflowSensorTimeout``: a retried import task reattaches to the running
    sync, so Airflow's retries should apply. The sensor turns it into ``AirflowSensorTimeout``,
    as every Airflow sensor does at its deadline.
    """


#: The classes a failure is rebuilt as from its JSON (anything else is rebuilt as its nearest one).
_API_ERRORS = {
    cls.__name__: cls for cls in (EloquaApiError, EloquaAuthError, EloquaProxyError, EloquaDefinitionRefused)
}
_MESSAGE_ERRORS = {cls.__name__: cls for cls in (EloquaSyncGone, EloquaInputError, EloquaError)}


def _plain_body(body: Any) -> Any:
    """An answer's body as plain JSON: parsed JSON as it is, anything else as the text the message shows."""
    if body is None or isinstance(body, str | int | float | bool | dict | list):
        return body
    return repr(body)[:_BODY_LIMIT]


def failure_to_json(exc: BaseException) -> dict[str, Any]:
    """``exc`` as plain JSON (its class and what rebuilds it), for an event that crosses processes.

    An answer of Eloqua keeps its class, method, path, status, body and hint; a transport failure its
    reason; any other failure its class (the nearest of the provider's) and its text. Like the
    exceptions themselves, it never carries a credential.
    """
    if isinstance(exc, EloquaApiError):
        name = type(exc).__name__
        return {
            "type": name if name in _API_ERRORS else EloquaApiError.__name__,
            "method": exc.method,
            "path": exc.path,
            "status": exc.status,
            "body": _plain_body(exc.body),
            "hint": exc.hint,
            "retry_after": exc.retry_after,
        }
    if isinstance(exc, EloquaTransportError):
        return {
            "type": EloquaTransportError.__name__,
            "method": exc.method,
            "path": exc.path,
            "reason": exc.reason,
            "connect_phase": exc.connect_phase,
        }
    if not isinstance(exc, EloquaError):
        return {"type": EloquaError.__name__}  # rebuilt with the event's message, which names the wait
    name = next(name for name, cls in _MESSAGE_ERRORS.items() if isinstance(exc, cls))
    return {"type": name, "message": str(exc)}


def failure_from_json(failure: Any, message: str) -> EloquaError:
    """The exception :func:`failure_to_json` described; ``EloquaError(message)`` when it is not one."""
    if not isinstance(failure, dict):
        return EloquaError(message)
    try:
        kind = failure.get("type")
        if kind in _API_ERRORS:
            return _API_ERRORS[kind](
                failure["method"],
                failure["path"],
                int(failure["status"]),
                failure.get("body"),
                retry_after=failure.get("retry_after"),
                hint=failure.get("hint"),
            )
        if kind == EloquaTransportError.__name__:
            return EloquaTransportError(
                failure["method"], failure["path"], failure["reason"], connect_phase=bool(failure.get("connect_phase"))
            )
        if kind in _MESSAGE_ERRORS:
            return _MESSAGE_ERRORS[kind](failure.get("message") or message)
    except (KeyError, TypeError, ValueError):
        pass
    return EloquaError(message)
