"""Gene curation: genes, scopes, curation schemas and gene-disease curations."""

from __future__ import annotations

import re
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

HGNC_ID = re.compile(r"^HGNC:(\d+)$")
# HGNC ids have at most 6 digits today; 10 leaves room and fits Gene.hgnc_id.
MAX_HGNC_DIGITS = 10


class InvalidHgncId(ValueError):
    """A value that cannot be read as an HGNC id."""


def normalize_hgnc_id(value: object) -> str:
    """Return 'HGNC:<digits>' for 'HGNC:42', 'hgnc:42', '42' or 42; else raise InvalidHgncId."""
    text = str(value).strip()
    prefix, colon, digits = text.partition(":")
    if not colon:
        digits = text
    elif prefix.upper() != "HGNC":
        digits = ""
    # isdigit() accepts "²" and other digits int() refuses: ASCII decimal only.
    if digits.isascii() and digits.isdecimal():
        if len(digits) > MAX_HGNC_DIGITS:
            raise InvalidHgncId(
                f"{_shown(text)} has {len(digits)} digits; HGNC ids have at most "
                f"{MAX_HGNC_DIGITS} (write HGNC:<digits>, e.g. HGNC:42)"
            )
        return f"HGNC:{int(digits)}"
    raise InvalidHgncId(
        f"{_shown(text)} is not an HGNC id; write HGNC:<digits> (e.g. HGNC:42) or the digits"
    )


def _shown(text: str) -> str:
    """text quoted for a message, cut so a hostile value cannot flood it."""
    return repr(text if len(text) <= 40 else text[:39] + "…")


def data_folder() -> Path:
    """The folder scope sources must lie in (CURATION_DATA_DIR), resolved."""
    return Path(settings.CURATION_DATA_DIR).resolve()


def source_path(source: object) -> Path:
    """A scope source as a path inside the data folder; else raise ValidationError.

    Sources are relative to the project folder (BASE_DIR), e.g. data/kidney-panels/cegat.json.
    Absolute paths, '..' and links that lead out of the data folder are refused, so whoever
    may edit a scope cannot make the pipeline read other server files.
    """
    folder = data_folder()
    hint = (
        f"write a path inside the data folder {folder} (CURATION_DATA_DIR), relative to "
        f"the project folder, e.g. data/kidney-panels/cegat.json"
    )
    if not isinstance(source, str) or not source.strip():
        raise ValidationError(f"Source {source!r} is not a path; {hint}")
    relative = PurePath(source)
    if relative.is_absolute() or PureWindowsPath(source).is_absolute() or ".." in relative.parts:
        raise ValidationError(f"Source {_shown(source)} is refused (absolute or '..'); {hint}")
    path = (Path(settings.BASE_DIR) / relative).resolve()
    if not path.is_relative_to(folder):
        raise ValidationError(f"Source {_shown(source)} leads outside the data folder; {hint}")
    return path


def validate_sources(value: object) -> None:
    """Scope.sources: a list of paths inside the data folder."""
    if not isinstance(value, list):
        raise ValidationError(
            'Sources must be a list of paths, e.g. ["data/kidney-panels/cegat.json"]'
        )
    for source in value:
        source_path(source)


class Gene(models.Model):
    """A gene as HGNC names it; hgnc_id is the identity, symbols can change."""

    hgnc_id = models.CharField(max_length=20, unique=True)
    approved_symbol = models.CharField(max_length=50, db_index=True)
    previous_symbols = models.JSONField(default=list, blank=True)
    alias_symbols = models.JSONField(default=list, blank=True)
    chromosome = models.CharField(max_length=10, blank=True, default="")
    location = models.CharField(max_length=50, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["approved_symbol"]

    def __str__(self) -> str:
        return f"{self.approved_symbol} ({self.hgnc_id})"


class Scope(models.Model):
    """A named collection of genes a team curates, such as "kidney-genetics"."""

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    genes = models.ManyToManyField(Gene, through="ScopeGene", related_name="scopes")
    # Files the scope's genes are imported from; the pipeline's first stage refreshes them.
    sources = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_sources],
        help_text="Gene files inside the data folder (CURATION_DATA_DIR), relative to the "
        "project folder, e.g. data/kidney-panels/cegat.json.",
    )
    summary = models.JSONField(default=dict, blank=True)
    # Who may import into it and run pipelines on it (curation/scope_access.py). NULL: a
    # shared scope (seeded, made by a command, or older than owners), staff's to write.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="curation_scopes",
        help_text="Who may import into and run pipelines on this scope; empty: staff only.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            (
                "use_any_scope",
                "Can import into and run pipelines on every scope, and change genes "
                "that other scopes share",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refuse sources outside the data folder, whoever saves (admin, shell, code)."""
        validate_sources(self.sources)
        super().save(*args, **kwargs)


class ScopeGene(models.Model):
    """A gene's membership of a scope, with the panels that list it."""

    scope = models.ForeignKey(Scope, on_delete=models.CASCADE)
    gene = models.ForeignKey(Gene, on_delete=models.CASCADE)
    panels = models.JSONField(default=list, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "gene"], name="unique_scope_gene")]

    def __str__(self) -> str:
        return f"gene {self.gene_id} in scope {self.scope_id}"


class CurationSchema(models.Model):
    """Field definitions, validation rules, workflow states and scoring of a curation form."""

    name = models.CharField(max_length=100, unique=True)
    version = models.CharField(max_length=20, default="1")
    definition = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class CurationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class Curation(models.Model):
    """One gene-disease-inheritance assertion in a scope, scored per its schema."""

    scope = models.ForeignKey(Scope, on_delete=models.CASCADE, related_name="curations")
    gene = models.ForeignKey(Gene, on_delete=models.PROTECT, related_name="curations")
    disease = models.CharField(max_length=255)
    mondo_id = models.CharField(max_length=20, blank=True, default="")
    inheritance = models.CharField(max_length=30)
    schema = models.ForeignKey(CurationSchema, on_delete=models.PROTECT, related_name="curations")
    evidence = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=CurationStatus.choices, default=CurationStatus.DRAFT
    )
    genetic_score = models.FloatField(null=True, blank=True)
    experimental_score = models.FloatField(null=True, blank=True)
    total_score = models.FloatField(null=True, blank=True)
    classification = models.CharField(max_length=40, blank=True, default="")
    score_breakdown = models.JSONField(default=dict, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    validation_report = models.JSONField(default=dict, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scope", "gene__approved_symbol"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "gene", "disease", "inheritance"], name="unique_curation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.gene.approved_symbol} - {self.disease} ({self.inheritance})"

    def form_record(self) -> dict[str, Any]:
        """The curation as its schema sees it: identifying columns plus the evidence."""
        return {
            "hgnc_id": self.gene.hgnc_id,
            "mondo_id": self.mondo_id,
            "inheritance": self.inheritance,
            **(self.evidence or {}),
        }
