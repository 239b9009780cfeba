"""Beyond the seed: submit a job, follow its events, wait for it, download the image."""

import os
import sys
import tempfile
from pathlib import Path

from freepik_ai_orchestrator import OrchestrationClient

BASE_URL = os.environ.get("ORCHESTRATOR_BASE_URL", "http://localhost:8000")
API_KEY = os.environ.get("ORCHESTRATOR_API_KEY", "your-api-key")

with OrchestrationClient(base_url=BASE_URL, api_key=API_KEY) as client:
    job = client.submit(prompt="A lighthouse in a storm", model="dall-e-3", size="1792x1024")
    print(f"submitted {job.id}: {job.status}")
    for event in client.stream_events(job.id):
        print(f"  {event.event}: progress {event.data.progress}")
    done = client.wait_for(job.id)
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    for path in client.download(done, out_dir):  # out_dir/<generation id>-<index>.png
        print(f"saved {path} ({path.stat().st_size} bytes)")
