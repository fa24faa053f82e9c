"""What the portal's alert and incident tests share: a service to probe, a webhook
receiver and an SMTP server on loopback, the default channel pointed at them, and scans
whose deliveries run as if committed."""

import pytest

from portal.scans import scan_run
from tests.portal.alerting import SECRET
from tests.servers import RecordingServer, SmtpServer


@pytest.fixture
def service():
    """The service the checks probe: it answers `get_status`."""
    with RecordingServer() as server:
        yield server


@pytest.fixture
def receiver():
    """The webhook receiver: records every POST."""
    with RecordingServer() as server:
        yield server


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        yield server


@pytest.fixture
def default_channels(settings, receiver, smtp):
    """The default channel the settings declare: e-mail and a signed webhook."""
    settings.ALERT_EMAIL_TO = ["ops@example.com"]
    settings.ALERT_WEBHOOK_URL = receiver.url("/hooks/aixops")
    settings.ALERT_WEBHOOK_SECRET = SECRET


@pytest.fixture
def scan(committed):
    """A scan, and what waits for its commit (the alert deliveries) run as if committed."""

    def run():
        with committed():
            return scan_run()

    return run
