"""Seed: "Client Configuration", "Authentication" and "Connection Pooling"."""

import os

from freepik_ai_orchestrator import OrchestrationClient

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")

client = OrchestrationClient(
    base_url=BASE_URL,
    api_key=API_KEY,
    timeout=30,
    max_retries=3,
    retry_backoff=2.0
)

# API key authentication
client = OrchestrationClient(
    base_url=BASE_URL,
    api_key=API_KEY
)

# Bearer token authentication (a JWT, or an API key sent as a bearer token)
client = OrchestrationClient(
    base_url=BASE_URL,
    bearer_token=API_KEY
)

# Connection pooling
client = OrchestrationClient(
    base_url=BASE_URL,
    api_key=API_KEY,
    max_connections=10,
    keep_alive=True
)

print(f"{len(client.list_models())} models reachable at {client.base_url}")
client.close()
