"""Slack-compatible webhook delivery (`{"text": ...}`) with bounded retries and exponential backoff.

The URL is a secret (Slack's carries its token): it is resolved by Dagster at launch,
and never logged, put in metadata or echoed in an error; failures are described by
status code or exception type only.
"""

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

WEBHOOK_ENV = "METERING_ALERT_WEBHOOK_URL"
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    error: str = ""


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts go; an empty URL means alerts are stored only."""

    url: str = Field(default="", description=f"Slack-compatible incoming webhook; from {WEBHOOK_ENV}")
    attempts: int = Field(default=4, description="Tries per message before it stays pending")
    backoff_seconds: float = Field(default=1.0, description="First wait between tries; doubles each time")
    timeout_seconds: float = Field(default=5.0)

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def send(self, text: str) -> Delivery:
        error = ""
        for attempt in range(1, self.attempts + 1):
            retry, error = self._post_once(text)
            if not error:
                return Delivery(True, attempt)
            if not retry or attempt == self.attempts:
                return Delivery(False, attempt, error)
            time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return Delivery(False, self.attempts, error)

    def _post_once(self, text: str) -> tuple[bool, str]:
        """(worth retrying, error description or '' on success)."""
        body = json.dumps({"text": text}).encode()
        try:
            request = urllib.request.Request(self.url, data=body, method="POST", headers={"Content-Type": "application/json"})
        except ValueError:
            return False, "invalid webhook URL"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                response.read()
            return False, ""
        except urllib.error.HTTPError as exc:
            return exc.code in RETRYABLE_STATUS, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            return True, f"{type(exc).__name__}: {_scrub(str(reason), self.url)}"


def _scrub(text: str, url: str) -> str:
    return text.replace(url, "***") if url else text


def alert_webhook() -> AlertWebhook:
    """The resource for definitions.py: the env var resolved at launch, or no webhook when it is unset."""
    return AlertWebhook(url=dg.EnvVar(WEBHOOK_ENV) if WEBHOOK_ENV in os.environ else "")
