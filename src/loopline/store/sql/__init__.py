"""The operational store on SQLAlchemy Core: SQLite embedded, PostgreSQL on a server."""
