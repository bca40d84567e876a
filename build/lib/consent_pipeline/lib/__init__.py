"""Small shared helpers used by connectors and core stages alike."""
