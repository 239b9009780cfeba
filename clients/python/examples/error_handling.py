"""Seed: "Error Handling". Run it with a bad key to see "Invalid API key"."""

import os

from freepik_ai_orchestrator import OrchestrationClient
from freepik_ai_orchestrator.exceptions import (
    AuthenticationError,
    ModelNotAvailableError,
    OrchestrationError,
    RateLimitError,
)

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")

client = OrchestrationClient(base_url=BASE_URL, api_key=API_KEY)

try:
    response = client.generate(
        prompt="Beautiful landscape",
        model="dall-e-3"
    )
except AuthenticationError:
    print("Invalid API key")
except RateLimitError as e:
    print(f"Rate limit exceeded. Retry after: {e.retry_after}")
except ModelNotAvailableError:
    print("Requested model is not available")
except OrchestrationError as e:
    print(f"Generation failed: {e.message}")
else:
    print(f"Generated image URL: {response.image_url}")
finally:
    client.close()
