"""Probing: read emotion vectors off text, token by token, and detection batteries with nulls."""
