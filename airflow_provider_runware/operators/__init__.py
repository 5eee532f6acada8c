"""Operators of the Runware provider."""
