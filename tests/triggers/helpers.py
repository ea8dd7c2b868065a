"""What the trigger and shared-session tests share: the connection id they point at the emulator, and quick retries."""

from __future__ import annotations

from airflow_provider_eloqua.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

CONN_ID = "eloqua_trigger_test"
FAST = {"max_attempts": 3, "initial_wait": 0.01, "max_wait": 0.5}
EMAIL = "{{Contact.Field(C_EmailAddress)}}"
OAUTH_EXTRA = {"auth_type": "oauth2", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
