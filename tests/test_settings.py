"""Unit tests of settings.py: connection parsing, from the JSON and URI forms alike."""

from __future__ import annotations

import base64
import json

import pytest
from airflow.sdk import Connection

from airflow_provider_eloqua import urls
from airflow_provider_eloqua.emulator import DEFAULT_SITE, DEFAULT_USER
from airflow_provider_eloqua.exceptions import EloquaInputError
from airflow_provider_eloqua.settings import DEFAULT_TIMEOUT, settings_from_connection
from tests.dag_runner import connection_json
from tests.test_get_provider_info import connection_uri


def conn(**fields) -> Connection:
    extra = fields.pop("extra", {"site": "AcmeCorp"})
    values = {"conn_id": "eloqua_x", "conn_type": "eloqua", "login": "API.User", "password": "s3cret-pw"}
    values.update(fields)
    return Connection(**values, extra=json.dumps(extra))


def test_basic_settings_defaults():
    settings = settings_from_connection(conn())
    assert settings.site == "AcmeCorp"
    assert settings.user == "API.User"
    assert settings.site_user == "AcmeCorp\\API.User"
    assert settings.auth_type == "basic"
    assert settings.login_url == urls.DEFAULT_LOGIN_URL
    assert settings.base_url is None
    assert settings.timeout == DEFAULT_TIMEOUT
    assert settings.verify_tls is True
    assert settings.basic_header() == "Basic " + base64.b64encode(b"AcmeCorp\\API.User:s3cret-pw").decode()


def test_site_from_login():
    settings = settings_from_connection(conn(login="Other\\API.User", extra={}))
    assert (settings.site, settings.user) == ("Other", "API.User")


def test_extra_values_as_strings_from_a_uri():
    settings = settings_from_connection(
        conn(extra={"site": "AcmeCorp", "timeout": "12.5", "verify_tls": "false", "login_url": "https://x.example/"})
    )
    assert settings.timeout == 12.5
    assert settings.verify_tls is False
    assert settings.login_url == "https://x.example"
    assert settings.timeouts == (10.0, 12.5)


def test_verify_tls_accepts_a_ca_bundle_path(tmp_path):
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert settings_from_connection(conn(extra={"site": "A", "verify_tls": str(bundle)})).verify_tls == str(bundle)
    assert settings_from_connection(conn(extra={"site": "A", "verify_tls": f" {bundle} "})).verify_tls == str(bundle)
    # a directory is not a bundle file
    with pytest.raises(EloquaInputError, match="'verify_tls' must be true, false or the path"):
        settings_from_connection(conn(extra={"site": "A", "verify_tls": str(tmp_path)}))
    # unset (e.g. an empty form field) keeps the default
    for unset in (None, ""):
        assert settings_from_connection(conn(extra={"site": "A", "verify_tls": unset})).verify_tls is True


def test_redirect_uri_extra():
    assert settings_from_connection(conn()).redirect_uri is None
    settings = settings_from_connection(conn(extra={"site": "A", "redirect_uri": " https://app.example.com/cb "}))
    assert settings.redirect_uri == "https://app.example.com/cb"


def test_hook_timeout_overrides_the_extra():
    assert settings_from_connection(conn(extra={"site": "A", "timeout": 5}), timeout=2).timeouts == (2.0, 2.0)


def test_secrets_are_not_in_repr():
    settings = settings_from_connection(
        conn(
            extra={
                "auth_type": "oauth2",
                "client_id": "cid",
                "client_secret": "csecret-1",
                "refresh_token": "rtok-1",
                "token_store_variable": "eloqua_token",
            }
        )
    )
    text = repr(settings) + str(settings)
    for secret in ("s3cret-pw", "csecret-1", "rtok-1"):
        assert secret not in text
    basic_user = settings.basic_header().removeprefix("Basic ")
    basic_client = settings.client_basic_header().removeprefix("Basic ")
    assert set(settings.secrets()) == {"s3cret-pw", "csecret-1", "rtok-1", basic_user, basic_client}
    for encoded in (basic_user, basic_client):
        assert encoded not in text
    assert "cid" in repr(settings)


