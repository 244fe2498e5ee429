"""What the JS client needs from the server, rendered into pages by {% progress_config %}.

One JSON object (a <script type="application/json" id="progress-config">), so URLs,
close codes, statuses and timing limits are defined once, here and in the modules they
come from, not copied into the ES modules. URL patterns hold "{id}" for a run's id.
The Node tests read the same values from progress/tests/js/config.json.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse

from progress import conf, protocol
from progress.models import ACTIVE_STATUSES, CANCELLING_TEXT, LATE_CANCEL_TEXT, Outcome, Status

# Reversed in place of a run's id, then replaced by "{id}".
ID_PLACEHOLDER = 2_147_483_647
# The socket for every visible run; one run's socket is this path plus "<id>/".
WS_PATH = "/" + protocol.WS_PATH


def client_config(request: HttpRequest | None = None) -> dict[str, Any]:
    """The client's configuration as a JSON-able dict (request: for a script prefix)."""
    return {
        "wsUrl": WS_PATH,
        "wsRunUrl": WS_PATH + "{id}/",
        "runUrl": url_pattern("progress:detail"),
        "apiRunUrl": url_pattern("operation-detail"),
        "apiRunsUrl": _reverse("operation-list"),
        "apiPipelinesUrl": _reverse("pipeline-list"),
        "listUrl": _reverse("progress:list"),
        "loginUrl": resolve_url(settings.LOGIN_URL),
        "closeCodes": {
            "unauthenticated": protocol.CLOSE_UNAUTHENTICATED,
            "forbidden": protocol.CLOSE_FORBIDDEN,
            "rateLimited": protocol.CLOSE_RATE_LIMITED,
            "messageTooBig": protocol.CLOSE_MESSAGE_TOO_BIG,
            "slowClient": protocol.CLOSE_SLOW_CLIENT,
            "tooManySockets": protocol.CLOSE_TOO_MANY_SOCKETS,
            "connectingTooFast": protocol.CLOSE_CONNECTING_TOO_FAST,
        },
        "statuses": [
            {
                "value": value,
                "label": str(label),
                "active": value in ACTIVE_STATUSES,
                "event": protocol.EVENT_TYPES[value],
            }
            for value, label in Status.choices
        ],
        "outcomes": [{"value": value, "label": str(label)} for value, label in Outcome.choices],
        "cancellingText": CANCELLING_TEXT,
        "lateCancelText": LATE_CANCEL_TEXT,
        "heartbeatMs": _ms(conf.get("HEARTBEAT_INTERVAL")),
        "socketHeartbeatMs": _ms(conf.get("SOCKET_HEARTBEAT_INTERVAL")),
        "stallTimeoutMs": _ms(conf.get("STALL_TIMEOUT")),
        "maxResyncIds": conf.get("MAX_RESYNC_IDS"),
        "maxShownRuns": conf.get("MAX_SHOWN_RUNS"),
        "maxMessageBytes": conf.get("MAX_MESSAGE_BYTES"),
        "maxFrameBytes": protocol.MAX_FRAME_BYTES,
        "frameTypes": protocol.FRAME_TYPES,
        "clientRate": conf.get("CLIENT_RATE"),
        "clientBurst": conf.get("CLIENT_BURST"),
    }


def url_pattern(name: str) -> str | None:
    """The URL of a run's route with "{id}" for its id; None if the route is not installed."""
    url = _reverse(name, ID_PLACEHOLDER)
    return None if url is None else url.replace(str(ID_PLACEHOLDER), "{id}")


def dump(request: HttpRequest | None = None) -> str:
    """client_config() as the indented JSON of progress/tests/js/config.json."""
    return json.dumps(client_config(request), indent=2, sort_keys=True) + "\n"


def _reverse(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
