"""Provider metadata read by Airflow's ProvidersManager through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

_STRING = {"type": ["string", "null"]}


def _field(
    label: str,
    description: str,
    *,
    secret: bool = False,
    enum: dict[str, str] | None = None,
    examples: list[str] | None = None,
) -> dict:
    """One extra field of the connection form, as Airflow 3.3's UI renders it (a JSON-schema param).

    The UI renders no placeholder for extra fields (``ui-field-behaviour`` placeholders reach the
    standard fields only), so the descriptions carry the examples. ``enum`` maps each value to its
    label; null is left out of it, so nothing is preselected and an empty choice saves null (the
    hook's default) instead of the string "null". ``examples`` become the input's suggestions.
    """
    schema: dict[str, Any] = dict(_STRING)
    if secret:
        schema["format"] = "password"
    if enum:
        schema["enum"] = list(enum)
        schema["values_display"] = enum
    if examples:
        schema["examples"] = examples
    return {"label": label, "description": description, "schema": schema}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-eloqua",
        "name": "Oracle Eloqua",
        "description": "Load contacts, accounts, custom objects, events and activities into "
        "Oracle Eloqua with Bulk API 2.0 imports, and export them (and activities) to files.",
        "integrations": [
            {
                "integration-name": "Oracle Eloqua",
                "external-doc-url": "https://docs.oracle.com/en/cloud/saas/marketing/eloqua-develop/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Oracle Eloqua", "python-modules": ["airflow_provider_eloqua.hooks.eloqua"]}],
        "operators": [
            {
                "integration-name": "Oracle Eloqua",
                "python-modules": [
                    "airflow_provider_eloqua.operators.eloqua",
                    "airflow_provider_eloqua.operators.export",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Oracle Eloqua", "python-modules": ["airflow_provider_eloqua.sensors.eloqua"]}
        ],
        "triggers": [
            {"integration-name": "Oracle Eloqua", "python-modules": ["airflow_provider_eloqua.triggers.eloqua"]}
        ],
        "transfers": [
            {
                "source-integration-name": "Common SQL",
                "target-integration-name": "Oracle Eloqua",
                "python-module": "airflow_provider_eloqua.transfers.sql_to_eloqua",
            }
        ],
        # The task's sync and definition in Eloqua (see airflow_provider_eloqua/links.py).
        "extra-links": [
            "airflow_provider_eloqua.links.EloquaSyncLink",
            "airflow_provider_eloqua.links.EloquaDefinitionLink",
        ],
        # eloqua://<site>/<entity>: the Assets import tasks update (see airflow_provider_eloqua/assets.py).
        "asset-uris": [
            {
                "schemes": ["eloqua"],
                "handler": "airflow_provider_eloqua.assets.sanitize_uri",
                "factory": "airflow_provider_eloqua.assets.create_asset",
                "to_openlineage_converter": "airflow_provider_eloqua.assets.convert_asset_to_openlineage",
            }
        ],
        "connection-types": [
            {
                "connection-type": "eloqua",
                "hook-class-name": "airflow_provider_eloqua.hooks.eloqua.EloquaHook",
                "hook-name": "Oracle Eloqua",
                "conn-fields": {
                    "site": _field("Site name", "Eloqua site (company) name, as in Site\\User; e.g. AcmeCorp."),
                    "auth_type": _field(
                        "Auth type",
                        "Empty: basic (Site\\User + password). oauth2 needs the client id and secret below.",
                        enum={"basic": "basic (Site\\User + password)", "oauth2": "oauth2 (app client id and secret)"},
                    ),
                    "client_id": _field("OAuth client id", "App client id (oauth2 only)."),
                    "client_secret": _field("OAuth client secret", "App client secret (oauth2 only).", secret=True),
                    "refresh_token": _field(
                        "OAuth refresh token",
                        "Seeds the refresh-token grant; rotates on every use (see README).",
                        secret=True,
                    ),
                    "token_store_variable": _field(
                        "Refresh-token Variable",
                        "Airflow Variable that keeps the newest OAuth refresh token (oauth2; it rotates on use).",
                    ),
                    "redirect_uri": _field(
                        "OAuth redirect URI",
                        "The app's registered redirect URI, sent with the refresh-token grant (oauth2; optional).",
                    ),
                    "login_url": _field(
                        "Login URL",
                        "Empty: https://login.eloqua.com (token and /id discovery). For the bundled emulator, "
                        "its root URL, e.g. http://127.0.0.1:8090.",
                        examples=["https://login.eloqua.com"],
                    ),
                    "timeout": _field("Timeout (s)", "Per-request timeout in seconds; empty: 60."),
                    "proxy_url": _field(
                        "Proxy URL",
                        "Empty: connect directly. An HTTP(S) forward proxy for every request (token, /id, "
                        "Bulk API), e.g. http://proxy.corp:3128 or http://user:password@proxy.corp:3128; "
                        "https goes through it with CONNECT and TLS is still verified end to end. "
                        "HTTPS_PROXY and the other environment variables are not read.",
                        secret=True,
                    ),
                    "verify_tls": {
                        "label": "Verify TLS",
                        "description": "Default true; false only for a TLS-intercepting proxy in a lab. To trust "
                        "a corporate CA, set the path of its PEM bundle in the extra JSON instead.",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                },
                "ui-field-behaviour": {
                    # Port stays on the form although the hook ignores it: Airflow 3.3's Test button
                    # sends an empty port as 0, and the API refuses to test a stored connection whose
                    # port (NULL) differs ("Bad Request"). A stored 443 tests fine. The form takes no
                    # default for a standard field (only hidden, label and placeholder), so the label
                    # and placeholder ask for 443. See the README.
                    "hidden-fields": ["schema"],
                    "relabeling": {
                        "login": "User",
                        "password": "Password",
                        "host": "Bulk API base URL (optional)",
                        "port": "Port: 443 (Test Connection needs it)",
                    },
                    # Standard fields only: Airflow 3.3's UI shows no placeholder on extra fields.
                    "placeholders": {
                        "login": "API.User (or Site\\API.User)",
                        "host": "leave empty to discover the pod; e.g. https://secure.p03.eloqua.com",
                        "port": "443 (the hook ignores it; left empty, Test Connection answers Bad Request)",
                    },
                },
            }
        ],
    }
