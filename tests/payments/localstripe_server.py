"""The localstripe child process the tests use (it lives in payments.localstripe_dev)."""

from payments.localstripe_dev import (
    LocalStripeError,
    LocalStripeServer,
    control,
    register_webhook,
    wipe,
)

__all__ = ["LocalStripeError", "LocalStripeServer", "control", "register_webhook", "wipe"]
