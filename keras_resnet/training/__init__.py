"""Training as in the paper: run configuration, datasets table, recipe, schedules, callbacks, scale-out."""
