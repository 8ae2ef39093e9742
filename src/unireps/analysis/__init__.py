"""unireps.analysis."""
