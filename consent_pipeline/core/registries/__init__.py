"""Do-not-call registries (feeds.md §11): which snapshot is in force and whether it is fresh, once a run."""

from consent_pipeline.core.registries.registries import RegistryOutcome, build_registry_status

__all__ = ["RegistryOutcome", "build_registry_status"]
