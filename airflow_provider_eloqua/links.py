"""Operator extra links: the task's sync and definition in Eloqua, as buttons on the task in Airflow's UI.

Eloqua's UI has no page for a Bulk API definition or sync (see docs/eloqua-behaviour.md, "Links to
Eloqua"), so each link opens the resource's Bulk API URI on the site's pod, e.g.
``https://secure.p03.eloqua.com/api/bulk/2.0/syncs/66100``: Eloqua answers it with the sync's JSON
to a signed-in API user.

Links follow Airflow 3's pattern: the task records the URLs in its XCom ``eloqua_links`` while it
runs (:func:`persist_links`); when the try ends, whatever its state (success, failed, up for retry,
deferred), Airflow asks each link for its URL (read back from that XCom) and keeps it for the UI. So
each URI is recorded as soon as it is known (:class:`TaskLinks`, which the engines are given): a
try that fails or defers later still shows it. An operator attaches them with
``operator_extra_links = EXTRA_LINKS``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from airflow_provider_eloqua.exceptions import EloquaError

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

log = logging.getLogger(__name__)

#: The XCom holding ``{"sync": url, "definition": url}`` for the links of the task.
LINKS_XCOM_KEY = "eloqua_links"


class _EloquaLink(BaseOperatorLink):
    """A link whose URL the task recorded under ``kind`` in its ``eloqua_links`` XCom ("" when none)."""

    name: ClassVar[str]
    kind: ClassVar[str]

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        links = XCom.get_value(ti_key=ti_key, key=LINKS_XCOM_KEY)
        return str(links.get(self.kind) or "") if isinstance(links, dict) else ""


class EloquaSyncLink(_EloquaLink):
    """The sync the task started or waited for."""

    name = "Eloqua sync"
    kind = "sync"


class EloquaDefinitionLink(_EloquaLink):
    """The definition the task created or used."""

    name = "Eloqua definition"
    kind = "definition"


#: What an operator sets as ``operator_extra_links``.
EXTRA_LINKS = (EloquaSyncLink(), EloquaDefinitionLink())


def persist_links(
    context: Context, hook: EloquaHook, *, sync_uri: str | None = None, definition_uri: str | None = None
) -> None:
    """Record the URLs of the task's links (``/syncs/66100``, ``/contacts/imports/30`` on the site's
    Bulk API base). Each call replaces the last, so pass everything known. Best effort: a base URL
    that cannot be discovered leaves the links empty and the task unharmed.

    :param context: the task's context.
    :param hook: the task's hook (its base URL is known once it has talked to Eloqua).
    :param sync_uri: the task's sync, if it has one.
    :param definition_uri: the task's definition, if it has one.
    """
    uris = {"sync": sync_uri, "definition": definition_uri}
    if not any(uris.values()):
        return
    try:
        base = hook.base_url
    except EloquaError as exc:
        log.warning("No links to Eloqua for this task: the Bulk API base URL is unknown (%s)", exc)
        return
    links: dict[str, Any] = {kind: base + uri for kind, uri in uris.items() if uri}
    context["ti"].xcom_push(key=LINKS_XCOM_KEY, value=links)


class Links:
    """The URIs of a task's links as they become known: its sync, and its definition (``template``,
    the definition the task was given, stands for the copies made of it). This class only keeps
    them (what an engine is given by default); :class:`TaskLinks` records them for the task.

    :param template: the definition the task was given, if any.
    """

    def __init__(self, template: str | None = None) -> None:
        self._template = template or None
        #: ``{"sync": uri, "definition": uri}`` as known so far (None: not yet).
        self.uris: dict[str, str | None] = {"sync": None, "definition": None}

    def sync(self, uri: str | None) -> None:
        """The sync the task started, reattached to, or waits for."""
        self._note("sync", uri)

    def template_read(self) -> None:
        """The template the task was given (if any) has been read: link it."""
        self._note("definition", self._template)

    def definition(self, uri: str | None) -> None:
        """The definition the task created, found again or synced (the template, when it was given one)."""
        self._note("definition", self._template or uri)

    def _note(self, kind: str, uri: str | None) -> None:
        if uri and self.uris[kind] != uri:
            self.uris[kind] = uri
            self.changed()

    def changed(self) -> None:
        """A URI became known or changed."""


class TaskLinks(Links):
    """:class:`Links` recorded in the task's XCom (:func:`persist_links`) each time one becomes known.

    :param context: the task's context.
    :param hook: the task's hook.
    :param template: the definition the task was given, if any.
    """

    def __init__(self, context: Context, hook: EloquaHook, template: str | None = None) -> None:
        super().__init__(template)
        self._context, self._hook = context, hook

    def changed(self) -> None:
        persist_links(self._context, self._hook, sync_uri=self.uris["sync"], definition_uri=self.uris["definition"])
