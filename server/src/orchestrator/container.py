"""The process-wide objects ``create_app`` wires together, reachable from requests as one value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from orchestrator.auth.service import KeyService
from orchestrator.catalog.catalog import Catalog
from orchestrator.db.engine import Database
from orchestrator.gallery.service import GalleryService
from orchestrator.generation.batch import BatchService
from orchestrator.generation.events import EventHub
from orchestrator.generation.reading import ReadService
from orchestrator.generation.routing import Router
from orchestrator.generation.service import GenerationService
from orchestrator.generation.waiting import WaitService
from orchestrator.generation.worker import WorkerPool
from orchestrator.limits.concurrency import ConcurrencyGate
from orchestrator.limits.rate import RateLimiter
from orchestrator.limits.streams import StreamSlots
from orchestrator.observability.metrics import Metrics
from orchestrator.settings import Settings
from orchestrator.storage.base import Storage
from orchestrator.storage.signing import UrlSigner
from orchestrator.storage.thumbnails import Thumbnails
from orchestrator.webhooks.dispatcher import WebhookDispatcher
from orchestrator.webhooks.service import WebhookService

if TYPE_CHECKING:  # loaded only where Redis is configured
    from redis.asyncio import Redis

    from orchestrator.generation.bus import RedisEventBus


@dataclass
class Services:
    settings: Settings
    db: Database
    catalog: Catalog
    router: Router
    hub: EventHub
    keys: KeyService
    generations: GenerationService
    batches: BatchService
    reading: ReadService
    waiting: WaitService
    pool: WorkerPool | None
    storage: Storage
    thumbnails: Thumbnails
    signer: UrlSigner
    rate_limiter: RateLimiter
    http: httpx.AsyncClient
    metrics: Metrics
    webhooks: WebhookService
    gallery: GalleryService
    webhook_dispatcher: WebhookDispatcher | None = None
    redis: Redis | None = None
    bus: RedisEventBus | None = None
    concurrency: ConcurrencyGate | None = None
    streams: StreamSlots = field(default_factory=lambda: StreamSlots(20))
