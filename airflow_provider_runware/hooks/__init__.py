"""Hooks of the Runware provider."""
