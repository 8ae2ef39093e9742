"""Model architectures written in plain torch (loaded with checkpoints from elsewhere)."""
