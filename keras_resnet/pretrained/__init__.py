"""Published weights: the typed registry, verified downloads, file formats, loading and conversion."""
