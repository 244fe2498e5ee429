"""REST API under /api/v1/: runs (list, detail, cancel, cheap polling) and pipelines (list, start).

Every response body that describes a run uses OperationProgressSerializer, the same wire
format the WebSocket sends. Visibility is OperationProgress.objects.visible_to(user),
the rule the consumer, the pages and the admin share.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from progress import pipelines
from progress.api.history import RunHistoryActions
from progress.api.schema import extend_schema
from progress.cancel import can_cancel, operation_cancel
from progress.launch import RequestTooLarge, pipeline_for_request, pipeline_start
from progress.models import HAS_FAILURES, LATE_CANCEL_TEXT, OperationProgress, Outcome, Status
from progress.serializers import OperationProgressDetailSerializer, OperationProgressSerializer

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler, plus domain errors mapped to 4xx with a message saying what to fix;
    anything else is logged and answered with a JSON 500 (the API never answers HTML)."""
    _render_as_json(context.get("request"))
    if isinstance(exc, pipelines.UnknownPipeline):
        exc = exceptions.NotFound(str(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, RequestTooLarge | RequestDataTooBig):
        exc = PayloadTooLarge(str(exc) or None)
    elif isinstance(exc, SuspiciousOperation):  # Django's "400 Bad Request" family
        exc = exceptions.ParseError(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    logger.error("API error in %s", context.get("view"), exc_info=exc)
    return Response(
        {"detail": "Internal server error; the server log has the details."},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _render_as_json(request: Any) -> None:
    """An error of a text endpoint (logs.txt) is JSON too, not the text of a Python dict."""
    renderer = getattr(request, "accepted_renderer", None)
    if request is not None and not isinstance(renderer, JSONRenderer | BrowsableAPIRenderer):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type


@csrf_exempt
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """A JSON 404 for any path under the API prefix that names no endpoint."""
    return JsonResponse(
        {"detail": f"No API endpoint at {request.path}; the OpenAPI schema lists them."},
        status=status.HTTP_404_NOT_FOUND,
    )


class RunPagination(PageNumberPagination):
    """Pages of 50 runs: ?page=N."""

    page_size = 50


class ProgressAPIView:
    """The DRF classes every progress API view uses, declared here so that the app needs
    no REST_FRAMEWORK setting and a project's own defaults never change its API."""

    authentication_classes: list[type[Any]] = [SessionAuthentication, BasicAuthentication]
    permission_classes: list[type[Any]] = [IsAuthenticated]
    renderer_classes: list[type[Any]] = [JSONRenderer, BrowsableAPIRenderer]
    parser_classes: list[type[Any]] = [JSONParser]
    pagination_class: type[Any] | None = RunPagination
    filter_backends: list[type[Any]] = [DjangoFilterBackend]
    schema: Any = AutoSchema()

    def get_exception_handler(self) -> Any:
        """progress.api.views.exception_handler, whatever REST_FRAMEWORK says."""
        return exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


# Parameters sent as JSON are a few short fields; files go as multipart.
MAX_JSON_BODY = 64 * 1024


class BoundedJSONParser(JSONParser):
    """JSON parameters: small, and nesting that would exhaust the stack is a 400, not a 500."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        raw = stream.read(MAX_JSON_BODY + 1) if stream is not None else b""
        if len(raw) > MAX_JSON_BODY:
            raise PayloadTooLarge(
                f"JSON parameters are limited to {MAX_JSON_BODY} bytes; send files as multipart"
            )
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error - nested too deeply; send an object of parameters"
            ) from None


class DeferredCsrfSessionAuthentication(SessionAuthentication):
    """Session auth whose CSRF check waits until the view asks for it.

    Django's CSRF check reads the form fields, which parses the whole upload; the start
    view first refuses on permission and size, then runs the check.
    """

    def enforce_csrf(self, request: Request) -> None:
        request._request.progress_csrf_pending = True

    @staticmethod
    def enforce_pending(request: Request) -> None:
        """The CSRF check deferred at authentication, if there was one."""
        if getattr(request._request, "progress_csrf_pending", False):
            SessionAuthentication().enforce_csrf(request)


class DeferredCsrfSessionScheme(SessionScheme):
    """OpenAPI: the deferred-CSRF session auth is the same cookie auth as DRF's."""

    target_class = "progress.api.views.DeferredCsrfSessionAuthentication"
    name = "sessionCookieAuth"  # a name of its own: drf-spectacular wants one per class


START_AUTHENTICATION = [DeferredCsrfSessionAuthentication, BasicAuthentication]


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 datetime, normalised to UTC: PostgreSQL rejects offsets beyond ±15:59
    (the schema fuzzer found a 500 with "+23:25")."""

    def to_python(self, value: Any) -> Any:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("Give an ISO 8601 datetime within years 1-9999.") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class OperationFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    name = django_filters.CharFilter(field_name="operation_name")
    name_contains = django_filters.CharFilter(field_name="operation_name", lookup_expr="icontains")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    outcome = django_filters.MultipleChoiceFilter(
        choices=Outcome.choices,
        method="filter_outcome",
        help_text="How finished runs ended; completed_with_failures: items_failed > 0.",
    )
    has_failures = django_filters.BooleanFilter(
        method="filter_has_failures",
        help_text="true: runs with failed items, or that failed or stalled; false: the others.",
    )

    class Meta:
        model = OperationProgress
        fields = [
            "status",
            "name",
            "name_contains",
            "created_after",
            "created_before",
            "outcome",
            "has_failures",
        ]

    def filter_outcome(self, queryset: Any, name: str, value: list[str]) -> Any:
        return queryset.with_outcome(*value) if value else queryset

    def filter_has_failures(self, queryset: Any, name: str, value: bool | None) -> Any:
        if value is None:
            return queryset
        return queryset.with_failures() if value else queryset.exclude(HAS_FAILURES)


class OperationViewSet(
    ProgressAPIView,
    RunHistoryActions,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Runs the user may see: staff see all, others their own."""

    serializer_class = OperationProgressSerializer
    filterset_class = OperationFilter

    def get_queryset(self) -> Any:
        return OperationProgress.objects.visible_to(self.request.user).order_by(
            "-created_at", "-id"
        )

    def get_serializer_class(self) -> Any:
        """The detail (whole metadata, by viewer) for one run; the summary for lists."""
        if self.action == "retrieve":
            return OperationProgressDetailSerializer
        return OperationProgressSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since_seq", int, description="Answer 304 with no body unless seq is newer."
            )
        ],
        responses={
            200: OperationProgressDetailSerializer,
            304: OpenApiResponse(description="Unchanged"),
        },
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One run with its details (row errors; tracebacks and server paths for staff only).

        Cheap polling: ?since_seq=N or If-None-Match give 304 when nothing changed.
        """
        operation = self.get_object()
        etag = f'"op-{operation.pk}-{operation.seq}"'
        since = request.query_params.get("since_seq")
        if since is not None:
            try:
                since_seq = int(since)
            except ValueError:
                raise exceptions.ValidationError({"since_seq": "Must be an integer seq."}) from None
            unchanged = operation.seq <= since_seq
        else:
            unchanged = etag in request.headers.get("If-None-Match", "")
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if unchanged:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(self.get_serializer(operation).data, headers=headers)

    @extend_schema(request=None, responses={202: OperationProgressSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a run: a queued one at once, a running one at its next item boundary."""
        operation = self.get_object()
        if not can_cancel(request.user, operation):
            raise exceptions.PermissionDenied(
                "Only the run's owner or a user with progress.cancel_any_operation can cancel it."
            )
        if not operation_cancel(operation):
            operation.refresh_from_db()  # it may have ended since it was read
            raise exceptions.ValidationError(
                {
                    "status": f"{LATE_CANCEL_TEXT}: run {operation.pk} had already ended "
                    f"({operation.status_text.lower()}); nothing was cancelled."
                }
            )
        return Response(self.get_serializer(operation).data, status=status.HTTP_202_ACCEPTED)


class PipelineParameterSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=["text", "select", "file", "number", "boolean"])
    required = serializers.BooleanField()
    help = serializers.CharField(allow_blank=True)
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    suggestions = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Values that are data (the user's scopes), at most a bounded few; "
        "GET suggestions/?field=<name>&search=<text> finds the rest.",
    )
    more_suggestions = serializers.IntegerField(
        required=False, help_text="How many more values there are than suggestions lists."
    )
    new_values = serializers.BooleanField(
        required=False, help_text="Whether a value not suggested creates one (a new scope)."
    )
    default = serializers.JSONField(required=False)


class SuggestionsSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    search = serializers.CharField(allow_blank=True)
    values = serializers.ListField(child=serializers.CharField())
    more = serializers.IntegerField(help_text="How many more matched than values lists.")


class PipelineSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    parameters = PipelineParameterSerializer(many=True)


class PipelineViewSet(ProgressAPIView, viewsets.ViewSet):
    """Pipelines the user may start, and starting them (202, the run is queued)."""

    lookup_field = "name"
    lookup_value_regex = "[a-z0-9_]+"
    pagination_class = None  # a short list, whole
    filter_backends: list[type[Any]] = []
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses=PipelineSerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response([p.describe(user=request.user) for p in pipelines.available(request.user)])

    @extend_schema(
        parameters=[
            OpenApiParameter("field", str, required=True, description="The parameter's name."),
            OpenApiParameter("search", str, description="Only values containing this text."),
        ],
        responses=SuggestionsSerializer,
    )
    @action(detail=True, methods=["get"])
    def suggestions(self, request: Request, name: str | None = None) -> Response:
        """A parameter's values the user may use that contain ?search=, bounded, for the
        values beyond what the pipeline's description lists."""
        pipeline = pipelines.get(name or "")
        if not request.user.has_perm(pipeline.permission):
            raise exceptions.PermissionDenied(
                f"You need the {pipeline.permission!r} permission to start {pipeline.name}"
            )
        field = request.query_params.get("field", "")
        search = request.query_params.get("search", "")
        try:
            values, more = pipeline.suggest(field, user=request.user, search=search)
        except LookupError as exc:
            raise exceptions.ValidationError({"field": str(exc)}) from None
        return Response({"field": field, "search": search, "values": values, "more": more})

    @extend_schema(
        request={
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": OpenApiTypes.OBJECT,
        },
        responses={
            202: OperationProgressSerializer,
            429: OpenApiResponse(
                description="Over the user's limits (PROGRESS MAX_ACTIVE_RUNS_PER_USER, "
                'MAX_STARTS_PER_MINUTE): {"detail": what to do}, with Retry-After.'
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        authentication_classes=START_AUTHENTICATION,
        parser_classes=[BoundedJSONParser, MultiPartParser, FormParser],
    )
    def start(self, request: Request, name: str | None = None) -> Response:
        """Refuse on permission or size from the headers alone; then validate, queue the run
        and return it at once (request.data, the body, is read only after the checks)."""
        pipeline_for_request(
            name=name or "", user=request.user, content_length=request.META.get("CONTENT_LENGTH")
        )
        DeferredCsrfSessionAuthentication.enforce_pending(request)
        operation = pipeline_start(name=name or "", data=request.data, user=request.user)
        return Response(
            OperationProgressSerializer(operation).data, status=status.HTTP_202_ACCEPTED
        )
