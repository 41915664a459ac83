"""Models: loading (hub ids, local folders, bundled models), residual blocks, layer specs, hooks and validation."""
