"""The JS client's configuration: one server-rendered object, the same one Node tests load."""

from __future__ import annotations

import json
from pathlib import Path

from django.template import Context, Template
from django.test import RequestFactory

from progress.web.jsconfig import client_config, dump

FIXTURE = Path(__file__).parent / "js" / "config.json"
REGENERATE = (
    "DJANGO_SETTINGS_MODULE=progressproject.settings .venv/bin/python -c "
    '"import django; django.setup(); from progress.web.jsconfig import dump; '
    "print(dump(), end='')\" > progress/tests/js/config.json"
)


def test_the_node_tests_fixture_is_the_config_a_default_request_gets():
    expected = client_config(RequestFactory().get("/progress/"))
    assert json.loads(FIXTURE.read_text()) == expected, f"regenerate it: {REGENERATE}"
    assert FIXTURE.read_text() == dump()


def test_url_patterns_name_the_runs_id_and_follow_the_projects_urls():
    config = client_config()
    assert config["wsUrl"] == "/ws/progress/"
    assert config["wsRunUrl"] == "/ws/progress/{id}/"
    assert config["runUrl"] == "/progress/{id}/"
    assert config["apiRunUrl"] == "/api/v1/operations/{id}/"
    assert config["loginUrl"] == "/accounts/login/"


def test_statuses_close_codes_and_limits_come_from_the_server(settings):
    settings.PROGRESS = {"HEARTBEAT_INTERVAL": 2.5, "MAX_RESYNC_IDS": 7}
    config = client_config()
    assert (config["heartbeatMs"], config["maxResyncIds"]) == (2500, 7)
    assert config["closeCodes"]["unauthenticated"] == 4001
    running = next(s for s in config["statuses"] if s["value"] == "running")
    assert running == {
        "value": "running",
        "label": "Running",
        "active": True,
        "event": "progress_update",
    }


def test_the_tag_renders_the_config_as_a_json_script():
    html = Template("{% load progress_tags %}{% progress_config %}").render(
        Context({"request": RequestFactory().get("/")})
    )
    assert html.startswith('<script id="progress-config" type="application/json">')
    payload = html.removeprefix('<script id="progress-config" type="application/json">')
    assert json.loads(payload.removesuffix("</script>")) == client_config()
