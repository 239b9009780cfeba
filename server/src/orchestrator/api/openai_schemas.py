"""The OpenAI-compatible door's JSON shapes: the `images.generate` body and the answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictInt

from orchestrator.api.inputs import SafeText
from orchestrator.api.schemas import CacheChoice, Prompt, StrictBody


class ImageGenerationRequest(StrictBody):
    """OpenAI's `images.generate` body. Options a gateway cannot honour are refused, not ignored."""

    prompt: Prompt
    model: SafeText = Field(
        default="dall-e-2", min_length=1, max_length=64, description="Any catalog model (OpenAI's default)."
    )
    n: StrictInt = Field(default=1, ge=1, description="Images to generate.")
    size: SafeText | None = Field(default=None, max_length=16, description="`WIDTHxHEIGHT` or `auto`.")
    quality: SafeText | None = Field(
        default=None, max_length=16, description="One of the model's qualities, or `auto`."
    )
    style: SafeText | None = Field(default=None, max_length=64, description="One of the model's styles.")
    response_format: Literal["url", "b64_json"] | None = Field(
        default=None, description="`url` (a signed link to the stored image) or `b64_json`."
    )
    user: SafeText | None = Field(
        default=None, max_length=256, description="Your end user; kept in metadata."
    )
    safety_identifier: SafeText | None = Field(default=None, max_length=256, description="Kept in metadata.")
    background: Literal["transparent", "opaque", "auto"] | None = Field(
        default=None, description="gpt-image models; `auto` is the default everywhere."
    )
    moderation: Literal["low", "auto"] | None = Field(
        default=None, description="gpt-image models; `auto` is the default everywhere."
    )
    output_format: Literal["png", "jpeg", "webp"] | None = Field(
        default=None, description="gpt-image models (png elsewhere)."
    )
    output_compression: StrictInt | None = Field(
        default=None, ge=0, le=100, description="jpeg/webp output on gpt-image models."
    )
    stream: bool | None = Field(
        default=None, description="Answer with Server-Sent Events in OpenAI's image event shapes."
    )
    partial_images: StrictInt | None = Field(
        default=None, ge=0, le=3, description="Partial images to stream, where the provider sends them."
    )
    cache: CacheChoice = Field(
        default=None,
        description='Extension: the result cache. This door sends no seed, so only `"always"` (or '
        "`false`) changes anything: identical requests then share one result at $0.",
    )


class ImageData(BaseModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class ImagesResponse(BaseModel):
    created: int = Field(description="Unix time the images were made.")
    data: list[ImageData]


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]
