"""Seed: "list_models()", "get_model_info()", "get_usage_stats()", "get_generation_history()"."""

import os

from freepik_ai_orchestrator import OrchestrationClient

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")

client = OrchestrationClient(base_url=BASE_URL, api_key=API_KEY)

models = client.list_models()
for model in models:
    print(f"{model.name}: {model.description}")

model_info = client.get_model_info("dall-e-3")
print(f"Max resolution: {model_info.max_resolution}")
print(f"Supported styles: {model_info.supported_styles}")

stats = client.get_usage_stats(
    start_date="2024-01-01",
    end_date="2024-01-31"
)
print(f"Total generations: {stats.total_generations}")
print(f"Cost: ${stats.total_cost}")

history = client.get_generation_history(
    limit=50,
    filter_by_model="dall-e-3"
)
# len() is this page; iterating walks every page, fetching the next one as needed.
print(f"History: {len(history)} on the first page, more: {history.has_more}")
for generation in history:
    print(f"  {generation.created_at:%Y-%m-%d %H:%M} {generation.id} {generation.prompt[:40]!r}")
client.close()