def test_proxy_url_extra():
    assert settings_from_connection(conn()).proxy_url is None
    assert settings_from_connection(conn(extra={"site": "A", "proxy_url": " "})).proxy_url is None
    plain = settings_from_connection(conn(extra={"site": "A", "proxy_url": " http://proxy.corp:3128/ "}))
    assert plain.proxy_url == "http://proxy.corp:3128"
    assert plain.secrets() == ["s3cret-pw", base64.b64encode(b"A\\API.User:s3cret-pw").decode()]
    url = "https://egress:p%40ss-w0rd@proxy.corp:8443"
    settings = settings_from_connection(conn(extra={"site": "A", "proxy_url": url}))
    assert settings.proxy_url == url
    proxy_basic = base64.b64encode(b"egress:p@ss-w0rd").decode()
    assert {"p%40ss-w0rd", "p@ss-w0rd", proxy_basic} <= set(settings.secrets())
    text = repr(settings) + str(settings)
    assert "p%40ss-w0rd" not in text and "p@ss-w0rd" not in text and "proxy.corp" not in text


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        (
            {"extra": {"site": "A", "proxy_url": "ftp://proxy.corp"}},
            r"'eloqua_x': extra 'proxy_url' must .* http or https",
        ),
        (
            {"extra": {"site": "A", "proxy_url": "http://u:s3cret-pw@/"}},
            r"'proxy_url' .*'http://\*\*\*@/': it has no host",
        ),
        ({"extra": {}}, r"missing: site"),
        ({"login": None}, r"missing: login"),
        ({"password": None}, r"missing: password"),
        ({"login": None, "password": None, "extra": {}}, r"missing: site, login, password"),
        ({"extra": {"site": "A", "auth_type": "ntlm"}}, r"'auth_type' must be basic or oauth2"),
        ({"extra": {"auth_type": "oauth2", "site": "A"}}, r"missing: client_id, client_secret"),
        (
            {"login": None, "password": None, "extra": {"auth_type": "oauth2", "client_id": "c", "client_secret": "s"}},
            r"login/password \(password grant\) or refresh_token",
        ),
        ({"extra": {"site": "A", "login_url": "http://example.com"}}, r"login_url must be an https URL"),
        ({"host": "http://example.com"}, r"connection host \(Bulk API base URL\) must be an https URL"),
        ({"extra": {"site": "A", "timeout": "soon"}}, r"'timeout' must be a number"),
        ({"extra": {"site": "A", "timeout": 0}}, r"'timeout' must be in \(0, 3600\]"),
        ({"extra": {"site": "A", "timeout": "-1"}}, r"'timeout' must be in \(0, 3600\]"),
        ({"extra": {"site": "A", "timeout": 7200}}, r"'timeout' must be in \(0, 3600\]"),
        ({"extra": {"site": "A", "verify_tls": "maybe"}}, r"'verify_tls' must be true, false or the path of a PEM"),
        (
            {"extra": {"site": "A", "verify_tls": "/no/such/dir/corp-ca.pem"}},
            r"'verify_tls' .*'/no/such/dir/corp-ca.pem', which is neither a boolean nor an existing file",
        ),
    ],
)
def test_settings_errors_name_the_setting(fields, match):
    with pytest.raises(EloquaInputError, match=match) as info:
        settings_from_connection(conn(**fields))
    assert "s3cret-pw" not in str(info.value)


def test_oauth_settings_accept_a_token_store_without_a_password():
    base = {"auth_type": "oauth2", "client_id": "c", "client_secret": "s"}
    for extra in ({**base, "refresh_token": "r", "token_store_variable": "v"}, {**base, "token_store_variable": "v"}):
        settings = settings_from_connection(conn(login=None, password=None, extra=extra))
        assert settings.auth_type == "oauth2"
        assert settings.client_basic_header() == "Basic " + base64.b64encode(b"c:s").decode()


