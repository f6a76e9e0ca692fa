"""Messaging ports (SMS, email) and their AWS adapters (SNS, SES v2).

Domain code depends on the ports; handlers take an optional port so tests pass a fake.
Adapters map AWS errors to domain errors: an opted-out number is ``OptedOutError``,
throttling is ``RetryableError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from functions.core import aws
from functions.core.settings import get_settings


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar"
    data: bytes


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...] = field(default=())


class SmsPort(Protocol):
    def send_sms(self, to: str, body: str) -> str:
        """Send one SMS to an E.164 number; returns the provider's message id."""
        ...


class EmailPort(Protocol):
    def send_email(self, email: Email) -> str:
        """Send one email; returns the provider's message id."""
        ...


class SnsSms:
    """SMS through SNS ``Publish`` to a phone number (transactional)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    def send_sms(self, to: str, body: str) -> str:
        sns = self._client or aws.client("sns")
        attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        origination = get_settings().sms_origination_number
        if origination:
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": origination}
        response = aws.call("sns", "Publish", sns.publish, PhoneNumber=to, Message=body,
                            MessageAttributes=attributes)
        return str(response["MessageId"])


class SesEmail:
    """Email through SES v2 ``SendEmail`` (simple content, or raw MIME when there are attachments)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    def send_email(self, email: Email) -> str:
        ses = self._client or aws.client("sesv2")
        settings = get_settings()
        kwargs: dict[str, Any] = {
            "FromEmailAddress": settings.sender_email,
            "Destination": {"ToAddresses": [email.to]},
        }
        if settings.ses_configuration_set:
            kwargs["ConfigurationSetName"] = settings.ses_configuration_set
        if email.attachments:
            from email.message import EmailMessage

            message = EmailMessage()
            message["From"] = settings.sender_email
            message["To"] = email.to
            message["Subject"] = email.subject
            message.set_content(email.text)
            for item in email.attachments:
                main, _, sub = item.content_type.partition("/")
                message.add_attachment(item.data, maintype=main, subtype=sub, filename=item.filename)
            kwargs["Content"] = {"Raw": {"Data": message.as_bytes()}}
        else:
            kwargs["Content"] = {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}},
                }
            }
        response = aws.call("sesv2", "SendEmail", ses.send_email, **kwargs)
        return str(response["MessageId"])
