"""unireps.data."""
