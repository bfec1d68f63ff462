"""The ingest pipeline: group commit of validated events into the event store."""
