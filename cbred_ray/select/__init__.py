"""Cluster scoring and the reduction (pure functions, no Ray)."""
