"""Alerts to named owners: email over SMTP and Slack-compatible webhooks, grouped and throttled.

An :class:`Alert` names the flow, the owner, what broke, how many records (and
which), and what to do. Alerts with the same ``key`` (``dead-letter:orders-to-erp``)
are one problem: the first is sent at once, later ones within the channel's
``throttle`` window are gathered and sent as one digest when the window ends, so
a 429 storm makes one mail, not a thousand. When the problem is resolved
(:meth:`Alerter.resolve`), a recovery notice goes to the same people.

Channels come from the plan's ``alerts:``; the SMTP server from ``runtime.smtp``
(or ``DOOHICKEY_SMTP_HOST``/``DOOHICKEY_SMTP_PORT``). Sending failures are logged
and kept for the next flush; they never stop the engine.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.errors import redact

log = logging.getLogger(__name__)
MAX_LISTED = 20  # records listed by id in one message; the rest are counted


@dataclass(frozen=True)
class Alert:
    """One thing a person must know: what broke, for whom, which records, what to do."""

    key: str
    kind: str
    channel: str
    title: str
    owner: str = ""
    flow: str = ""
    records: tuple[str, ...] = ()
    detail: str = ""
    action: str = ""


@dataclass(frozen=True)
class Message:
    """A rendered alert for one channel: subject, plain text, and the Slack-style JSON body."""

    channel: str
    subject: str
    text: str
    key: str
    recovery: bool = False

    def slack_body(self) -> dict[str, object]:
        """A Slack-compatible incoming-webhook body (``text`` plus one section block)."""
        return {"text": self.subject,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{self.subject}*\n{self.text}"}}]}


@dataclass
class _Open:
    """A problem that has been alerted: when, and what gathered since."""

    first: Alert
    sent_at: datetime
    pending: list[Alert] = field(default_factory=list)


@dataclass(frozen=True)
class SmtpSettings:
    """Where alert mail goes out."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "doohickey@localhost"
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False


@dataclass(frozen=True)
class Channel:
    """An alert channel from the plan: email recipients and/or a webhook URL, and its throttle."""

    name: str
    email: tuple[str, ...] = ()
    webhook: str | None = None
    throttle: timedelta = timedelta(minutes=15)


Sender = Callable[[Channel, Message], Awaitable[None]]


def render(alert: Alert, gathered: list[Alert] | None = None) -> Message:
    """Words for a person: what broke, the owner, how many records and which, and what to do."""
    alerts = [alert, *(gathered or [])]
    records = sorted({r for a in alerts for r in a.records})
    count = len(records) or len(alerts)
    noun = "record" if count == 1 else "records"
    subject = f"[doohickey] {alert.title}" + (f" ({count} {noun})" if count > 1 else "")
    lines = [alert.title, ""]
    if alert.flow:
        lines.append(f"Flow: {alert.flow}")
    if alert.owner:
        lines.append(f"Owner: {alert.owner}")
    lines.append(f"Records concerned: {count}")
    lines += [f"  - {r}" for r in records[:MAX_LISTED]]
    if len(records) > MAX_LISTED:
        lines.append(f"  ... and {len(records) - MAX_LISTED} more")
    details = sorted({a.detail for a in alerts if a.detail})
    if details:
        lines += ["", "What happened:"] + [f"  {d}" for d in details[:5]]
    if alert.action:
        lines += ["", f"What to do: {alert.action}"]
    return Message(alert.channel, subject, redact("\n".join(lines)), alert.key)


def render_recovery(alert: Alert, gathered: int = 0) -> Message:
    """The all-clear for a problem that was alerted (``gathered``: occurrences since the last message)."""
    text = f"Resolved: {alert.title}\n" + (f"Flow: {alert.flow}\n" if alert.flow else "") + \
        (f"Owner: {alert.owner}\n" if alert.owner else "") + \
        (f"It happened {gathered} more time(s) after the last message before it was resolved.\n" if gathered else "")
    return Message(alert.channel, f"[doohickey] Resolved: {alert.title}", text, alert.key, recovery=True)


