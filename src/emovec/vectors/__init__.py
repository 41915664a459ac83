"""Vectors: contrast vectors from activations, neutral-PC denoising, their formats (safetensors, community npz)
and exports (GGUF)."""
