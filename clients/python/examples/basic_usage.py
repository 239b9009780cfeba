"""Seed: "Basic Usage"."""

import os

from freepik_ai_orchestrator import OrchestrationClient

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")

# Initialize client
client = OrchestrationClient(
    base_url=BASE_URL,
    api_key=API_KEY
)

# Generate content
response = client.generate(
    prompt="A beautiful sunset over mountains",
    model="dall-e-3",
    style="photorealistic"
)

print(f"Generated image URL: {response.image_url}")
