"""unireps.app."""
