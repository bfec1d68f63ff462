"""Behavioural segments: their definition language, validation and (later) compilation to SQL."""
