"""Production posture: insecure settings refused, login throttling, bounded patterns, secrets."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys

import pytest
from django.contrib.auth import HASH_SESSION_KEY
from django.test import Client
from rest_framework.test import APIClient

from curation.management.commands import seed_demo
from curation.schema_validation import validate_evidence
from progress.tests.factories import UserFactory
from progress.tests.subprocesses import ROOT

# The environment README "Running in production" documents, with a real secret.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "b1m2Qy0Wm0nE8xJ3vX2l9cT4rZp7sK5uH6dA1fG8jL3qW9eR2tY",
    "DJANGO_ALLOWED_HOSTS": "progress.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://progress.example.org",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_BEHIND_HTTPS_PROXY": "true",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "TASKS_BACKEND": "db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/progress",
}


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def without(key: str) -> dict[str, str]:
    return {k: v for k, v in PRODUCTION_ENV.items() if k != key}


@pytest.mark.service
def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.service
def test_check_fails_naming_the_variable_when_debug_is_off_without_a_secret_key():
    result = run(["manage.py", "check"], without("DJANGO_SECRET_KEY"))
    assert result.returncode != 0
    assert "progressproject.E001" in result.stderr
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


@pytest.mark.service
def test_the_demo_needs_no_secret_key():
    result = run(["manage.py", "check"], {"DJANGO_DEBUG": "true"})
    assert result.returncode == 0, result.stderr


@pytest.mark.service
def test_daphne_refuses_to_start_without_a_secret_key():
    result = run(
        ["-m", "daphne", "-b", "127.0.0.1", "-p", "0", "progressproject.asgi:application"],
        without("DJANGO_SECRET_KEY"),
    )
    assert result.returncode != 0
    assert "Refusing to serve" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.service
def test_debug_is_off_when_DJANGO_DEBUG_is_unset():
    script = (
        "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    )
    result = run(["-c", script], {"DJANGO_SETTINGS_MODULE": "progressproject.settings"})
    assert result.stdout.strip() == "False", result.stderr
    # and so the demo key is refused: the public key never serves with DEBUG left unset
    assert "progressproject.E001" in run(["manage.py", "check"], {}).stderr


def test_the_run_command_is_what_turns_debug_on():
    script = (ROOT / "scripts" / "run.sh").read_text()
    assert 'export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"' in script
    assert script.index("DJANGO_DEBUG") < script.index("manage.py")


SERVICE_PASSWORD = "hunter2-Secret"


def test_a_debug_error_page_never_shows_database_or_redis_credentials(settings, rf):
    import sys as system

    from django.views.debug import ExceptionReporter

    # The password is a global, not a local: the page shows the test frame's own locals.
    settings.DEBUG = True
    settings.REDIS_URL = f"redis://:{SERVICE_PASSWORD}@redis.internal:6379/0"
    settings.CHANNEL_LAYERS = {
        "other": {"CONFIG": {"hosts": [{"address": f"rediss://user:{SERVICE_PASSWORD}@r:6380/1"}]}}
    }
    settings.MY_CACHE = {"default": {"LOCATION": f"redis://:{SERVICE_PASSWORD}@cache:6379/2"}}
    request = rf.get("/progress/", DATABASE_URL=f"postgres://app:{SERVICE_PASSWORD}@db/progress")
    database_url = f"postgres://app:{SERVICE_PASSWORD}@db.internal:5432/progress"
    try:
        raise RuntimeError(f"could not connect to {database_url.split('@')[1]}")
    except RuntimeError:
        page = ExceptionReporter(request, *system.exc_info()).get_traceback_html()
    assert "could not connect to db.internal" in page  # the page is the real one
    assert SERVICE_PASSWORD not in page
    assert "postgres://app:********@db.internal" in page  # a frame's variable, redacted


def test_the_databases_password_is_cleansed_in_error_reports():
    from progressproject.reporting import CredentialsFilter

    databases = {"default": {"ENGINE": "x", "PASSWORD": "pw-1", "HOST": "h"}}
    cleansed = CredentialsFilter().cleanse_setting("DATABASES", databases)
    assert cleansed["default"]["PASSWORD"] != "pw-1"
    assert cleansed["default"]["HOST"] == "h"


@pytest.mark.parametrize(
    ("variable", "check_id"),
    [
        ("DJANGO_SECURE_COOKIES", "security.W012"),
        ("DJANGO_SECURE_SSL_REDIRECT", "security.W008"),
        ("DJANGO_SECURE_HSTS_SECONDS", "security.W004"),
    ],
)
@pytest.mark.service
def test_each_https_variable_is_what_silences_its_deploy_warning(variable, check_id):
    result = run(["manage.py", "check", "--deploy"], without(variable))
    assert check_id in result.stderr


# --- login throttling ---------------------------------------------------------------------


@pytest.fixture
def member(db):
    return UserFactory(username="member", password="right-password-123")


def test_login_page_locks_a_username_and_address_out_after_five_failures(member):
    client = Client()
    statuses = [
        client.post(
            "/accounts/login/", {"username": "member", "password": "wrong"}, REMOTE_ADDR="10.0.0.9"
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]  # the form with its error, then the lockout
    locked = client.post(
        "/accounts/login/",
        {"username": "member", "password": "right-password-123"},
        REMOTE_ADDR="10.0.0.9",
    )
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_does_not_lock_the_user_out_from_another_address(member):
    client = Client()
    for _ in range(5):
        client.post(
            "/accounts/login/", {"username": "member", "password": "wrong"}, REMOTE_ADDR="10.0.0.9"
        )
    elsewhere = Client().post(
        "/accounts/login/",
        {"username": "member", "password": "right-password-123"},
        REMOTE_ADDR="10.0.0.10",
    )
    assert elsewhere.status_code == 302


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_api_basic_auth_is_throttled_too(member):
    client = APIClient()
    for _ in range(5):
        response = client.get(
            "/api/v1/operations/",
            HTTP_AUTHORIZATION=basic("member", "wrong"),
            REMOTE_ADDR="10.0.0.9",
        )
        assert response.status_code in {401, 403}
    right = client.get(
        "/api/v1/operations/",
        HTTP_AUTHORIZATION=basic("member", "right-password-123"),
        REMOTE_ADDR="10.0.0.9",
    )
    assert right.status_code in {401, 403}
    fresh = APIClient().get(
        "/api/v1/operations/",
        HTTP_AUTHORIZATION=basic("member", "right-password-123"),
        REMOTE_ADDR="10.0.0.10",
    )
    assert fresh.status_code == 200


# --- the client address behind proxies -----------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ([], "203.0.113.9", "1.1.1.1", "203.0.113.9"),  # no proxies: the header is ignored
        (["10.0.0.5"], "203.0.113.9", "1.1.1.1", "203.0.113.9"),  # an untrusted peer
        (["10.0.0.5"], "10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.5", "6.6.6.6, 198.51.100.7, 10.2.0.1", "198.51.100.7"),
        (["10.0.0.5"], "10.0.0.5", "", "10.0.0.5"),  # a proxy that forwarded nothing
        (["10.0.0.5"], "10.0.0.5", "198.51.100.7:5123", "198.51.100.7"),
        (["::1"], "::1", "[2001:db8::7]:443", "2001:db8::7"),
        (["10.0.0.5"], "10.0.0.5", "junk", "10.0.0.5"),  # not an address: the proxy's own
    ],
)
def test_the_client_is_the_rightmost_forwarded_hop_that_is_not_a_trusted_proxy(
    settings, rf, trusted, peer, forwarded, client
):
    from progress.client_address import client_address

    settings.PROGRESS = {**settings.PROGRESS, "TRUSTED_PROXIES": trusted}
    request = rf.get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == client


def basic_via(stack, password: str, forwarded: str) -> int:
    import requests

    return requests.get(
        f"{stack.url}/api/v1/operations/",
        headers={"Authorization": basic("member", password), "X-Forwarded-For": forwarded},
        timeout=10,
    ).status_code


def live_stack(**env: str):
    from tests.live import LiveStack

    return LiveStack(worker=False, **env)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.redis
def test_a_forged_forwarded_for_per_attempt_cannot_dodge_the_lockout_under_daphne(member):
    stack = live_stack()  # daphne as docs/security.md runs it: no --proxy-headers
    try:
        statuses = [basic_via(stack, "wrong", f"198.51.100.{n}") for n in range(1, 31)]
        assert all(status in {401, 403} for status in statuses)
        # Locked by (member, the real peer): the right password is refused, whatever it forges.
        assert basic_via(stack, "right-password-123", "192.0.2.77") in {401, 403}
    finally:
        stack.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.redis
def test_behind_a_trusted_proxy_the_lockout_is_by_the_hop_the_proxy_saw(member):
    # The test's requests come from 127.0.0.1: daphne sees them as from the trusted proxy,
    # which (like nginx's $proxy_add_x_forwarded_for) appends the address it saw.
    stack = live_stack(DJANGO_TRUSTED_PROXIES="127.0.0.1")
    try:
        for n in range(5):
            assert basic_via(stack, "wrong", f"6.6.6.{n}, 198.51.100.7") in {401, 403}
        assert basic_via(stack, "right-password-123", "9.9.9.9, 198.51.100.7") in {401, 403}
        assert basic_via(stack, "right-password-123", "198.51.100.8") == 200
    finally:
        stack.stop()


# --- staff-written schema patterns ---------------------------------------------------------


def test_a_catastrophic_schema_pattern_is_reported_not_run_forever():
    # (a|aa)+c against a run of a's tries every split of the run into 1s and 2s (Fibonacci
    # many, ~10^1000 here) before it fails: over the timeout on any machine. The regex module
    # answers (a+)+b on 5,000 a's in about 0.3 s, near the 0.1 s timeout, and that test was
    # flaky under load.
    pattern = "(a|aa)+c"
    schema = {"name": "t", "fields": [{"name": "code", "type": "text", "pattern": pattern}]}
    report = validate_evidence({"code": "a" * 5000 + "b"}, schema)
    assert not report.valid
    assert any("simplify the pattern" in error for error in report.errors), report.errors


# --- demo secrets ---------------------------------------------------------------------------


@pytest.fixture
def credentials_file(tmp_path, monkeypatch):
    target = tmp_path / "var" / "demo-credentials.txt"
    monkeypatch.setattr(seed_demo, "CREDENTIALS_FILE", target)
    return target


def test_demo_credentials_file_is_private_from_the_start(credentials_file, monkeypatch):
    created = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, *args, **kwargs):
        created.append(mode)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(seed_demo.os, "open", watching_open)
    passwords = seed_demo.Command._passwords()
    assert created == [0o600]  # never created with wider permissions, then narrowed
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    assert seed_demo.Command._passwords() == passwords
    assert created == [0o600]  # kept, not written again


def test_each_demo_login_gets_its_own_password(credentials_file):
    passwords = seed_demo.Command._passwords()
    assert set(passwords) == {"demo", "curator"}
    assert passwords["demo"] != passwords["curator"]
    assert credentials_file.read_text() == (
        f"demo {passwords['demo']}\ncurator {passwords['curator']}\n"
    )


def test_an_older_one_password_file_gives_new_logins_distinct_passwords(credentials_file):
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text("shared-old-password\n")
    passwords = seed_demo.Command._passwords()
    assert passwords["demo"] != passwords["curator"]
    assert "shared-old-password" not in passwords.values()


def test_seeding_never_resets_an_existing_logins_password_or_flags(db, credentials_file):
    demo = UserFactory(username="demo", password="the-owners-own-password-1", is_staff=False)
    passwords = seed_demo.Command._passwords()
    user, created = seed_demo.Command._user("demo", passwords["demo"], staff=True)
    user.refresh_from_db()
    assert (user.pk, created) == (demo.pk, False)
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert user.check_password("the-owners-own-password-1")
    line = seed_demo.Command._login_line(user, passwords["demo"], created, "staff, admin")
    assert passwords["demo"] not in line and "changepassword demo" in line


def test_a_new_demo_login_is_created_with_its_password_and_flags(db, credentials_file):
    passwords = seed_demo.Command._passwords()
    user, created = seed_demo.Command._user("demo", passwords["demo"], staff=True)
    assert created and user.is_superuser and user.is_staff
    assert user.check_password(passwords["demo"])
    assert user.has_perm("progress.start_pipeline")
    line = seed_demo.Command._login_line(user, passwords["demo"], created, "staff, admin")
    assert line == f"  demo / {passwords['demo']} (staff, admin)"


def test_seeding_again_keeps_the_demo_users_signed_in(db):
    user, _ = seed_demo.Command._user("curator", "a-demo-password", staff=False)
    client = Client()
    client.force_login(user)
    hash_before = client.session[HASH_SESSION_KEY]
    seed_demo.Command._user("curator", "a-demo-password", staff=False)
    assert client.get("/progress/").status_code == 200
    assert client.session.get(HASH_SESSION_KEY) == hash_before
