"""Using a model: top classes of image files, and its error by the paper's testing methods."""
