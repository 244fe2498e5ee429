"""{% load progress_tags %} {% progress_config %}: the JS client's configuration."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString

from progress.web.jsconfig import client_config

register = template.Library()

CONFIG_ID = "progress-config"


@register.simple_tag(takes_context=True)
def progress_config(context: dict[str, Any]) -> SafeString:
    """<script type="application/json" id="progress-config">{...}</script>."""
    return json_script(client_config(context.get("request")), CONFIG_ID)
