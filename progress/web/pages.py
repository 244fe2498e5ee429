"""Browser pages: the live list of runs, one run in detail, and the forms that act on runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
    JsonResponse,
)
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import exceptions
from rest_framework.exceptions import ValidationError

from progress import pipelines
from progress.cancel import can_cancel, operation_cancel
from progress.launch import (
    RequestTooLarge,
    StorageFull,
    TooManyStarts,
    flatten,
    form_parameters,
    operation_rerun,
    pipeline_for_request,
    pipeline_start,
)
from progress.models import LATE_CANCEL_TEXT, OperationProgress, Status
from progress.runtime.history import SLOW_FACTOR, is_much_slower, typical_durations, typical_rates
from progress.serializers import operation_data
from progress.web import listing
from progress.web.rerun import may_rerun_with_file

# Shown under a file field when the page comes back with errors: browsers never refill one.
FILE_AGAIN = "Choose the file again: a page cannot keep a chosen file after an error."


@dataclass
class StartAttempt:
    """A start form that was refused: which pipeline, what was typed, what was wrong."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)


@login_required
def operation_list(request: HttpRequest) -> HttpResponse:
    """Active runs first, then finished ones a page at a time; live over the WebSocket.

    Asked for JSON (Accept: application/json), the same page as data: list-page.js reads the
    description of a run that started after the page loaded from ?q=%23<id>.
    """
    if "application/json" in request.headers.get("Accept", ""):
        return _list_json(request)
    return _list_page(request)


def _list_json(request: HttpRequest) -> JsonResponse:
    filters = listing.RunFilters.from_query(request.GET)
    page = listing.run_page(OperationProgress.objects.visible_to(request.user), filters)
    return JsonResponse(
        {
            "runs": [
                {"id": op.pk, "status": op.status, "description": listing.run_description(op)}
                for op in page.runs
            ],
            "older": page.older,
            "newer": page.newer,
        }
    )


def _list_page(
    request: HttpRequest, *, attempt: StartAttempt | None = None, status: int = 200
) -> HttpResponse:
    filters = listing.RunFilters.from_query(request.GET)
    visible = OperationProgress.objects.visible_to(request.user)
    page = listing.run_page(visible, filters)
    typical = typical_durations(visible)
    rates = typical_rates(visible)
    rows = [_run_row(op, typical, rates) for op in page.runs]
    return render(
        request,
        "progress/list.html",
        {
            "initial": [row["data"] for row in rows],
            "active_rows": rows[: len(page.active)],
            "finished_rows": rows[len(page.active) :],
            "page": page,
            "pipelines": _start_forms(request.user, attempt or _prefill(request), typical),
            "filters": filters,
            "attempt": attempt,
            "attempt_title": _title(attempt.name) if attempt is not None else "",
            "statuses": Status.choices,
            "typical": [
                {"name": name, "title": _title(name), "text": listing.duration_text(seconds)}
                for name, seconds in typical.items()
            ],
            "list_config": {
                **_list_config(request, page, rows, typical, rates),
                # Runs newer than this started after the page was drawn: its shown view's
                # summaries count them as new ("N new runs").
                "newestId": visible.order_by("-pk").values_list("pk", flat=True).first() or 0,
            },
        },
        status=status,
    )


def _list_config(
    request: HttpRequest,
    page: listing.RunPage,
    rows: list[dict[str, Any]],
    typical: dict[str, float],
    rates: dict[str, float],
) -> dict[str, Any]:
    """What list-page.js needs beside the runs: descriptions, the page's window, durations."""
    return {
        "descriptions": {row["data"]["id"]: row["description"] for row in rows},
        "typical": typical,
        "typicalRates": rates,
        "titles": listing.pipeline_titles(),
        "slowFactor": SLOW_FACTOR,
        "firstPage": page.filters.is_first_page,
        "floor": page.floor,
        "ceiling": page.ceiling,
        "filters": {
            "status": page.filters.status,
            "q": page.filters.q,
            "failures": page.filters.failures,
        },
        "user": {"id": request.user.pk, "name": request.user.get_username()},
    }


