"""The networks: architecture table, layer names, the one block factory, layers, builder and public entries."""
