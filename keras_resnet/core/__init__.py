"""The contract every layer above shares, importing nothing of the package: argument checks,
atomic file writes, the architecture table, the layer-name contract and the one module that
uses private Keras APIs."""
