"""The client's models and methods against the committed ``openapi.json``: a field, schema or
operation the server adds, removes or retypes fails here until this client follows (or says here
why it does not)."""

from __future__ import annotations

import inspect
import json
import types
import typing
from datetime import date, datetime
from typing import Any

import pydantic
import pytest

from freepik_ai_orchestrator import AsyncOrchestrationClient, OrchestrationClient, models
from freepik_ai_orchestrator import _webhook_models as webhook_models
from tests.support import REPO_ROOT

API = json.loads((REPO_ROOT / "openapi.json").read_text())
SCHEMAS: dict[str, Any] = API["components"]["schemas"]

# Every response schema the client parses, and the model that parses it.
MODELLED: dict[str, type[pydantic.BaseModel]] = {
    "GenerationResponse": models.GenerationResponse,
    "ImageOut": models.ImageInfo,
    "ErrorInfo": models.GenerationError,
    "FailedAttempt": models.FailedAttempt,
    "SourceOut": models.SourceImage,
    "GenerationPage": models.GenerationList,
    "ModelInfo": models.ModelInfo,
    "OperationInfo": models.OperationInfo,
    "ModelList": models.ModelList,
    "UsageStats": models.UsageStats,
    "UsageBucket": models.UsageBucket,
    "BudgetStatus": models.BudgetStatus,
    "BatchResponse": models.BatchResponse,
    "BatchItem": models.BatchItem,
    "WebhookOut": webhook_models.WebhookEndpoint,
    "WebhookCreated": webhook_models.WebhookEndpointCreated,
    "WebhookList": webhook_models.WebhookEndpointList,
    "DeliveryOut": webhook_models.WebhookDelivery,
    "DeliveryList": webhook_models.WebhookDeliveryList,
}
# Request bodies, and the method whose parameters build them (snake_case, as on the wire).
REQUESTS: dict[str, tuple[str, set[str]]] = {
    "GenerateRequest": ("generate", set()),
    "BatchRequest": ("generate_batch", set()),
    "WebhookCreate": ("create_webhook", set()),
    "WebhookUpdate": ("update_webhook", set()),
}
NOT_MODELLED = {
    "ErrorBody": "read by exception_for_error() (exceptions.py), field by field",
    "ErrorEnvelope": "read by exception_for_error()",
    "ErrorCode": "the error codes: clients/spec/conformance.json (error_codes) drives the mapping",
    "ErrorType": "the envelope types: read by exception_for_error()",
    "HTTPValidationError": "FastAPI's default; the server answers validation errors with ErrorEnvelope",
    "ValidationError": "part of HTTPValidationError",
    "Readiness": "the body of /readyz, an operations probe",
    "ImageGenerationRequest": "the OpenAI-compatible /v1 surface, for OpenAI's own SDKs",
    "ImageData": "the OpenAI-compatible /v1 surface",
    "ImagesResponse": "the OpenAI-compatible /v1 surface",
    "OpenAIModel": "the OpenAI-compatible /v1 surface",
    "OpenAIModelList": "the OpenAI-compatible /v1 surface",
    "KeyCreate": "API keys are managed with the server CLI and the dashboard",
    "KeyCreated": "API key management",
    "KeyList": "API key management",
    "KeyOut": "API key management",
    "KeyDefaults": "API key management",
    "GalleryItem": "the team gallery is used from the dashboard and plain HTTP, not from this client",
    "GalleryPage": "the team gallery",
    "Deleted": "the team gallery",
    "BoardName": "the team gallery",
    "BoardOut": "the team gallery",
    "BoardList": "the team gallery",
    "GenerationIds": "the team gallery",
}
# Every operation, and the client methods that call it.
OPERATIONS = {
    "generate": ["generate", "submit"],
    "generateBatch": ["generate_batch"],
    "listGenerations": ["get_generation_history"],
    "getGeneration": ["get_generation", "wait_for"],
    "cancelGeneration": ["cancel"],
    "streamGenerationEvents": ["stream_events"],
    "getImage": ["download"],
    "listModels": ["list_models"],
    "getModel": ["get_model_info"],
    "getUsage": ["get_usage_stats"],
    "createWebhook": ["create_webhook"],
    "listWebhooks": ["list_webhooks"],
    "getWebhook": ["get_webhook"],
    "deleteWebhook": ["delete_webhook"],
    "listWebhookDeliveries": ["list_webhook_deliveries"],
    "updateWebhook": ["update_webhook", "pause_webhook", "resume_webhook"],
    "testWebhook": ["send_test_webhook"],
    "editImage": ["edit"],
    "createImageVariation": ["create_variation"],
    "upscaleImage": ["upscale"],
    "removeImageBackground": ["remove_background"],
    "imageToImage": ["image_to_image"],
}
# The image operations' JSON bodies are inline in openapi.json (not components).
INLINE_REQUESTS = {
    "editImage": "edit",
    "createImageVariation": "create_variation",
    "upscaleImage": "upscale",
    "removeImageBackground": "remove_background",
    "imageToImage": "image_to_image",
}
NOT_CALLED = {
    "healthz": "operations probe",
    "readyz": "operations probe",
    "metrics": "Prometheus scrape endpoint",
    "openaiCreateImage": "OpenAI-compatible surface, for OpenAI's own SDKs",
    "openaiListModels": "OpenAI-compatible surface",
    "openaiGetModel": "OpenAI-compatible surface",
    "listKeys": "API key management (server CLI, dashboard)",
    "createKey": "API key management",
    "revokeKey": "API key management",
    **dict.fromkeys(
        (
            "searchGallery",
            "getGalleryItem",
            "deleteGalleryItem",
            "restoreGalleryItem",
            "starGalleryItem",
            "unstarGalleryItem",
            "downloadGalleryItems",
            "listBoards",
            "createBoard",
            "renameBoard",
            "deleteBoard",
            "addBoardItems",
            "removeBoardItem",
            "downloadBoard",
        ),
        "the team gallery (dashboard, plain HTTP)",
    ),
    "openaiEditImage": "OpenAI-compatible surface, for OpenAI's own SDKs",
    "openaiCreateImageVariation": "OpenAI-compatible surface, for OpenAI's own SDKs",
}

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (float, int),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return list(schema.get("anyOf") or schema.get("oneOf") or [schema])


