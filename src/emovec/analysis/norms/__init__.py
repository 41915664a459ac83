"""Human valence/arousal norms: file parsers, the registry of known sets, loading, matching and fetching."""