def _run_row(
    operation: OperationProgress, typical: dict[str, float], rates: dict[str, float]
) -> dict[str, Any]:
    """One server-rendered row (the page without JavaScript) and its live data."""
    usual = typical.get(operation.operation_name)
    duration = operation.duration
    seconds = duration.total_seconds() if duration is not None else None
    data = operation_data(operation)
    description = listing.run_description(operation)
    return {
        "data": data,
        "operation": operation,
        "description": description,
        "label": listing.run_label(data["title"], operation.pk, description),
        "icon": listing.STATUS_ICONS.get(operation.outcome or operation.status, ""),
        "time_text": listing.time_text(operation, seconds),
        "detail_text": listing.result_text(data),
        "is_error": operation.status in (Status.FAILED, Status.STALLED),
        # The usual time matters while a run runs; a finished one says how long it took.
        "typical_text": listing.duration_text(usual) if usual and operation.is_active else "",
        # Slow by rate (items/s), not duration: a big run is not slow for taking longer.
        "slow": operation.is_active
        and is_much_slower(operation.rate, rates.get(operation.operation_name)),
    }


def _title(name: str) -> str:
    return listing.pipeline_titles().get(name, name)


def _prefill(request: HttpRequest) -> StartAttempt | None:
    """A start form opened with settings from the link ("Run again with these settings").

    ?start=<pipeline>&<parameter>=<value>...; files never come from a link.
    """
    name = request.GET.get("start", "")
    pipeline = next((p for p in pipelines.available(request.user) if p.name == name), None)
    if pipeline is None:
        return None
    names = {param["name"] for param in pipeline.describe(user=request.user)["parameters"]}
    values = {key: request.GET[key] for key in names if key in request.GET}
    return StartAttempt(name=name, values=values)


def _start_forms(
    user: Any, attempt: StartAttempt | None, typical: dict[str, float]
) -> list[dict[str, Any]]:
    """The start forms: each pipeline the user may start, refilled after a refused start."""
    forms = []
    available = pipelines.available(user)
    for pipeline in available:
        mine = attempt if attempt is not None and attempt.name == pipeline.name else None
        described = pipeline.describe(user=user)
        fields = pipeline.bound_fields(user=user)
        prefix = f"start-{slugify(pipeline.name)}"
        for param in described["parameters"]:
            _form_field(
                param,
                fields.get(param["name"]),
                prefix=prefix,
                attempt=mine,
                pipeline_name=pipeline.name,
            )
        usual = typical.get(pipeline.name)
        described.update(
            start_url=reverse("progress:start", args=[pipeline.name]),
            open=mine is not None or len(available) == 1,
            form_errors=mine.form_errors if mine is not None else [],
            prefix=prefix,
            typical_text=listing.duration_text(usual) if usual else "",
            multipart=any(p["type"] == "file" for p in described["parameters"]),
        )
        forms.append(described)
    if attempt is not None and (attempt.errors or attempt.form_errors):
        _focus_first_error(forms, attempt.name)
    return forms


def _focus_first_error(forms: list[dict[str, Any]], name: str) -> None:
    """Without JavaScript the refused form comes back further down: focus its first error."""
    for form in forms:
        if form["name"] != name:
            continue
        for param in form["parameters"]:
            if param["errors"]:
                param["autofocus"] = True
                return


def _form_field(
    param: dict[str, Any],
    field_: Any,
    *,
    prefix: str,
    attempt: StartAttempt | None,
    pipeline_name: str,
) -> None:
    """Add what the template needs to a described parameter: id, value, choices, errors."""
    name = param["name"]
    param["id"] = f"{prefix}-{name}"
    default = param.get("default")
    if attempt is not None:
        param["current"] = attempt.values.get(name, default)
        param["errors"] = attempt.errors.get(name, [])
        if param["type"] == "file" and (param["errors"] or attempt.errors or attempt.form_errors):
            param["errors"] = [*param["errors"], FILE_AGAIN]
    else:
        param["current"] = default
        param["errors"] = []
    if param["type"] == "boolean":
        param["checked"] = str(param["current"]).lower() in ("true", "on", "1")
    param["current"] = "" if param["current"] is None else str(param["current"])
    if "choices" in param:
        param["options"] = [_option(choice) for choice in param["choices"]]
    # An optional choice without a default may be left empty ("All scopes").
    param["empty_choice"] = not param.get("required") and "default" not in param
    # A field may offer suggestions (a datalist, bounded: "N more, type to search") and
    # name its empty choice ("All scopes").
    param.setdefault("suggestions", [])
    more = param.get("more_suggestions", 0)
    param["more_text"] = f"{more:,} more not listed: type the name." if more else ""
    # With JavaScript, typing searches the values the list leaves out (list-page.js).
    param["search_url"] = _search_url(pipeline_name, name) if more else ""
    label = str(param.get("label") or name)
    param["empty_label"] = str(getattr(field_, "empty_label", "") or f"Any {label.lower()}")
    param["describedby"] = " ".join(
        part
        for part, present in (
            (f"{param['id']}-help", bool(param.get("help"))),
            (f"{param['id']}-error", bool(param["errors"])),
        )
        if present
    )


