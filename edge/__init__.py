"""The FastAPI edge: REST→gRPC transcoding, SSE/NDJSON and WebSocket bridges for streaming
RPCs, and the OpenAPI 3.1 document, all built from the descriptor set."""

from edge.app import create_app, run
from edge.settings import EdgeSettings

__all__ = ["EdgeSettings", "create_app", "run"]
