"""Alerts reach the named owner: a real SMTP server receives the mail, a webhook receives Slack-style JSON."""

from __future__ import annotations

import email
import json
import mailbox
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from doohickey.clock import ManualClock
from doohickey.engine.alerts import Alert, Alerter, Channel, SmtpSettings, email_sender, webhook_sender
from doohickey.twins.server import TwinServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[SmtpSettings, mailbox.Maildir]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 delivering into a Maildir."""
    maildir = tmp_path / "mail"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Mailbox(str(maildir)), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpSettings(host="127.0.0.1", port=controller.port, sender="doohickey@acme.example"), \
            mailbox.Maildir(str(maildir))
    finally:
        controller.stop()


def dead_letter(order: str) -> Alert:
    return Alert(key="dead-letter:orders-to-erp", kind="dead-letter", channel="ops", flow="orders-to-erp",
                 owner="Order desk (Sam Rivera)", title="Orders could not be written to the ERP",
                 records=(order,), detail=f"ERP rejected sale {order}: product code SKU-123 does not exist",
                 action="Create the product in the ERP, then run: doohickey deadletters replay --flow orders-to-erp")


async def test_first_alert_is_mailed_to_the_owner_with_the_records(smtp: tuple[SmtpSettings, mailbox.Maildir]) -> None:
    settings, box = smtp
    channels = {"ops": Channel("ops", email=("ops@acme.example", "sam@acme.example"))}
    alerter = Alerter(channels, senders=[email_sender(settings)], clock=ManualClock())
    await alerter.raise_alert(dead_letter("#1001"))
    (raw,) = list(box)
    mail = email.message_from_bytes(raw.as_bytes())
    assert mail["To"] == "ops@acme.example, sam@acme.example"
    assert mail["Subject"] == "[doohickey] Orders could not be written to the ERP"
    body = mail.get_payload(decode=True).decode()
    assert "Owner: Order desk (Sam Rivera)" in body and "  - #1001" in body
    assert "product code SKU-123 does not exist" in body and "What to do: Create the product" in body


async def test_repeated_failures_are_grouped_into_one_digest_then_recovery(
        smtp: tuple[SmtpSettings, mailbox.Maildir]) -> None:
    settings, box = smtp
    clock = ManualClock()
    alerter = Alerter({"ops": Channel("ops", email=("ops@acme.example",), throttle=timedelta(minutes=15))},
                      senders=[email_sender(settings)], clock=clock)
    for n in range(1, 51):
        await alerter.raise_alert(dead_letter(f"#{1000 + n}"))
    assert len(list(box)) == 1  # 50 failures, one mail so far
    clock.advance(16 * 60)
    (digest,) = await alerter.flush()
    assert digest.subject.endswith("(49 records)") and "  - #1002" in digest.text
    assert "... and 29 more" in digest.text  # long lists are counted, not pasted
    await alerter.resolve("dead-letter:orders-to-erp")
    subjects = sorted(email.message_from_bytes(m.as_bytes())["Subject"] for m in box)
    assert len(subjects) == 3
    assert "[doohickey] Resolved: Orders could not be written to the ERP" in subjects


async def test_webhook_channel_posts_a_slack_compatible_body() -> None:
    received: list[dict] = []

    async def hook(request: Request) -> JSONResponse:
        received.append(json.loads(await request.body()))
        return JSONResponse({"ok": True})

    with TwinServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        channels = {"ops": Channel("ops", webhook=f"{server.url}/hook")}
        alerter = Alerter(channels, senders=[webhook_sender()], clock=ManualClock())
        await alerter.raise_alert(dead_letter("#2001"))
    (body,) = received
    assert body["text"] == "[doohickey] Orders could not be written to the ERP"
    section = body["blocks"][0]["text"]
    assert section["type"] == "mrkdwn" and "#2001" in section["text"] and "Sam Rivera" in section["text"]


async def test_an_unreachable_channel_does_not_stop_the_engine() -> None:
    alerter = Alerter({"ops": Channel("ops", webhook="http://127.0.0.1:9/hook")}, senders=[webhook_sender()],
                      clock=ManualClock())
    message = await alerter.raise_alert(dead_letter("#3001"))
    assert message is not None and alerter.sent == [message]
