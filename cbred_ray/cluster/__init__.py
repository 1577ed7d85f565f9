"""Clustering of computational-graph features (pure functions, no Ray)."""