def _search_url(pipeline_name: str, field_name: str) -> str:
    """The API's search of a parameter's values; "" when the host has not mounted the API."""
    try:
        base = reverse("pipeline-suggestions", args=[pipeline_name])
    except NoReverseMatch:
        return ""
    return f"{base}?{urlencode({'field': field_name})}"


def _option(choice: Any) -> dict[str, str]:
    """A choice as {value, label}: from "value", [value, label] or {value, label}."""
    if isinstance(choice, dict):
        value = choice.get("value")
        return {"value": str(value), "label": str(choice.get("label") or value)}
    if isinstance(choice, list | tuple) and len(choice) == 2:
        return {"value": str(choice[0]), "label": str(choice[1])}
    return {"value": str(choice), "label": str(choice)}


@login_required
def operation_detail(request: HttpRequest, operation_id: int) -> HttpResponse:
    """One run in detail; 404 for runs the user may not see, so ids cannot be probed."""
    visible = OperationProgress.objects.visible_to(request.user).select_related("rerun_by")
    operation = visible.filter(pk=operation_id).first()
    if operation is None:
        return run_not_found(request, operation_id)
    return render(
        request,
        "progress/detail.html",
        {
            "operation": operation,
            "initial": operation_data(operation),
            "can_cancel": can_cancel(request.user, operation) and operation.is_active,
            "late_cancel_text": LATE_CANCEL_TEXT,
            "cancel_url": reverse("progress:cancel", args=[operation.pk]),
            "reruns": list(
                OperationProgress.objects.visible_to(request.user)
                .filter(rerun_of=operation)
                .order_by("pk")
                .values_list("pk", flat=True)
            ),
            "rerun_url": reverse("progress:rerun", args=[operation.pk])
            if may_rerun_with_file(request.user, operation)
            else "",
        },
    )


def back_on_get(to: Callable[[dict[str, Any]], str], note: str) -> Callable[[Any], Any]:
    """A POST-only view that answers a GET by going back to its page with a note.

    A POST from a signed-out tab is sent to the login page, which then comes back to the
    same URL with a GET; without this that ends on a bare 405 (so does revisiting a start
    URL). The action is not done on a GET: the user is told to press the button again.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method in ("GET", "HEAD"):
                messages.info(request, note.format(**kwargs))
                return HttpResponseRedirect(to(kwargs))
            return view(request, **kwargs)

        return wrapped

    return decorator


@back_on_get(
    lambda kwargs: reverse("progress:detail", args=[kwargs["operation_id"]]),
    "Run {operation_id} was not cancelled: press Cancel again if you still want to stop it.",
)
@require_POST
@login_required
def operation_cancel_view(request: HttpRequest, operation_id: int) -> HttpResponse:
    """Cancel from the detail page (CSRF-protected POST)."""
    operation = get_object_or_404(
        OperationProgress.objects.visible_to(request.user), pk=operation_id
    )
    if not can_cancel(request.user, operation):
        raise PermissionDenied("Only the run's owner can cancel it")
    # A cancel that was recorded needs no message: the page says "Cancelling…" until the
    # run's final state, which may still be "completed" if it finished first.
    if not operation_cancel(operation):
        operation.refresh_from_db()  # it may have ended since it was read
        messages.info(
            request,
            f"{LATE_CANCEL_TEXT}: run {operation.pk} had already ended "
            f"({operation.status_text.lower()}).",
        )
    return HttpResponseRedirect(reverse("progress:detail", args=[operation.pk]))


@back_on_get(
    lambda kwargs: reverse("progress:detail", args=[kwargs["operation_id"]]),
    "Run {operation_id} was not started again: press Run again with the same file if you "
    "still want to.",
)
@require_POST
@login_required
def operation_rerun_view(request: HttpRequest, operation_id: int) -> HttpResponse:
    """Start the run again with its stored upload (CSRF-checked POST; the owner only)."""
    operation = get_object_or_404(
        OperationProgress.objects.visible_to(request.user), pk=operation_id
    )
    if operation.created_by_id != request.user.pk:
        raise PermissionDenied("Only the run's owner can run it again with its file")
    try:
        again = operation_rerun(operation, user=request.user)
    except (ValueError, pipelines.UnknownPipeline) as exc:
        # The upload was pruned, the pipeline changed, or the run is still going: say which.
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("progress:detail", args=[operation.pk]))
    return HttpResponseRedirect(reverse("progress:detail", args=[again.pk]))


def run_not_found(request: HttpRequest, operation_id: int) -> HttpResponse:
    """A plain 404 page, the same for a missing run and someone else's (even with DEBUG)."""
    return render(request, "progress/not_found.html", {"operation_id": operation_id}, status=404)


