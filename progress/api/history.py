"""REST actions for a run's log and history, mixed into the API's OperationViewSet.

    GET /api/v1/operations/<id>/logs/?after=<number>&level=WARNING&limit=200&tail=false
    GET /api/v1/operations/<id>/logs.txt          (or logs/?format=txt): the whole stored log
    GET /api/v1/operations/<id>/history/          samples, stage results, averages
    GET /api/v1/operations/typical-durations/     each operation's median duration

The run is looked up through the view set's get_object(), so visibility is the detail's.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse, QueryDict
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from progress.api.schema import extend_schema
from progress.models import OperationLogLine, OperationProgress
from progress.runtime.history import run_history, typical_durations
from progress.runtime.logcapture import line_data, line_text

# Lines per page: the default and the most one request may ask for.
LOG_PAGE = 200
MAX_LOG_PAGE = 1000
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class LogTextRenderer(BaseRenderer):
    """text/plain for /logs.txt and ?format=txt (the view builds the body itself)."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return data if isinstance(data, str | bytes) else str(data)


class LogQuerySerializer(serializers.Serializer[Any]):
    after = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, default=0, help_text="Lines numbered after this."
    )
    level = serializers.ChoiceField(
        choices=LEVELS, required=False, help_text="Only lines at this level or above."
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LOG_PAGE, default=LOG_PAGE)
    tail = serializers.BooleanField(default=False, help_text="The newest lines instead.")


class LogLineSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField()
    time = serializers.DateTimeField()
    level = serializers.CharField()
    logger = serializers.CharField()
    message = serializers.CharField()


class LogPageSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    lines = LogLineSerializer(many=True)
    next_after = serializers.IntegerField(help_text="Pass as ?after= for the following lines.")
    more = serializers.BooleanField(help_text="More lines match after this page.")
    total = serializers.IntegerField(help_text="Lines the run logged.")
    stored = serializers.IntegerField(help_text="Lines kept (the newest LOG_LINES).")
    dropped = serializers.IntegerField(help_text="Lines not kept.")


class StageResultSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    index = serializers.IntegerField()
    status = serializers.CharField(
        help_text="pending, running, completed, failed, cancelled or skipped"
    )
    items = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)
    added = serializers.IntegerField()
    updated = serializers.IntegerField()
    failed = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration = serializers.FloatField(allow_null=True, help_text="Seconds.")
    details = serializers.DictField(required=False)


class RunHistorySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    operation_name = serializers.CharField()
    status = serializers.CharField()
    samples = serializers.ListField(
        child=serializers.ListField(),
        help_text="[elapsed seconds, current_item, overall percentage or null], ≤ 300 points.",
    )
    duration_seconds = serializers.FloatField(allow_null=True)
    items = serializers.IntegerField()
    average_rate = serializers.FloatField(allow_null=True, help_text="Items per second.")
    eta_source = serializers.ChoiceField(choices=["live", "history"], allow_null=True)
    typical_duration_seconds = serializers.FloatField(allow_null=True)
    typical_rate = serializers.FloatField(
        allow_null=True, help_text="Median items/s of the operation's recent completed runs."
    )
    slower_than_usual = serializers.BooleanField(
        help_text="average_rate is below typical_rate / 2 (rates, not durations)."
    )
    stage_results = StageResultSerializer(many=True)


class TypicalDurationsSerializer(serializers.Serializer[Any]):
    durations = serializers.DictField(child=serializers.FloatField())


class RunHistoryActions:
    """The log and history actions; mixed into a view set whose get_object() checks visibility."""

    get_object: Any
    get_queryset: Any

    @extend_schema(parameters=[LogQuerySerializer], responses={200: LogPageSerializer})
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[JSONRenderer, BrowsableAPIRenderer, LogTextRenderer],
    )
    def logs(self, request: Request, pk: str | None = None, **kwargs: Any) -> Any:
        """The run's stored log lines, oldest first, in pages: ?after=<number>&level=WARNING.

        ?tail=true gives the newest page instead. /logs.txt (or ?format=txt) downloads every
        stored line as text.
        """
        operation = self.get_object()
        if request.accepted_renderer.format == LogTextRenderer.format:
            return log_text_response(operation)
        query = LogQuerySerializer(data=_with_upper_level(request.query_params))
        query.is_valid(raise_exception=True)
        return Response(log_page(operation, **query.validated_data))

    @extend_schema(responses={200: RunHistorySerializer})
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str | None = None) -> Response:
        """The whole run's samples, stage results, average rate, duration and how usual it is."""
        return Response(run_history(self.get_object()))

    @extend_schema(responses={200: TypicalDurationsSerializer})
    @action(detail=False, methods=["get"], url_path="typical-durations")
    def typical_durations(self, request: Request) -> Response:
        """Each operation's median duration in seconds over its recent completed runs."""
        return Response({"durations": typical_durations(self.get_queryset())})


def _with_upper_level(params: QueryDict) -> dict[str, Any]:
    data: dict[str, Any] = {key: params.get(key) for key in params}
    level = data.get("level")
    if isinstance(level, str):
        data["level"] = level.upper()
    return data


def log_page(
    operation: OperationProgress, *, after: int, limit: int, tail: bool, level: str | None = None
) -> dict[str, Any]:
    """One page of a run's stored lines (the newest page with tail), with the counts."""
    lines = OperationLogLine.objects.filter(run=operation, number__gt=after)
    if level is not None:
        lines = lines.filter(level__gte=logging.getLevelNamesMapping()[level])
    if tail:
        page = list(lines.order_by("-number")[:limit])[::-1]
        more = False
    else:
        page = list(lines.order_by("number")[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
    stored = OperationLogLine.objects.filter(run=operation).count()
    total = max(int((operation.metadata or {}).get("log_lines") or 0), stored)
    return {
        "id": operation.pk,
        "lines": [_data(line) for line in page],
        "next_after": page[-1].number if page else after,
        "more": more,
        "total": total,
        "stored": stored,
        "dropped": total - stored,
    }


def log_text_response(operation: OperationProgress) -> HttpResponse:
    """Every stored line of a run as a text file."""
    lines = OperationLogLine.objects.filter(run=operation).order_by("number")
    stored = lines.count()
    total = max(int((operation.metadata or {}).get("log_lines") or 0), stored)
    header = f"# {operation.operation_name} run {operation.pk}: {total} lines logged"
    if total > stored:
        header += f", the oldest {total - stored} not kept"
    body = "\n".join([header, *(line_text(_data(line)) for line in lines.iterator())]) + "\n"
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{operation.pk}-log.txt"'
    return response


def _data(line: OperationLogLine) -> dict[str, Any]:
    return line_data(line.number, line.time, line.level, line.logger, line.message)
