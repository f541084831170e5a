"""Email through the configured SMTP server (aiosmtplib): TLS from the start or STARTTLS,
authentication, a text and an HTML part, and List-Unsubscribe."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notification._settings import NotificationSettings


@dataclass(frozen=True, slots=True)
class Letter:
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    message_id: str


class MailError(Exception):
    """The SMTP server refused the message or could not be reached."""


class Mailer:
    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    @property
    def configured(self) -> bool:
        return bool(self._settings.smtp_host)

    def message(self, letter: Letter) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = letter.to
        message["Subject"] = letter.subject
        message["Date"] = formatdate(localtime=False)
        domain = self._settings.smtp_from.rsplit("@", 1)[-1].rstrip(">") or "localhost"
        # Derived from the delivery, so a resend after a crash carries the same id and mail
        # clients fold the copies together.
        message["Message-ID"] = f"<{letter.message_id}@{domain}>"
        message["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(letter.text)
        message.add_alternative(letter.html, subtype="html")
        return message

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._settings.smtp_ca_file or None)

    async def send(self, letter: Letter) -> None:
        settings = self._settings
        security = settings.smtp_security
        password = settings.smtp_password.get_secret_value()
        try:
            await aiosmtplib.send(
                self.message(letter),
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=password or None,
                use_tls=security == "tls",
                start_tls=security == "starttls",
                tls_context=self._tls_context() if security != "none" else None,
                timeout=settings.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as failed:
            raise MailError(str(failed) or type(failed).__name__) from failed
