from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "curation"
    verbose_name = "Gene curation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the curation operations as launchable pipelines."""
        from curation import launch_parameters as params
        from curation import tasks
        from progress.pipelines import Pipeline, register

        register(
            Pipeline(
                name="curation_pipeline",
                title="Run curation pipeline",
                description="Refresh a scope's genes from its panels; validate, score, summarise.",
                task=tasks.curation_pipeline_task,
                parameters=params.ScopePipelineParameters,
            )
        )
        register(
            Pipeline(
                name="gene_import",
                title="Import genes",
                description="Import a panel JSON, CSV or TSV gene list into a scope.",
                task=tasks.gene_import_task,
                parameters=params.GeneImportParameters,
                uploads=("file",),
            )
        )
        register(
            Pipeline(
                name="calculate_scores",
                title="Calculate scores",
                description="Score curations from their evidence per ClinGen SOP v11.",
                task=tasks.calculate_scores_task,
                parameters=params.OptionalScopeParameters,
            )
        )
        register(
            Pipeline(
                name="validate_schemas",
                title="Validate schemas",
                description="Validate schema definitions and every curation's evidence.",
                task=tasks.validate_schemas_task,
                parameters=params.OptionalScopeParameters,
            )
        )
