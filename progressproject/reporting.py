"""Error reports (the DEBUG page, mails to ADMINS) without the service credentials."""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# Only real str values: a lazy object passes isinstance(str) and fails in re.sub.
# user:password@ in a URL (postgres://, redis://, rediss://, ...), wherever it appears.
URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
REDACTED = "********"


def redact_url_credentials(text: str) -> str:
    """The text with any URL's user:password@ replaced."""
    return URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)


class CredentialsFilter(SafeExceptionReporterFilter):
    """Django's filter, plus DATABASE_URL / REDIS_URL by name and any URL's credentials by
    value: in settings (nested ones too, such as CHANNEL_LAYERS' hosts), request.META and
    frame variables."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL",
        flags=re.IGNORECASE,
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        """Django's cleansing (it recurses into dicts and lists), then URLs' credentials."""
        value = super().cleanse_setting(key, value)
        return redact_url_credentials(value) if type(value) is str else value

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        """A frame's variables, strings holding a URL's credentials redacted."""
        return [
            (name, redact_url_credentials(value) if type(value) is str else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
