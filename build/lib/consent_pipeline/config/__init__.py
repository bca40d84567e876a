"""Configuration: the company's rules (YAML under rules/) and the run's paths."""

from consent_pipeline.config.rules import Rules, RulesError, load_rules
from consent_pipeline.config.settings import Settings

__all__ = ["Rules", "RulesError", "Settings", "load_rules"]
