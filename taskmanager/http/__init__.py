"""The HTTP layer: FastAPI routes that talk to the actors only through messages."""