class Alerter:
    """Groups, throttles and sends alerts to the plan's channels."""

    def __init__(self, channels: dict[str, Channel], *, senders: list[Sender] | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.channels = channels
        self.senders = senders if senders is not None else []
        self.clock = clock
        self.open: dict[str, _Open] = {}
        self.sent: list[Message] = []

    async def raise_alert(self, alert: Alert) -> Message | None:
        """Send ``alert`` now if its problem is new; otherwise gather it for the next digest."""
        if alert.channel not in self.channels:
            log.error("alert for unknown channel %r: %s", alert.channel, alert.title)
            return None
        current = self.open.get(alert.key)
        if current is not None:
            current.pending.append(alert)
            return await self._digest_if_due(alert.key)
        self.open[alert.key] = _Open(alert, self.clock.now())
        return await self._send(render(alert))

    async def flush(self) -> list[Message]:
        """Send the digests whose throttle window has ended (call it periodically)."""
        sent = [await self._digest_if_due(key) for key in list(self.open)]
        return [m for m in sent if m is not None]

    async def resolve(self, key: str) -> Message | None:
        """Announce recovery of an alerted problem; alerts gathered since the last message are only counted."""
        current = self.open.pop(key, None)
        if current is None:
            return None
        return await self._send(render_recovery(current.first, len(current.pending)))

    async def _digest_if_due(self, key: str) -> Message | None:
        current = self.open[key]
        throttle = self.channels[current.first.channel].throttle
        if not current.pending or self.clock.now() - current.sent_at < throttle:
            return None
        batch, current.pending = current.pending, []
        current.sent_at = self.clock.now()
        return await self._send(render(batch[0], batch[1:]))

    async def _send(self, message: Message) -> Message:
        channel = self.channels[message.channel]
        for sender in self.senders:
            try:
                await sender(channel, message)
            except Exception as exc:  # an alert channel failing must never stop the engine
                log.warning("alert channel %s could not be reached: %s", channel.name, redact(str(exc)))
        self.sent.append(message)
        return message


def email_sender(smtp: SmtpSettings) -> Sender:
    """A sender that mails the channel's recipients through ``smtp`` (in a thread: smtplib blocks)."""

    async def send(channel: Channel, message: Message) -> None:
        if channel.email:
            await asyncio.to_thread(_send_mail, smtp, channel.email, message)

    return send


def _send_mail(smtp: SmtpSettings, recipients: tuple[str, ...], message: Message) -> None:
    mail = EmailMessage()
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(recipients)
    mail["Subject"] = message.subject
    mail["X-Doohickey-Alert"] = message.key
    mail.set_content(message.text)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(mail)


def webhook_sender(transport: httpx.AsyncBaseTransport | None = None) -> Sender:
    """A sender that posts the Slack-compatible JSON body to the channel's webhook URL."""

    async def send(channel: Channel, message: Message) -> None:
        if channel.webhook:
            async with httpx.AsyncClient(transport=transport, timeout=10) as client:
                response = await client.post(channel.webhook, json=message.slack_body())
                response.raise_for_status()

    return send


def smtp_from_env(environ: dict[str, str] | None = None) -> SmtpSettings | None:
    """SMTP settings from ``DOOHICKEY_SMTP_HOST``/``_PORT``/``_FROM``/``_USER``/``_PASSWORD``/``_STARTTLS``.

    ``None`` when no host is set: email channels are then logged, not sent. The password is read from
    the environment like every other secret, never from the plan.
    """
    import os

    env = os.environ if environ is None else environ
    host = env.get("DOOHICKEY_SMTP_HOST")
    if not host:
        return None
    return SmtpSettings(host=host, port=int(env.get("DOOHICKEY_SMTP_PORT", "25")),
                        sender=env.get("DOOHICKEY_SMTP_FROM", "doohickey@localhost"),
                        username=env.get("DOOHICKEY_SMTP_USER", ""), password=env.get("DOOHICKEY_SMTP_PASSWORD", ""),
                        starttls=env.get("DOOHICKEY_SMTP_STARTTLS", "") in ("1", "true", "yes"))


def alerter_for_plan(plan: object, *, clock: Clock = SYSTEM_CLOCK, smtp: SmtpSettings | None = None,
                     transport: httpx.AsyncBaseTransport | None = None) -> Alerter:
    """An Alerter for the plan's ``alerts:`` channels: webhooks always, email when SMTP is configured."""
    channels = {name: Channel(name, tuple(channel.email), channel.webhook, channel.throttle)
                for name, channel in getattr(plan, "alerts", {}).items()}
    senders = [webhook_sender(transport)]
    smtp = smtp or smtp_from_env()
    if smtp is not None:
        senders.append(email_sender(smtp))
    return Alerter(channels, senders=senders, clock=clock)
