"""unireps.viz."""
