"""Live progress for long-running Django operations: tracked in the database, pushed over
WebSockets, with pages, an admin and a REST API."""

__version__ = "0.1.0"
