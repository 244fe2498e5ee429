"""The list page's runs: filters from the query string, search, pages and one line per run.

Pages go through the whole history by run id (keyset paging), so a page stays the same
while new runs start: ?before=<id> holds the PAGE_SIZE finished runs older than that run,
?after=<id> the ones newer. Search matches every word somewhere in what a run was asked to
do: its operation and pipeline title, its parameters, its files' names, its owner, #id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.utils import timezone
from django.utils.timesince import timesince
from rest_framework import serializers

from progress import files, pipelines
from progress.models import ACTIVE_STATUSES, FINAL_STATUSES, OperationProgress, Outcome, Status

PAGE_SIZE = 20
# Active runs are listed whole on the first page; more than this is a sign of trouble.
MAX_ACTIVE = 500
# Characters and words of a search that are looked at; the rest is ignored.
MAX_SEARCH_TEXT = 100
MAX_SEARCH_WORDS = 5
# File entries of a run whose labels are searched (an upload and a report or two).
FILES_SEARCHED = 3
# Parameter values longer than this are cut in a description.
MAX_VALUE_TEXT = 60
# Separators a user may paste from a description; they match nothing on their own.
# What a "Has failures" checkbox or link may send to mean "on".
FAILURES_ON = frozenset({"1", "on", "true"})
PUNCTUATION = frozenset("—\u2013-→,·:;#")  # \u2013: en dash


@dataclass(frozen=True)
class RunFilters:
    """What the list shows: a status, a search, only runs with failures, and which page."""

    status: str = ""
    q: str = ""
    failures: bool = False  # "Has failures": failed items, or the run failed or stalled
    before: int | None = None
    after: int | None = None

    @classmethod
    def from_query(cls, params: Any) -> RunFilters:
        """Filters from a request's GET; unknown statuses and bad cursors are ignored."""
        status = str(params.get("status", "")).strip()
        # "name" is the old name of the search box, kept so old links still filter.
        text = str(params.get("q", "") or params.get("name", "")).strip()[:MAX_SEARCH_TEXT]
        before = _cursor(params.get("before"))
        return cls(
            status=status if status in Status.values else "",
            q=text,
            failures=str(params.get("failures", "")).strip() in FAILURES_ON,
            before=before,
            after=None if before is not None else _cursor(params.get("after")),
        )

    @property
    def is_first_page(self) -> bool:
        return self.before is None and self.after is None

    @property
    def query_first_page(self) -> str:
        """The query string of the first page with these filters (where new runs are)."""
        return self.query(before=None, after=None)

    def query(self, **changes: Any) -> str:
        """The query string ("?…", or "" when empty) for these filters with changes."""
        changed = replace(self, **changes)
        pairs = [
            (key, value)
            for key, value in (
                ("status", changed.status),
                ("q", changed.q),
                ("failures", "1" if changed.failures else ""),
                ("before", changed.before),
                ("after", changed.after),
            )
            if value not in ("", None)
        ]
        return f"?{urlencode(pairs)}" if pairs else ""


@dataclass
class RunPage:
    """One page of the list: active runs (first page only) and finished runs, newest first."""

    filters: RunFilters
    active: list[OperationProgress] = field(default_factory=list)
    finished: list[OperationProgress] = field(default_factory=list)
    older: str | None = None  # query string of the next older page, None on the last
    newer: str | None = None  # query string of the next newer page, None on the first

    @property
    def runs(self) -> list[OperationProgress]:
        return [*self.active, *self.finished]

    @property
    def floor(self) -> int:
        """The oldest run id this page holds (0 when no older page): live runs older than
        this belong to the next page."""
        return self.finished[-1].pk if self.older and self.finished else 0

    @property
    def ceiling(self) -> int | None:
        """The newest run id an older page holds (None on the first page, which grows)."""
        return None if self.filters.is_first_page or not self.finished else self.finished[0].pk


def run_page(runs: Any, filters: RunFilters, *, size: int = PAGE_SIZE) -> RunPage:
    """The page of runs (a queryset the user may see) that the filters ask for."""
    matching = matching_runs(runs.select_related("created_by"), filters)
    page = RunPage(filters=filters)
    if filters.is_first_page:
        page.active = list(matching.filter(status__in=ACTIVE_STATUSES)[:MAX_ACTIVE])
    finished = matching.filter(status__in=FINAL_STATUSES)
    if filters.after is not None:
        page.finished = list(finished.filter(pk__gt=filters.after).order_by("pk")[:size])[::-1]
    elif filters.before is not None:
        page.finished = list(finished.filter(pk__lt=filters.before).order_by("-pk")[:size])
    else:
        page.finished = list(finished.order_by("-pk")[:size])
    has_newer = not filters.is_first_page and _has_newer(finished, page, size)
    if page.finished and finished.filter(pk__lt=page.finished[-1].pk).exists():
        page.older = filters.query(before=page.finished[-1].pk, after=None)
    if has_newer and page.finished:
        page.newer = filters.query(before=None, after=page.finished[0].pk)
    elif not filters.is_first_page:
        page.newer = filters.query(before=None, after=None)  # the newer page is the first
    return page


