"""The Eloqua connection form of Airflow's UI in a real browser, against the real deployment.

Debian's Chromium (installed when missing, like PostgreSQL) driven headless by Playwright's Python
package through ``executable_path``: Playwright's own browser download is not reachable from CI.
The screenshots stay in the deployment's artifacts folder (printed by the fixture).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_eloqua.emulator import DEFAULT_PASSWORD, DEFAULT_SITE, DEFAULT_USER
from tests.deployment.harness import Deployment
from tests.deployment.postgres import apt_install

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(1800)]

CHROMIUM = Path("/usr/bin/chromium")
#: Flags for a headless Chromium on a machine with no network but loopback (and, in CI, as root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONN_ID = "eloqua_from_the_form"


def chromium() -> str:
    if not CHROMIUM.exists():
        apt_install("chromium", "fonts-liberation")
    return str(CHROMIUM)


def test_connection_form_in_chromium(deployment: Deployment):
    from playwright.sync_api import expect, sync_playwright

    shots = deployment.artifacts
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 2000})
            context.set_default_timeout(60_000)
            # Signed in as the UI's own login would: the SimpleAuthManager's JWT in its cookie.
            context.add_cookies([{"name": "_token", "value": deployment.token, "url": deployment.api_url}])
            page = context.new_page()
            page.goto(f"{deployment.api_url}/connections")
            page.get_by_role("button", name="Add Connection").click()
            dialog = page.get_by_role("dialog")
            dialog.locator("input[name='connection_id']").fill(CONN_ID)
            dialog.get_by_text("Select Connection Type").click()
            page.keyboard.type("Oracle Eloqua")
            page.keyboard.press("Enter")

            # Standard fields: relabelled, with placeholders; Port and Schema hidden.
            expect(dialog.get_by_text("Bulk API base URL (optional)")).to_be_visible()
            expect(dialog.locator("input[name='login']")).to_have_attribute("placeholder", "API.User (or Site\\API.User)")
            expect(dialog.locator("input[name='host']")).to_be_visible()
            assert dialog.locator("input[name='port']").count() == 0
            assert dialog.locator("input[name='schema']").count() == 0
            # Extra fields: labels, examples in the descriptions, auth type not preselected.
            for label in ("Site name", "Auth type", "OAuth client id", "Login URL", "Timeout (s)", "Verify TLS"):
                expect(dialog.get_by_text(label, exact=True).first).to_be_visible()
            expect(dialog.get_by_text("e.g. AcmeCorp", exact=False)).to_be_visible()
            auth = dialog.locator("#element_auth_type")
            expect(auth).not_to_contain_text("null")
            auth.click()
            options = page.get_by_role("option").all_inner_texts()
            assert [o.split(" ")[0] for o in options] == ["basic", "oauth2"], options
            page.keyboard.press("Escape")

            dialog.locator("input[name='login']").fill(DEFAULT_USER)
            dialog.locator("input[name='password']").fill(DEFAULT_PASSWORD)
            dialog.locator("#element_site").fill(DEFAULT_SITE)
            dialog.locator("#element_login_url").fill(deployment.emulator_url)
            page.screenshot(path=str(shots / "connection-form.png"), full_page=True)
            dialog.get_by_role("button", name="Save").click()
            expect(dialog).to_be_hidden()

            saved = deployment.api("GET", f"/connections/{CONN_ID}")
            assert saved["conn_type"] == "eloqua" and saved["login"] == DEFAULT_USER
            extra = json.loads(saved["extra"])
            assert extra["site"] == DEFAULT_SITE and extra["login_url"] == deployment.emulator_url
            assert extra.get("auth_type") is None  # an untouched dropdown saves no string "null"

            # Test Connection from the list, as a user does.
            page.get_by_role("row").filter(has_text=CONN_ID).get_by_role("button", name="Test Connection").click()
            toast = page.get_by_text("Test Connection Successful")
            page.wait_for_timeout(0)
            page.screenshot(path=str(shots / "connection-test.png"), full_page=True)
            expect(toast).to_be_visible()
        finally:
            browser.close()
    print(f"\nscreenshots: {sorted(str(p) for p in shots.glob('*.png'))}")
