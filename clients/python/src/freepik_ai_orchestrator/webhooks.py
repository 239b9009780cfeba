"""Verifying the orchestrator's webhooks (Standard Webhooks 1.0), with the standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from .exceptions import OrchestrationError

_SECRET_PREFIX = "whsec_"


class WebhookVerificationError(OrchestrationError):
    """The webhook is not authentic (bad or missing signature) or is too old or too new."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> Any:
    """Check a webhook delivery and return its parsed JSON event.

    ``payload`` must be the raw request body, byte for byte; ``headers`` the request's headers
    (any case); ``secret`` the endpoint's ``whsec_…`` secret, shown when it was created. Deliveries
    are retried with the same ``webhook-id``: use it to ignore duplicates.

    Raises :class:`WebhookVerificationError` if a header is missing, no ``v1`` signature matches,
    or the timestamp is more than ``tolerance`` seconds from now (replayed or forged).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a Unix time") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise WebhookVerificationError("webhook timestamp is outside the tolerance")
    body = payload if isinstance(payload, bytes) else payload.encode()
    key = secret[len(_SECRET_PREFIX) :] if secret.startswith(_SECRET_PREFIX) else secret
    try:
        key_bytes = base64.b64decode(key + "==")
    except ValueError:
        raise WebhookVerificationError("the secret is not a whsec_ secret") from None
    signed = f"{msg_id}.{sent_at}.".encode() + body
    expected = hmac.new(key_bytes, signed, hashlib.sha256).digest()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value)
        except ValueError:
            continue
        if hmac.compare_digest(expected, given):
            return json.loads(body)
    raise WebhookVerificationError("no matching webhook signature")
