"""Data: the manifest contract, the image store, splits, views and the synthetic set."""
