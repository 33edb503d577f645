"""Screenshots of the console's main pages for docs/console.md, from a seeded service:

    .venv/bin/python -m tests.console.screenshots [--out docs/images]

A private Redis and PostgreSQL, the default model and policy, a few dozen scored
transactions (some reviewed, labelled, on lists), then Chromium logs in as an analyst and as
an admin and saves each page as a PNG.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from feature_store.redis_server import RedisServer
from record import schema
from record.server import PostgresServer, create_database, database_url
from tests.console.browser import chromium, watched
from tests.service.conftest import KEYS, RunningService, auth, settings_for, transaction

PAGES = (
    ("queue", "/console/queue"),
    ("case", "/console/cases/{case}"),
    ("decisions", "/console/decisions?card_id={card}"),
    ("decision", "/console/decisions/{reviewed}"),
    ("rules", "/console/rules"),
    ("lists", "/console/lists/blocked_cards"),
    ("status", "/console/status"),
)


def seed(http: httpx.Client) -> dict[str, str]:
    """Traffic with something to look at: reviews, a decline, shadow matches, labels."""
    ns = "demo-"
    variants: list[dict[str, Any]] = []
    for number in range(24):
        changes: dict[str, Any] = {"amount": 20.0 + 7 * number}
        if number % 6 == 0:  # large and cross-border: reviewed
            changes.update(amount=2600.0, device={"id": f"{ns}dev", "ip_country": "BR"})
        if number % 8 == 3:  # a disposable e-mail domain: reviewed
            changes["customer"] = {"id": f"{ns}c{number}", "email_domain": "mailinator.com"}
        if number % 5 == 1:  # many cards on one device: the shadow rule
            changes["card"] = {"id": f"{ns}card{number}", "bin": "424242", "country": "FR"}
        if number % 7 == 2:  # a card of its own in review: a case of its own
            changes["card"] = {"id": f"{ns}card{number}", "bin": "535353", "country": "DE"}
            changes["customer"] = {"id": f"{ns}c{number}", "email_domain": "mailinator.com"}
        variants.append(changes)
    ids = []
    for number, changes in enumerate(variants):
        body = transaction(ns, number, **changes)
        reply = http.post("/v1/score", json=body, headers=auth("score"))
        reply.raise_for_status()
        ids.append(body["transaction_id"])
    _wait_recorded(http, ids[-1])
    for transaction_id, label in ((ids[0], "confirmed_fraud"), (ids[12], "chargeback"),
                                  (ids[18], "confirmed_legitimate")):  # fmt: skip
        http.post(
            "/v1/feedback", json={"transaction_id": transaction_id, "label": label},
            headers=auth("feedback"),
        ).raise_for_status()  # fmt: skip
    for name, entries in (
        ("blocked_cards", ["tok_4f2a", "tok_77c1"]),
        ("blocked_ips", ["198.51.100.0/24"]),
    ):
        http.post(
            f"/v1/admin/lists/{name}", json={"entries": entries, "note": "chargeback 8812"},
            headers=auth("admin"),
        ).raise_for_status()  # fmt: skip
    case = _first_case(http, f"{ns}card")
    http.post(f"/v1/cases/{case}/claim", json={"note": "on it"}, headers=auth("analyst"))
    return {"card": f"{ns}card", "reviewed": ids[12], "case": str(case)}


def _first_case(http: httpx.Client, card_id: str) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = http.get("/v1/cases", params={"card_id": card_id}, headers=auth("analyst"))
        found = reply.json()["cases"]
        if found:
            return int(found[0]["case_id"])
        time.sleep(0.1)
    raise RuntimeError(f"no case opened on {card_id} within 30 s")


def _wait_recorded(http: httpx.Client, transaction_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = http.get(f"/v1/decisions/{transaction_id}", headers=auth("analyst"))
        if reply.status_code == 200 and reply.json()["recorded"]:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{transaction_id} was not recorded within 30 s")


def shoot(service: RunningService, values: dict[str, str], out: Path, executable: str) -> None:
    base = service.url.replace("127.0.0.1", "localhost")
    with chromium(executable) as browser:
        lists = [entry for entry in PAGES if entry[0] == "lists"]
        others = [entry for entry in PAGES if entry[0] != "lists"]
        for scope, pages in (("analyst", others), ("admin", lists)):
            watched_page = watched(browser, base)
            page = watched_page.page
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto("/console/login")
            if scope == "analyst":
                page.screenshot(path=str(out / "console-login.png"))
            page.fill("input[name=api_key]", KEYS[scope])
            page.click("button[type=submit]")
            page.wait_for_url("**/console/**")
            for name, path in pages:
                page.goto(path.format(**values))
                page.screenshot(path=str(out / f"console-{name}.png"), full_page=True)
            if watched_page.violations():
                raise RuntimeError(f"CSP violations: {watched_page.violations()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args(argv)
    executable = shutil.which("chromium")
    if executable is None:
        print("no Chromium: apt-get install chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with RedisServer() as redis_server, PostgresServer(fsync=False) as postgres:
        name = f"riskscore_demo_{uuid.uuid4().hex[:8]}"
        create_database(postgres.admin_url, name)
        url = database_url(postgres.admin_url, name)
        schema.upgrade(url)
        spool = Path(tempfile.mkdtemp(prefix="riskscore-demo-spool-"))
        settings = settings_for(redis_server.url, database_url=url, spool_dir=spool)
        service = RunningService.start(settings)
        try:
            with service.client() as http:
                values = seed(http)
            shoot(service, values, args.out, executable)
        finally:
            service.stop()
            shutil.rmtree(spool, ignore_errors=True)
    print(f"screenshots in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
