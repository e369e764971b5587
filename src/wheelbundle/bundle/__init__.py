"""Describing a bundle being made: its manifest, from what was resolved and collected."""
