"""The registry of launchable pipelines. Domain apps register theirs; progress knows none.

A pipeline is a Django task that takes an OperationProgress id plus keyword parameters,
and a DRF serializer that validates those parameters (and describes them to the API
and the pages). @tracked_task (progress/tasks.py) makes both from one function and
registers them; by hand, register from an AppConfig.ready():

    pipelines.register(Pipeline(name="curation_pipeline", title="Run pipeline",
                                task=curation_pipeline_task, parameters=PipelineParams))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

__all__ = ["START_PERMISSION", "Pipeline", "UnknownPipeline", "available", "get", "register"]

START_PERMISSION = "progress.start_pipeline"


class UnknownPipeline(LookupError):
    """No pipeline has that name."""


@dataclass(frozen=True)
class Pipeline:
    name: str
    title: str
    task: Any  # django.tasks.Task taking (operation_id, **parameters)
    parameters: type[serializers.Serializer[Any]]
    description: str = ""
    permission: str = START_PERMISSION
    uploads: tuple[str, ...] = field(default=())  # parameters that are uploaded files

    def describe(self, *, user: Any = None) -> dict[str, Any]:
        """The pipeline and its parameters as user may use them, for the API and the forms."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "parameters": [
                _describe_field(name, f) for name, f in self.bound_fields(user=user).items()
            ],
        }

    def bound_fields(self, *, user: Any = None) -> dict[str, Any]:
        """The parameters' fields, bound to a serializer whose context names the user, so
        fields whose values are data (a user's scopes) offer only what user may use."""
        return dict(self.parameters(context={"user": user}).fields)

    def suggest(self, field_name: str, *, user: Any, search: str = "") -> tuple[list[str], int]:
        """A field's suggestions for user containing search, bounded, and how many more."""
        field = self.bound_fields(user=user).get(field_name)
        suggest = getattr(field, "suggestions", None)
        if not callable(suggest):
            known = ", ".join(self.parameters().fields) or "none"
            raise LookupError(
                f"{self.name} has no parameter {field_name!r} with suggestions; its parameters: "
                f"{known}"
            )
        values, more = suggest(search=search)
        return list(values), int(more)


_registry: dict[str, Pipeline] = {}


def register(pipeline: Pipeline) -> None:
    """Make pipeline launchable under its name (replacing one of that name)."""
    _registry[pipeline.name] = pipeline


def get(name: str) -> Pipeline:
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise UnknownPipeline(f"No pipeline named {name!r}; known pipelines: {known}") from None


def available(user: Any = None) -> list[Pipeline]:
    """Registered pipelines, only those the user may start when a user is given."""
    pipelines = sorted(_registry.values(), key=lambda p: p.name)
    if user is None:
        return pipelines
    return [p for p in pipelines if user.has_perm(p.permission)]


def _describe_field(name: str, field: serializers.Field[Any, Any, Any, Any]) -> dict[str, Any]:
    description: dict[str, Any] = {
        "name": name,
        "label": str(field.label or name.replace("_", " ").capitalize()),
        "required": field.required,
        "help": str(field.help_text or ""),
        "type": _field_type(field),
    }
    if isinstance(field, serializers.ChoiceField):
        description["choices"] = [str(key) for key in field.choices]
    suggest = getattr(field, "suggestions", None)
    if callable(suggest):
        # Values that are data (scopes) are suggested, never a closed list: there may be
        # thousands, so a field offers a bounded few and the API searches the rest.
        values, more = suggest()
        description["suggestions"] = list(values)
        description["more_suggestions"] = int(more)
        description["new_values"] = bool(getattr(field, "creates_new_values", False))
    if field.default is not serializers.empty:
        description["default"] = field.default
    return description


def _field_type(field: serializers.Field[Any, Any, Any, Any]) -> str:
    if isinstance(field, serializers.FileField):
        return "file"
    if isinstance(field, serializers.ChoiceField):
        return "select"
    if isinstance(field, serializers.IntegerField | serializers.FloatField):
        return "number"
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    return "text"


def unregister(name: str) -> Pipeline | None:
    """Remove a pipeline (tests, or an app that replaces another's); returns it."""
    return _registry.pop(name, None)