def matching_runs(runs: Any, filters: RunFilters) -> Any:
    """The runs (a queryset) that the filters' status, search and "Has failures" keep; the
    one filter rule of the list page, its live summary (progress.sockets.shown) and paging."""
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.q:
        runs = runs.filter(search_filter(filters.q))
    if filters.failures:
        runs = runs.with_failures()
    return runs


def _has_newer(finished: Any, page: RunPage, size: int) -> bool:
    """Whether more than a first page's worth of finished runs is newer than this page."""
    if not page.finished:
        return False
    newer = finished.filter(pk__gt=page.finished[0].pk).values("pk")[: size + 1]
    return len(newer) > size


def search_filter(text: str) -> Q:
    """Runs matching every word of text in their name, title, parameters, files or owner."""
    condition = Q()
    for word in search_words(text):
        condition &= _word_filter(word)
    return condition


def search_words(text: str) -> list[str]:
    """The words of a search that count: no lone punctuation, at most MAX_SEARCH_WORDS."""
    words = [w for w in text[:MAX_SEARCH_TEXT].split() if not set(w) <= PUNCTUATION]
    return words[:MAX_SEARCH_WORDS]


def _word_filter(word: str) -> Q:
    titled = [p.name for p in pipelines.available() if word.lower() in p.title.lower()]
    condition = (
        Q(operation_name__icontains=word)
        | Q(operation_name__in=titled)
        | Q(created_by__username__icontains=word)
    )
    for key in searchable_parameters():
        condition |= Q(**{f"metadata__parameters__{key}__icontains": word})
    for index in range(FILES_SEARCHED):
        condition |= Q(**{f"metadata__files__{index}__label__icontains": word})
    number = word.removeprefix("#")
    if number.isascii() and number.isdecimal() and len(number) < 19:
        condition |= Q(pk=int(number))
    return condition


def searchable_parameters() -> list[str]:
    """Parameter names of every registered pipeline, except uploads (stored under random
    names: their files' labels are searched instead)."""
    names: set[str] = set()
    for pipeline in pipelines.available():
        names.update(
            name
            for name in pipeline.parameters().fields
            if name not in pipeline.uploads and name.isidentifier()
        )
    return sorted(names)


# --- descriptions ----------------------------------------------------------------------


def run_description(operation: OperationProgress) -> str:
    """One line saying what the run was asked to do, e.g.
    "Import genes — big.csv → big-synthetic, by curator"."""
    metadata = operation.metadata if isinstance(operation.metadata, dict) else {}
    owner = operation.created_by.get_username() if operation.created_by is not None else ""
    return describe(
        name=str(metadata.get("pipeline") or operation.operation_name),
        parameters=metadata.get("parameters"),
        labels=[str(e.get("label") or "") for e in files.run_files(metadata, files.UPLOAD)],
        owner=owner,
    )


def describe(*, name: str, parameters: Any, labels: Iterable[str], owner: str = "") -> str:
    """The description from its parts: the pipeline's title, its inputs, who started it.

    A pipeline may describe its own runs: a describe_run(parameters, labels) -> str
    attribute on its registration replaces the inputs part.
    """
    pipeline = _pipeline(name)
    title = pipeline.title if pipeline is not None else name.replace("_", " ").capitalize()
    hook: Callable[..., str] | None = getattr(pipeline, "describe_run", None)
    values = parameters if isinstance(parameters, dict) else {}
    if hook is not None:
        inputs = str(hook(values, list(labels)) or "")
    else:
        inputs = _inputs(pipeline, values, [label for label in labels if label])
    text = f"{title} — {inputs}" if inputs else title
    return f"{text}, by {owner}" if owner else text


def _inputs(pipeline: pipelines.Pipeline | None, values: dict[str, Any], labels: list[str]) -> str:
    """The files read, then the other values that matter: "big.csv → big-synthetic"."""
    uploads = pipeline.uploads if pipeline is not None else ()
    fields = pipeline.parameters().fields if pipeline is not None else {}
    shown = []
    for key, value in values.items():
        if key in uploads or value in (None, "", [], {}):
            continue
        if _is_default_option(fields.get(key), value):
            continue
        shown.append(_value_text(key, value, fields.get(key)))
    source = ", ".join(labels)
    target = ", ".join(text for text in shown if text)
    if source and target:
        return f"{source} → {target}"
    return source or target


def _is_default_option(field: Any, value: Any) -> bool:
    """An option left at its default (a format of "auto") says nothing about the run."""
    if not isinstance(field, serializers.ChoiceField | serializers.BooleanField):
        return False
    return field.default is not serializers.empty and field.default == value


