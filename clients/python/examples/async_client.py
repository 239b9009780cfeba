"""Seed: "Async Client"."""

import asyncio
import os

from freepik_ai_orchestrator import AsyncOrchestrationClient

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")


async def generate_async():
    client = AsyncOrchestrationClient(
        base_url=BASE_URL,
        api_key=API_KEY
    )

    response = await client.generate(
        prompt="Async generation test",
        model="dall-e-3"
    )

    await client.close()
    return response


async def generate_many():
    # High throughput: one pooled client, many concurrent generations.
    async with AsyncOrchestrationClient(base_url=BASE_URL, api_key=API_KEY) as client:
        prompts = [f"Async generation {i}" for i in range(5)]
        return await asyncio.gather(*(client.generate(prompt=p, model="dall-e-3") for p in prompts))


# Run async generation
response = asyncio.run(generate_async())
print(f"Generated image URL: {response.image_url}")
print(f"Concurrent: {len(asyncio.run(generate_many()))} images")
