"""One tracked task: it shows up in /api/v1/pipelines/ and the list page's start forms."""

from rest_framework import serializers

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
