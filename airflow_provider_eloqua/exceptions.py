"""The provider's exception types. Their text never carries credentials or tokens.

Failures a retry of the task cannot change are also :class:`AirflowFailException`, so Airflow
fails the task at once instead of using its retries: credentials refused (:class:`EloquaAuthError`),
bad input (:class:`EloquaInputError`), a definition Eloqua refuses (:class:`EloquaDefinitionRefused`),
a row count that does not match (:class:`EloquaRowCountError`) and a sync, or an export sync's
data, gone from Eloqua (:class:`EloquaSyncGone`). Everything else (timeouts, transport errors, 5xx,
a sync that ended in ``error``) keeps Airflow's retries.
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


class EloquaRejectedRowsError(EloquaSyncError):
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
