"""The Eloqua connection form of Airflow's UI in a real browser, against the real deployment.

Debian's Chromium (installed when missing, like PostgreSQL) driven headless by Playwright's Python
package through ``executable_path``: Playwright's own browser download is not reachable from CI.
The screenshots stay in the deployment's artifacts folder (printed by the fixture).
"""

from __future__ import annotations

import json
import re
import socket
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
    with deployment.phase("form"), sync_playwright() as playwright:
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
            dialog.get_by_role("combobox").first.click(force=True)  # the connection type
            page.keyboard.type("Oracle Eloqua")
            page.keyboard.press("Enter")

            # Standard fields: relabelled, with placeholders; Schema hidden, Port kept for the Test button.
            for label in ("Bulk API base URL (optional)", "User", "Password", "Port: 443 (Test Connection needs it)"):
                expect(dialog.get_by_text(label, exact=True)).to_be_visible()
            login = dialog.locator("input[name='login']")
            expect(login).to_have_attribute("placeholder", "API.User (or Site\\API.User)")
            expect(dialog.locator("input[name='port']")).to_have_attribute("placeholder", re.compile("^443 "))
            assert dialog.locator("input[name='schema']").count() == 0
            login.fill(DEFAULT_USER)
            dialog.locator("input[name='password']").fill(DEFAULT_PASSWORD)
            dialog.locator("input[name='port']").fill("443")
            page.screenshot(path=str(shots / "connection-form-standard.png"), full_page=True)

            # Extra fields: labels and descriptions with examples; nothing preselected in Auth type,
            # whose choices are exactly basic and oauth2.
            dialog.get_by_text("Extra Fields", exact=True).click()
            for label in ("Site name", "Auth type", "OAuth client id", "Login URL", "Timeout (s)", "Verify TLS"):
                expect(dialog.get_by_text(label, exact=True)).to_be_visible()
            expect(dialog.get_by_text("e.g. AcmeCorp", exact=False)).to_be_visible()
            auth = dialog.locator("div#element_auth_type")
            expect(auth).to_have_text("Select Value")
            auth.click()
            options = page.get_by_role("option").all_inner_texts()
            assert [o.split(" ")[0] for o in options] == ["basic", "oauth2"], options
            dialog.get_by_text("Auth type", exact=True).click()  # closes the menu, choosing nothing
            expect(page.get_by_role("option")).to_have_count(0)
            dialog.locator("#element_site").fill(DEFAULT_SITE)
            dialog.locator("#element_login_url").fill(deployment.emulator_url)
            page.screenshot(path=str(shots / "connection-form.png"), full_page=True)
            dialog.get_by_role("button", name="Save").click()
            expect(dialog).to_be_hidden()

            saved = deployment.api("GET", f"/connections/{CONN_ID}")
            assert (saved["conn_type"], saved["login"], saved["port"]) == ("eloqua", DEFAULT_USER, 443)
            extra = json.loads(saved["extra"])
            assert extra["site"] == DEFAULT_SITE and extra["login_url"] == deployment.emulator_url
            assert extra["auth_type"] is None  # an untouched dropdown saves null (basic), not "null"

            # Test Connection from the list, as a user does: the hook reaches the emulator.
            row = page.get_by_role("row").filter(has_text=CONN_ID)
            with page.expect_response(lambda answer: answer.url.endswith("/connections/test")) as tested:
                row.get_by_role("button", name="Test Connection").click()
            assert tested.value.status == 200, tested.value.text()
            assert tested.value.json()["status"] is True, tested.value.json()
            expect(page.get_by_text("Test Connection Successful")).to_be_visible()
            page.screenshot(path=str(shots / "connection-test.png"), full_page=True)
        finally:
            browser.close()
    print(f"\nscreenshots: {sorted(str(p) for p in shots.glob('*.png'))}")


def test_test_connection_says_what_to_fix(deployment: Deployment):
    """Through the endpoint the UI's Test Connection button calls: an unreachable login URL is named,
    and a stored connection without Port is refused by Airflow itself ("Bad Request", the hook never
    runs), which is why the form asks for 443; with Port 443 the stored connection tests fine."""
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        unreachable = f"http://127.0.0.1:{probe.getsockname()[1]}"
    body = {
        **deployment.eloqua_connection("eloqua_unreachable_login"),
        "port": 443,
        "extra": json.dumps({"site": DEFAULT_SITE, "login_url": unreachable}),
    }
    answer = deployment.api("POST", "/connections/test", json=body)
    assert answer["status"] is False
    assert answer["message"].startswith(f"The login URL {unreachable} (extra login_url) could not be reached")

    for conn_id, port in (("eloqua_without_port", None), ("eloqua_with_port", 443)):
        stored = {**deployment.eloqua_connection(conn_id), **({"port": port} if port else {})}
        deployment.api("POST", "/connections", json=stored, expect=(200, 201))
        # What the list's Test button sends: the stored fields, the password masked, Port as a number.
        sent = {**stored, "password": "***", "port": port or 0}
        if port is None:
            refused = deployment.api("POST", "/connections/test", json=sent, expect=400)
            assert "host or port to test differs from the stored connection" in json.dumps(refused)
        else:
            assert deployment.api("POST", "/connections/test", json=sent)["status"] is True
