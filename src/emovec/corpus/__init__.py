"""Corpora: reading and validating story tables, generating them with a chat model, prompts, story splitting and QC."""
