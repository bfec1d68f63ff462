"""The HTTP surface: Segment-compatible ingest, the management API, and health."""