def _schema_types(schema: dict[str, Any]) -> tuple[set[type], bool]:
    """The Python types a property's values can have, and whether it can be null."""
    found: set[type] = set()
    nullable = False
    for variant in _variants(schema):
        if "$ref" in variant:
            found.add(MODELLED[variant["$ref"].rsplit("/", 1)[1]])
        elif variant.get("type") == "null":
            nullable = True
        elif variant.get("format") == "date-time":
            found.add(datetime)
        elif variant.get("format") == "date":
            found.add(date)
        elif "type" in variant:
            found.update(_JSON_TYPES[variant["type"]])
        elif "const" in variant or "enum" in variant:
            found.add(str)
    return found, nullable


def _annotation_types(annotation: Any) -> tuple[set[type], bool]:
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    found: set[type] = set()
    for arg in args:
        origin = typing.get_origin(arg) or arg
        if arg is type(None):
            continue
        found.add(origin)
    return found, type(None) in args


def _ids(mapping: dict[str, Any]) -> list[str]:
    return list(mapping)


def test_every_schema_is_modelled_or_excused() -> None:
    known = set(MODELLED) | set(REQUESTS) | set(NOT_MODELLED)
    assert set(SCHEMAS) - known == set(), "new schemas in openapi.json: model them here or say why not"
    assert known - set(SCHEMAS) == set(), "schemas this test names that the server no longer has"


@pytest.mark.parametrize("schema_name", _ids(MODELLED))
def test_a_model_has_exactly_the_schemas_fields(schema_name: str) -> None:
    model = MODELLED[schema_name]
    properties = SCHEMAS[schema_name]["properties"]
    fields = set(model.model_fields)
    assert set(properties) - fields == set(), (
        f"{schema_name}: fields the server sends that {model.__name__} lacks"
    )
    assert fields - set(properties) == set(), f"{model.__name__}: fields the server does not send"


@pytest.mark.parametrize("schema_name", _ids(MODELLED))
def test_a_models_field_types_match_the_schema(schema_name: str) -> None:
    model = MODELLED[schema_name]
    hints = typing.get_type_hints(model)
    for name, prop in SCHEMAS[schema_name]["properties"].items():
        wire, wire_nullable = _schema_types(prop)
        ours, ours_nullable = _annotation_types(hints[name])
        if wire_nullable:
            assert ours_nullable, (
                f"{schema_name}.{name} can be null on the wire; {model.__name__} must allow None"
            )
        if any(issubclass(t, pydantic.BaseModel) for t in wire):
            assert wire <= ours, f"{schema_name}.{name}: {wire} vs {ours}"
        elif wire == {dict} and any(issubclass(t, pydantic.BaseModel) for t in ours):
            continue  # a free-form object the client reads into a model of the fields it knows
        elif datetime in wire or date in wire:
            assert ours & wire, f"{schema_name}.{name}: {wire} vs {ours}"
        else:
            assert ours & wire or (ours == {Any}), (
                f"{schema_name}.{name}: the wire has {wire}, we have {ours}"
            )


@pytest.mark.parametrize("schema_name", _ids(REQUESTS))
@pytest.mark.parametrize("cls", [OrchestrationClient, AsyncOrchestrationClient])
def test_a_request_bodys_fields_are_parameters(schema_name: str, cls: type) -> None:
    method, renamed = REQUESTS[schema_name]
    parameters = set(inspect.signature(getattr(cls, method)).parameters)
    missing = set(SCHEMAS[schema_name]["properties"]) - parameters - renamed
    assert missing == set(), f"{cls.__name__}.{method}() cannot send {schema_name} fields {missing}"


def test_every_operation_is_called_or_excused() -> None:
    operations = {op["operationId"] for path in API["paths"].values() for op in path.values()}
    assert operations - set(OPERATIONS) - set(NOT_CALLED) == set(), "new operations: call them or say why not"
    assert (set(OPERATIONS) | set(NOT_CALLED)) - operations == set(), "operations the server no longer has"
    for methods in OPERATIONS.values():
        for method in methods:
            assert callable(getattr(OrchestrationClient, method))
            assert callable(getattr(AsyncOrchestrationClient, method))


def _operation(operation_id: str) -> dict[str, Any]:
    for path in API["paths"].values():
        for op in path.values():
            if op["operationId"] == operation_id:
                return dict(op)
    raise AssertionError(f"no operation {operation_id}")


@pytest.mark.parametrize("operation_id", _ids(INLINE_REQUESTS))
@pytest.mark.parametrize("cls", [OrchestrationClient, AsyncOrchestrationClient])
def test_an_image_operations_body_fields_are_parameters(operation_id: str, cls: type) -> None:
    content = _operation(operation_id)["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    method = INLINE_REQUESTS[operation_id]
    parameters = set(inspect.signature(getattr(cls, method)).parameters)
    for media in content.values():
        missing = set(media["schema"]["properties"]) - parameters
        assert missing == set(), f"{cls.__name__}.{method}() cannot send {missing}"
