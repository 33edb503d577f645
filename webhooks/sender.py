"""One HTTP attempt of a delivery: the signed POST, with timeouts, and redirects followed
only on the same scheme, host and port (and only 307/308, which keep the POST and its body).

worker -> `Sender.send(due, secret)` -> (ok, HTTP status, why it failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from webhooks.deliveries import Due
from webhooks.signing import EVENT_ID_HEADER, EVENT_KIND_HEADER, SIGNATURE_HEADER, sign

USER_AGENT = "riskscore-webhooks/1"
KEPT_METHOD_REDIRECTS = (307, 308)
MAX_ERROR_CHARACTERS = 500


@dataclass(frozen=True)
class Sent:
    ok: bool
    http_status: int | None
    error: str | None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), parts.hostname, port


class Sender:
    """Sends deliveries over one pooled httpx client (at most `max_connections` at once).

    >>> sender = Sender(timeout_seconds=10, max_connections=16)
    >>> sent = await sender.send(due, secret)
    """

    def __init__(
        self,
        timeout_seconds: float,
        max_connections: int,
        max_redirects: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.max_redirects = max_redirects
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
            limits=httpx.Limits(max_connections=max_connections),
            follow_redirects=False,  # followed here, on the same origin only
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    async def send(self, due: Due, secret: str) -> Sent:
        """POST the delivery; any answer but a 2xx, and any transport error, is a failure."""
        body = due.body()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body),
            EVENT_ID_HEADER: due.event_id,
            EVENT_KIND_HEADER: due.kind,
        }
        url = due.url
        try:
            for _ in range(self.max_redirects + 1):
                response = await self.client.post(url, content=body, headers=headers)
                if not response.is_redirect:
                    return self._answered(response)
                url, refusal = self._redirect(url, response)
                if refusal:
                    return Sent(False, response.status_code, refusal)
        except httpx.HTTPError as exc:
            return Sent(False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARACTERS])
        return Sent(False, response.status_code, f"more than {self.max_redirects} redirects")

    @staticmethod
    def _answered(response: httpx.Response) -> Sent:
        if response.is_success:
            return Sent(True, response.status_code, None)
        return Sent(False, response.status_code, f"HTTP {response.status_code}")

    @staticmethod
    def _redirect(url: str, response: httpx.Response) -> tuple[str, str | None]:
        """Where a redirect goes, or why it is not followed."""
        status = response.status_code
        location = urljoin(url, response.headers.get("location", ""))
        if status not in KEPT_METHOD_REDIRECTS:
            return location, f"HTTP {status} redirect not followed (only 307/308 keep the POST)"
        if _origin(location) != _origin(url):
            return location, f"HTTP {status} redirect to another origin refused"
        return location, None

    async def aclose(self) -> None:
        await self.client.aclose()