def _value_text(key: str, value: Any, field: Any) -> str:
    if value is True:
        return str(getattr(field, "label", None) or key.replace("_", " "))
    if value is False:
        return ""
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= MAX_VALUE_TEXT else text[: MAX_VALUE_TEXT - 1] + "…"


def _pipeline(name: str) -> pipelines.Pipeline | None:
    try:
        return pipelines.get(name)
    except pipelines.UnknownPipeline:
        return None


def pipeline_titles() -> dict[str, str]:
    """Every registered pipeline's title by name, for descriptions built in the browser."""
    return {p.name: p.title for p in pipelines.available()}


def _cursor(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isascii() and text.isdecimal() and 0 < len(text) < 19 else None


def duration_text(seconds: float | None) -> str:
    """A duration as the pages' format.js writes it: "42 s", "3 min 5 s", "2 h 10 min"."""
    if seconds is None:
        return ""
    total = max(0, int(seconds))
    for unit, size, small_unit, small_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "min", 60),
        ("min", 60, "s", 1),
    ):
        if total >= size:
            big, rest = divmod(total, size)
            small = rest // small_size
            return f"{big} {unit} {small} {small_unit}" if small else f"{big} {unit}"
    return "under 1 s" if seconds < 1 else f"{total} s"


# --- rows without JavaScript (list-page.js renders the same with render.js) -------------


def run_label(title: str, run_id: int, description: str) -> str:
    """The run link's name: "Import genes #12 — big.csv, by ann" (run-list.js runLabel).

    A description that starts with the title (every pipeline run's does) is not told twice.
    """
    base = f"{title} #{run_id}"
    if description == title or description.startswith(f"{title} "):
        return base + description[len(title) :]
    return f"{base}: {description}" if description else base


# Runs that ended less than this long ago "just" ended (timesince says "0 minutes").
JUST_NOW_SECONDS = 60

STATUS_ICONS: dict[str, str] = {
    Status.QUEUED: "○",
    Status.RUNNING: "●",
    Status.COMPLETED: "✓",
    Outcome.COMPLETED_WITH_FAILURES: "⚠",
    Status.FAILED: "✕",
    Status.CANCELLED: "■",
    Status.STALLED: "!",
}


def time_text(operation: OperationProgress, seconds: float | None) -> str:
    """When a row's run ran: "running 3 min", "took 42 s · 5 minutes ago", "queued"."""
    if operation.status == Status.QUEUED:
        return "queued"
    if operation.is_active:
        return f"running {duration_text(seconds)}" if seconds is not None else ""
    took = f"took {duration_text(seconds)}" if seconds is not None else ""
    ended = operation.completed_at or operation.updated_at
    ago = ""
    if ended is not None:
        recent = (timezone.now() - ended).total_seconds() < JUST_NOW_SECONDS
        ago = "just now" if recent else f"{timesince(ended).split(',')[0]} ago"
    return " · ".join(part for part in (took, ago) if part)


# A run's counters and their words, in the order pages show them (render.js countsText).
COUNT_WORDS = (
    ("items_added", "added"),
    ("items_updated", "updated"),
    ("items_unchanged", "unchanged"),
    ("items_skipped", "skipped"),
    ("items_failed", "failed"),
)


def counts_text(data: dict[str, Any]) -> str:
    """ "120 added · 288 unchanged · 1 failed", zeros left out; "No changes" when all are 0."""
    parts = [f"{data.get(key) or 0:,} {word}" for key, word in COUNT_WORDS if data.get(key)]
    return " · ".join(parts) or "No changes"


def stage_items_text(data: dict[str, Any]) -> str:
    """ "stage 3 of 4: score, 0 of 276 curations" for a staged run, "" otherwise: the
    stage's items in its own unit (render.js stageItemsText, lower-cased)."""
    stage = (data.get("metadata") or {}).get("stage")
    if not isinstance(stage, dict) or not stage.get("index"):
        return ""
    text = f"stage {stage['index']}" + (f" of {stage['count']}" if stage.get("count") else "")
    text += f": {stage['name']}" if stage.get("name") else ""
    unit = stage.get("unit") or "items"
    current, total = data.get("current_item") or 0, data.get("total_items")
    if total is not None:
        return f"{text}, {current:,} of {total:,} {unit}"
    return f"{text}, {current:,} {unit}" if current else text


def result_text(data: dict[str, Any]) -> str:
    """A run's one line: what it is doing, or how it ended (from its wire data)."""
    status = data.get("status")
    if status in ACTIVE_STATUSES:
        return str(data.get("current_operation") or "")
    if status == Status.COMPLETED:
        return counts_text(data)
    if status == Status.CANCELLED:
        stage = stage_items_text(data)
        return f"Stopped on request in {stage}" if stage else "Stopped on request"
    return str(data.get("error_message") or "The run stopped without a message.")
