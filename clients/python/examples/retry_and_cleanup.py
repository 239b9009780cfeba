"""Seed: "Retry Logic" and "Resource Cleanup".

The client already retries rate limits, timeouts and 5xx by itself (see README "Retries"); this
manual loop is for waits longer than the client's 30 s cap, which it hands back to you.
"""

import os
import random
import time

from freepik_ai_orchestrator import OrchestrationClient
from freepik_ai_orchestrator.exceptions import RateLimitError

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")


def generate_with_retry(client, prompt, max_retries=3):
    for attempt in range(max_retries):
        try:
            return client.generate(prompt=prompt, model="dall-e-3")
        except RateLimitError:
            if attempt == max_retries - 1:
                raise
            wait_time = (2 ** attempt) + random.uniform(0, 1)
            time.sleep(wait_time)


client = OrchestrationClient(base_url=BASE_URL, api_key=API_KEY)
try:
    response = client.generate(prompt="Test", model="dall-e-3")
    print(f"Generated image URL: {response.image_url}")
    print(f"With retry: {generate_with_retry(client, 'Test again').image_url}")
finally:
    client.close()
