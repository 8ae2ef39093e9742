"""unireps.models."""
