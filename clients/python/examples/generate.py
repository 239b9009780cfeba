"""Seed: "generate()" with every option."""

import os

from freepik_ai_orchestrator import OrchestrationClient

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")

client = OrchestrationClient(base_url=BASE_URL, api_key=API_KEY)

response = client.generate(
    prompt="Your creative prompt",
    model="dall-e-3",
    style="photorealistic",
    size="1024x1024",
    quality="hd",
    metadata={
        "campaign": "summer-2024",
        "brand": "your-brand"
    }
)

print(f"{response.id}: {response.status}, {response.size} {response.quality}, "
      f"cost ${response.cost} {response.currency}, {response.processing_time:.2f} s")
print(f"Generated image URL: {response.image_url}")
client.close()
