"""The client side of labtrack: Task, Logger, the API client, transport, capture, offline sync."""
