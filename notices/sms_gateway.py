"""The text-message gateway: the one module that imports `twilio` (Programmable Messaging).

Its API base, account, token and sender come from settings (docs/texts.md), so a local server
that answers as Twilio documents and api.twilio.com are one setting apart: the client's `api`
domain is pointed at TWILIO_API_BASE. Webhook signatures are checked with Twilio's own
RequestValidator, and replies to inbound texts are written as TwiML by Twilio's own builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from core.settings import ConfigError

#: Seconds to wait for Twilio before the text is tried again later.
TIMEOUT = 10


class SmsError(Exception):
    """Twilio refused the message; `code` is Twilio's error code (21211, 21610, ...)."""

    def __init__(self, message: str, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class SmsUnreachable(SmsError):
    """Twilio did not answer (network, timeout, a 5xx): the text may be tried again."""


@dataclass(frozen=True)
class Sent:
    """Twilio's answer to a message it accepted."""

    sid: str
    status: str


class SmsGateway:
    """Sends texts through one Twilio account and sender."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_base: str = "https://api.twilio.com",
        messaging_service_sid: str = "",
        from_number: str = "",
    ):
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=TIMEOUT))
        # NOTE: every Messages call goes through the `api` domain; its base is the only
        # difference between a local Twilio-compatible server and api.twilio.com.
        self.client.api.base_url = api_base
        self.messaging_service_sid = messaging_service_sid
        self.from_number = from_number

    @classmethod
    def from_config(cls, config: Mapping) -> SmsGateway:
        """The gateway of the settings; ConfigError when texting is off or not set up."""
        if not config.get("TEXTS_ENABLED"):
            raise ConfigError("texting is off (TEXTS_ENABLED)")
        if not (config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN")):
            raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set")
        return cls(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            api_base=config.get("TWILIO_API_BASE") or "https://api.twilio.com",
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID", ""),
            from_number=config.get("TWILIO_FROM_NUMBER", ""),
        )

    def send(self, to: str, body: str, status_callback: str | None = None) -> Sent:
        """Create one Message; SmsError with Twilio's code when refused, SmsUnreachable when
        Twilio did not answer."""
        fields: dict = {"to": to, "body": body}
        if self.messaging_service_sid:
            fields["messaging_service_sid"] = self.messaging_service_sid
        else:
            fields["from_"] = self.from_number
        if status_callback:
            fields["status_callback"] = status_callback
        try:
            message = self.client.api.v2010.account.messages.create(**fields)
        except TwilioRestException as error:
            if error.status >= 500:
                raise SmsUnreachable(error.msg, error.code, error.status) from None
            raise SmsError(error.msg or str(error), error.code, error.status) from None
        except (TwilioException, OSError) as error:
            raise SmsUnreachable(f"Twilio did not answer: {error}") from None
        return Sent(sid=message.sid, status=message.status or "queued")


def signature_valid(auth_token: str, url: str, params: Mapping, signature: str | None) -> bool:
    """True when X-Twilio-Signature is Twilio's signature of the URL and form fields."""
    if not (auth_token and signature):
        return False
    return RequestValidator(auth_token).validate(url, dict(params), signature)


def reply_twiml(text: str | None) -> str:
    """The TwiML answer to an inbound text: one reply message, or none."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
