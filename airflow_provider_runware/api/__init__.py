"""Runware's wire protocol: request and result types, error codes, retry and poll timing. No run state."""
