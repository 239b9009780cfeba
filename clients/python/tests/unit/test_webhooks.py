"""verify_webhook() against signatures made by the reference Standard Webhooks library."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from freepik_ai_orchestrator import WEBHOOK_EVENTS, WebhookVerificationError, verify_webhook
from tests.support import REPO_ROOT

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = json.dumps({"type": "generation.succeeded", "data": {"id": "gen_1", "status": "succeeded"}})


def _headers(body: str = BODY, *, at: float | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    sent = datetime.fromtimestamp(int(at if at is not None else time.time()), tz=timezone.utc)
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(int(sent.timestamp())),
        "Webhook-Signature": Webhook(SECRET).sign(msg_id, sent, body),
    }


def test_valid_delivery_returns_the_event() -> None:
    event = verify_webhook(BODY.encode(), _headers(), SECRET)
    assert event["type"] == "generation.succeeded" and event["data"]["id"] == "gen_1"
    assert verify_webhook(BODY, _headers(), SECRET) == event  # str bodies too


def test_any_of_several_signatures_may_match() -> None:
    headers = _headers()
    headers["Webhook-Signature"] = "v1,AAAA " + headers["Webhook-Signature"]
    assert verify_webhook(BODY, headers, SECRET)["data"]["status"] == "succeeded"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace("succeeded", "failed")),
        lambda h, b: ({**h, "Webhook-Id": "msg_2"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "Webhook-Signature"}, b),
        lambda h, b: ({**h, "Webhook-Signature": "v2," + h["Webhook-Signature"][3:]}, b),
    ],
)
def test_tampered_or_incomplete_deliveries_are_refused(tamper) -> None:
    headers, body = tamper(_headers(), BODY)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, SECRET)


def test_wrong_secret_and_stale_timestamp_are_refused() -> None:
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(BODY, _headers(), other)
    old = _headers(at=time.time() - 600)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, old, SECRET)
    assert verify_webhook(BODY, old, SECRET, tolerance=900)["type"] == "generation.succeeded"


def test_webhook_events_are_the_servers_subscribable_events() -> None:
    # The server's list (openapi.json) and this client's agree, budget alerts included.
    api = json.loads((REPO_ROOT / "openapi.json").read_text())
    events = api["components"]["schemas"]["WebhookCreate"]["properties"]["events"]["items"]["enum"]
    assert list(WEBHOOK_EVENTS) == events
    assert "budget.threshold_crossed" in WEBHOOK_EVENTS


def test_a_budget_alert_delivery_verifies_like_any_event() -> None:
    body = json.dumps(
        {
            "type": "budget.threshold_crossed",
            "timestamp": "2026-12-02T20:00:00Z",
            "data": {"object": "budget_alert", "scope": "key", "key_id": "key_1", "threshold": 80},
        }
    )
    event = verify_webhook(body, _headers(body), SECRET)
    assert event["type"] == "budget.threshold_crossed" and event["data"]["threshold"] == 80