def test_a_refresh_token_alone_is_refused_because_it_rotates():
    extra = {"auth_type": "oauth2", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
    with pytest.raises(EloquaInputError, match=r"token_store_variable .*rotate"):
        settings_from_connection(conn(login=None, password=None, extra=extra))


def test_https_host_and_loopback_http_are_accepted():
    assert settings_from_connection(conn(host="secure.p03.eloqua.com")).base_url == (
        "https://secure.p03.eloqua.com/api/bulk/2.0"
    )
    assert settings_from_connection(conn(host="http://localhost:9000")).base_url == "http://localhost:9000/api/bulk/2.0"


def test_extra_can_be_passed_already_decoded():
    settings = settings_from_connection(conn(extra={"site": "FromConn"}), extra={"site": "Given"})
    assert settings.site == "Given"


def test_a_proxy_user_name_without_a_password_is_the_secret():
    """``http://<token>@proxy``: some proxies take a token as the user name, so it is masked."""
    settings = settings_from_connection(conn(extra={"site": "A", "proxy_url": "http://tok%2Fen-123@proxy.corp:3128"}))
    assert {"tok%2Fen-123", "tok/en-123"} <= set(settings.secrets())
    assert "en-123" not in repr(settings)


def test_a_tasks_request_timeout_and_http_retry_policy_are_checked_when_it_is_defined():
    from airflow_provider_eloqua.settings import task_http_settings

    assert task_http_settings(None, None) == (None, {"max_attempts": 5, "initial_wait": 1.0, "max_wait": 60.0})
    assert task_http_settings(30, {"max_attempts": 2}) == (
        30.0,
        {"max_attempts": 2, "initial_wait": 1.0, "max_wait": 60.0},
    )
    for bad in (0, -1, 3601, "30", True):
        with pytest.raises(EloquaInputError, match=r"^request_timeout must be seconds in \(0, 3600\], or None; got"):
            task_http_settings(bad, None)
    with pytest.raises(EloquaInputError, match=r"^http_retry_policy must be a dict"):
        task_http_settings(None, [3])


def test_uri_connection_gives_the_same_settings_as_json(emulator):
    from airflow.sdk import Connection

    fields = json.loads(connection_json(emulator))
    as_json = Connection(conn_id="eloqua_default", **{**fields, "extra": json.dumps(fields["extra"])})
    as_uri = Connection.from_uri(connection_uri(emulator), conn_id="eloqua_default")
    assert settings_from_connection(as_uri) == settings_from_connection(as_json)

    # and the URI Airflow itself generates (what the UI's test sends) parses back the same
    regenerated = Connection.from_uri(as_json.get_uri(), conn_id="eloqua_default")
    assert settings_from_connection(regenerated) == settings_from_connection(as_json)


def test_uri_round_trip_of_site_user_login_and_oauth_extras():
    from airflow.sdk import Connection

    original = Connection(
        conn_id="eloqua_default",
        conn_type="eloqua",
        login=f"{DEFAULT_SITE}\\{DEFAULT_USER}",
        password="p@ss:w/rd?&=",
        host="https://secure.p03.eloqua.com",
        extra=json.dumps(
            {
                "auth_type": "oauth2",
                "client_id": "cid",
                "client_secret": "c/s+e=cret",
                "refresh_token": "rt&x=1",
                "token_store_variable": "eloqua_rt",
                "redirect_uri": "https://app.example.com/cb?x=1&y=2",
                "verify_tls": False,
                "timeout": 30,
            }
        ),
    )
    back = Connection.from_uri(original.get_uri(), conn_id="eloqua_default")
    settings = settings_from_connection(back)
    assert settings == settings_from_connection(original)
    assert settings.site == DEFAULT_SITE
    assert settings.user == DEFAULT_USER
    assert settings.password == "p@ss:w/rd?&="
    assert settings.base_url == "https://secure.p03.eloqua.com/api/bulk/2.0"
    assert settings.verify_tls is False
    assert settings.redirect_uri == "https://app.example.com/cb?x=1&y=2"
    assert settings.timeout == 30.0
