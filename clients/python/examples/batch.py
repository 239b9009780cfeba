"""Seed: "generate_batch()" and "Batch Processing"."""

import os

from freepik_ai_orchestrator import OrchestrationClient

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")

client = OrchestrationClient(base_url=BASE_URL, api_key=API_KEY)

responses = client.generate_batch(
    prompts=["Prompt 1", "Prompt 2", "Prompt 3"],
    model="dall-e-3",
    batch_size=3
)

# Process multiple prompts efficiently
prompts = ["Prompt 1", "Prompt 2", "Prompt 3"]
responses = client.generate_batch(prompts=prompts, model="dall-e-3")

# One item per prompt, in order: a generation when it succeeded, an error when it failed.
for item in responses:
    if item.ok:
        print(f"{item.prompt}: {item.image_url}")
    else:
        print(f"{item.prompt}: failed: {item.error.message if item.error else 'unknown'}")
print(f"{responses.succeeded} succeeded, {responses.failed} failed, total ${responses.total_cost}")
client.close()
