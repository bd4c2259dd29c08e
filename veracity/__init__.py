"""Veracity: provenance, forgery and likeness checks for photos, videos and voice."""

__version__ = "0.1.0"
TOOL_NAME = "veracity"