@back_on_get(
    lambda kwargs: reverse("progress:list") + "?" + urlencode({"start": kwargs["name"]}),
    "Nothing was started: choose the settings and press Start again.",
)
@csrf_exempt  # checked below, once permission and size are: the check reads the body
@require_POST
@login_required
def pipeline_start_view(request: HttpRequest, name: str) -> HttpResponse:
    """Start a pipeline from a page form; go to the new run, or back to the form with errors.

    A form sent by list-page.js (Accept: application/json) gets JSON: the new run's id and
    page, or the errors by field. Without JavaScript, errors re-render the list (400) with
    the form open, what was typed kept and each error beside its field.
    """
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        pipeline_for_request(
            name=name, user=request.user, content_length=request.META.get("CONTENT_LENGTH")
        )
    except PermissionDenied as exc:
        # Returned, not raised: Django's 403 handler runs a CSRF check that reads the body.
        if wants_json:
            return JsonResponse({"message": str(exc), "errors": {}}, status=403)
        return HttpResponseForbidden(str(exc))
    except pipelines.UnknownPipeline as exc:
        if wants_json:
            return JsonResponse({"message": f"Not started: {exc}", "errors": {}}, status=404)
        messages.error(request, f"Not started: {exc}")
        return HttpResponseRedirect(reverse("progress:list"))
    except RequestTooLarge as exc:
        # The body is never read, so nothing typed can be kept; the error is the file's.
        attempt = StartAttempt(name=name, errors={_upload_field(name): [str(exc)]})
        return _refused(request, attempt, wants_json=wants_json, status=413)
    refused = CsrfViewMiddleware(_no_response).process_view(request, _no_response, (), {})
    if refused is not None:
        return refused
    try:
        operation = pipeline_start(name=name, data=form_parameters(request), user=request.user)
    except TooManyStarts as exc:
        attempt = _attempt(name, request, {"non_field_errors": [exc.message]})
        return _refused(request, attempt, wants_json=wants_json, status=429)
    except StorageFull as exc:
        attempt = _attempt(name, request, {"non_field_errors": [exc.message]})
        return _refused(request, attempt, wants_json=wants_json, status=413)
    except ValidationError as exc:
        attempt = _attempt(name, request, exc.detail)
        return _refused(request, attempt, wants_json=wants_json, status=400)
    except exceptions.PermissionDenied as exc:
        # A parameter value the user may not use (another user's scope): the form again,
        # with the reason, and a 403.
        attempt = _attempt(name, request, {"non_field_errors": [str(exc.detail)]})
        return _refused(request, attempt, wants_json=wants_json, status=403)
    url = reverse("progress:detail", args=[operation.pk])
    if wants_json:
        return JsonResponse({"id": operation.pk, "url": url}, status=201)
    return HttpResponseRedirect(url)


def _attempt(name: str, request: HttpRequest, detail: Any) -> StartAttempt:
    """The refused form: the typed values (files cannot come back) and errors by field."""
    values = {key: value for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
    attempt = StartAttempt(name=name, values=values)
    known = set(pipelines.get(name).parameters().fields)
    items = detail.items() if isinstance(detail, dict) else [("", detail)]
    for key, value in items:
        text = [flatten(item) for item in value] if isinstance(value, list) else [flatten(value)]
        if key in known:
            attempt.errors[key] = text
        else:
            attempt.form_errors += text
    return attempt


def _refused(
    request: HttpRequest, attempt: StartAttempt, *, wants_json: bool, status: int
) -> HttpResponse:
    if wants_json:
        message = "Not started: " + "; ".join(
            [*attempt.form_errors, *(f"{k}: {' '.join(v)}" for k, v in attempt.errors.items())]
        )
        return JsonResponse(
            {"message": message, "errors": attempt.errors, "form_errors": attempt.form_errors},
            status=status,
        )
    return _list_page(request, attempt=attempt, status=status)


def _upload_field(name: str) -> str:
    uploads = pipelines.get(name).uploads
    return uploads[0] if uploads else ""


def _no_response(request: HttpRequest) -> HttpResponse:
    raise AssertionError("CsrfViewMiddleware.process_view never calls get_response")
