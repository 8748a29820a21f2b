"""Datasets shipped with twinlab: the virtual clinic and the published literature targets.

In a wheel they are the data-only package `twinlab.datasets`; find them with `twinlab.core.shipped_path`."""
