"""unireps.zoo."""
