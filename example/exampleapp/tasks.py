"""Two tracked tasks: they show up in /api/v1/pipelines/ and the list page's start forms.
count_lines takes an upload: the app stores it and passes the task its storage name."""

from rest_framework import serializers

from progress.files import file_open
from progress.tasks import tracked_task


class SheepParameters(serializers.Serializer):
    sheep = serializers.IntegerField(min_value=1, max_value=10_000, default=10)


@tracked_task(title="Count sheep", parameters=SheepParameters)
def count_sheep(tracker, *, sheep: int = 10) -> dict[str, int]:
    """Count sheep, one item each."""
    for _ in tracker.track(range(sheep)):
        tracker.advance(0, added=1)
    tracker.attach_file("sheep.txt", f"{sheep} sheep\n".encode())
    return {"sheep": sheep}


class LinesParameters(serializers.Serializer):
    file = serializers.FileField(help_text="A text file; one item per line.")


@tracked_task(title="Count lines", parameters=LinesParameters, uploads=("file",))
def count_lines(tracker, *, file: str) -> dict[str, int]:
    """Count an uploaded file's lines, one item each."""
    with file_open(file) as stored:
        lines = stored.read().splitlines()
    for _ in tracker.track(lines):
        tracker.advance(0, added=1)
    return {"lines": len(lines)}
