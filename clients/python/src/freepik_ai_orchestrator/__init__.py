"""Python client for the Freepik AI Orchestrator: one API for every AI image model.

>>> from freepik_ai_orchestrator import OrchestrationClient
>>> client = OrchestrationClient(base_url="http://localhost:8000", api_key="sk-test-...")
>>> response = client.generate(prompt="A lighthouse at dusk", model="dall-e-3")
"""

from ._async_client import AsyncOrchestrationClient
from ._base_client import DEFAULT_TIMEOUT
from ._client import OrchestrationClient
from ._inputs import ImageInput
from ._response import APIResponse
from ._types import NOT_GIVEN, CacheOption, NotGiven
from ._version import __version__
from ._webhook_models import (
    WEBHOOK_EVENTS,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookEndpoint,
    WebhookEndpointCreated,
)
from .exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BudgetExceededError,
    ConflictError,
    ContentPolicyError,
    DestinationExistsError,
    InternalServerError,
    InvalidRequestError,
    ModelNotAvailableError,
    NotFoundError,
    OrchestrationError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
)
from .models import (
    BatchError,
    BatchItem,
    BatchResult,
    BudgetStatus,
    FailedAttempt,
    GenerationError,
    GenerationEvent,
    GenerationResponse,
    GenerationResult,
    ImageInfo,
    ModelInfo,
    OperationInfo,
    SourceImage,
    UsageBucket,
    UsageStats,
)
from .pagination import AsyncPage, SyncPage
from .webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "WEBHOOK_EVENTS",
    "APIConnectionError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "AsyncOrchestrationClient",
    "AsyncPage",
    "AuthenticationError",
    "BatchError",
    "BatchItem",
    "BatchResult",
    "BudgetExceededError",
    "BudgetStatus",
    "CacheOption",
    "ConflictError",
    "ContentPolicyError",
    "DestinationExistsError",
    "FailedAttempt",
    "GenerationError",
    "GenerationEvent",
    "GenerationResponse",
    "GenerationResult",
    "ImageInfo",
    "ImageInput",
    "InternalServerError",
    "InvalidRequestError",
    "ModelInfo",
    "ModelNotAvailableError",
    "NotFoundError",
    "NotGiven",
    "OperationInfo",
    "OrchestrationClient",
    "OrchestrationError",
    "PermissionDeniedError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "SourceImage",
    "SyncPage",
    "UsageBucket",
    "UsageStats",
    "WebhookDelivery",
    "WebhookDeliveryList",
    "WebhookEndpoint",
    "WebhookEndpointCreated",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
