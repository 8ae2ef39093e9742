"""unireps.report."""
