"""Analysis (numpy/scipy only): emotion sets, human norms, geometry per layer, statistics, comparisons and `analyze`."""
