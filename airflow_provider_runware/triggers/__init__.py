"""Triggers of the Runware provider."""
