"""Sensors of the Runware provider."""
