"""Health of the catalog's services and data stores: checks, scans, results, maintenance."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import unquote, urljoin, urlsplit

import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from psycopg.conninfo import conninfo_to_dict

from aixops.networks import network_of

from ..conditions import Condition, ConditionError, parse_conditions
from ..sparklines import Sparkline
from ..targets import host_with_address, is_host_name, known_address, loopback_origin
from .catalog import ChecklistItem, DataStore, Service, SlugManager

# How many latencies a check keeps for its card's sparkline.
SPARKLINE_POINTS = 30


class HealthStatus(models.TextChoices):
    """What a check, service, data store or result is, as people see it."""

    UP = "up", _("up")
    DEGRADED = "degraded", _("degraded")
    DOWN = "down", _("down")
    MAINTENANCE = "maintenance", _("maintenance")
    UNKNOWN = "unknown", _("not checked yet")


def shown_status(status: str, *, in_maintenance: bool) -> str:
    """What a check (and so its item) reads as: `maintenance` while its service is in a
    maintenance window, whatever the probes say, else its status. The one place this is
    decided: scans record it, pages and the API show it."""
    return HealthStatus.MAINTENANCE if in_maintenance else status


class HealthCheckQuerySet(models.QuerySet):
    def with_maintenance(self, at: datetime | None = None):
        """Each check knowing (`in_maintenance`) whether its service is in a maintenance
        window at `at` (now); one query, whatever the number of checks and windows."""
        windows = MaintenanceWindow.objects.active(at).filter(service=models.OuterRef("service"))
        return self.annotate(in_maintenance=models.Exists(windows))


class HealthCheck(models.Model):
    """How to probe one service or data store, and what the probes have said so far.

    The configuration (kind, target, limits, conditions) is edited by admins; the
    state (status, counters, latency, uptime, recent latencies) is written by scans
    only, in bulk, so that a page reads a card's whole health from this one row.
    """

    class Kind(models.TextChoices):
        HTTP = "http", _("HTTP(S) request")
        TCP = "tcp", _("TCP connect")
        REDIS = "redis", _("Redis PING")
        POSTGRES = "postgres", _("PostgreSQL SELECT 1")
        OIDC = "oidc", _("OpenID provider")
        SSO_REDIRECT = "sso-redirect", _("Sign-in redirect")
        CELERY = "celery", _("Celery workers")

    class Method(models.TextChoices):
        GET = "GET", "GET"
        HEAD = "HEAD", "HEAD"
        POST = "POST", "POST"
        OPTIONS = "OPTIONS", "OPTIONS"

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="health_checks",
        verbose_name=_("service"),
    )
    data_store = models.ForeignKey(
        DataStore,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="health_checks",
        verbose_name=_("data store"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.HTTP)
    method = models.CharField(_("method"), max_length=8, choices=Method.choices, default=Method.GET)
    target = models.CharField(
        _("target"),
        max_length=500,
        blank=True,
        help_text=_(
            "HTTP, sign-in redirect: an http(s) URL, or a path relative to PLATFORM_BASE_URL. "
            "OpenID provider: its issuer URL or path (blank: the portal's, OIDC_ISSUER). "
            "TCP: host:port. Redis, Celery: a redis:// URL (blank: the portal's broker). "
            "PostgreSQL: a postgres:// URL."
        ),
    )
    accepted_statuses = models.CharField(
        _("accepted status codes"),
        max_length=100,
        default="200-399",
        help_text=_("HTTP only: codes and ranges, e.g. 200-299,301."),
    )
    timeout = models.FloatField(
        _("timeout (seconds)"),
        default=5.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(60)],
    )
    degraded_after_ms = models.PositiveIntegerField(
        _("degraded above (ms)"),
        null=True,
        blank=True,
        default=1000,
        help_text=_("An answer slower than this counts as degraded; blank: never."),
    )
    conditions = models.TextField(
        _("conditions"),
        blank=True,
        help_text=_(
            "HTTP only, one per line: [STATUS] == 200, [RESPONSE_TIME] < 300, "
            "[BODY].status == UP, [CERTIFICATE_EXPIRATION] > 48h."
        ),
    )
    warn_days = models.PositiveSmallIntegerField(
        _("certificate warning (days)"),
        default=14,
        validators=[MaxValueValidator(365)],
        help_text=_(
            "HTTPS: degraded when the server's certificate expires within this many days; 0: never."
        ),
    )
    expected = models.CharField(
        _("expected"),
        max_length=500,
        blank=True,
        help_text=_(
            "OpenID provider: the issuer its discovery document must name (blank: the "
            "target). Sign-in redirect: where an anonymous visitor must be sent, a URL or "
            "path prefix such as /oauth2/sign_in or the realm's URL."
        ),
    )
    client_id = models.CharField(
        _("client id"),
        max_length=200,
        blank=True,
        help_text=_(
            "OpenID provider, optional: check that this client's authorization request is "
            "accepted (the login form, not an error)."
        ),
    )
    redirect_uri = models.CharField(
        _("redirect URI"),
        max_length=500,
        blank=True,
        help_text=_(
            "OpenID provider, with a client id: the redirect URI the client uses (a URL, or "
            "a path under PLATFORM_BASE_URL)."
        ),
    )
    queue = models.CharField(
        _("queue"),
        max_length=200,
        blank=True,
        help_text=_("Celery: the queue to measure (blank: the portal's own queue)."),
    )
    max_queue_length = models.PositiveIntegerField(
        _("queue length limit"),
        null=True,
        blank=True,
        default=100,
        help_text=_("Celery: more tasks waiting than this counts as degraded; blank: never."),
    )
    checklist_items = models.ManyToManyField(
        ChecklistItem,
        blank=True,
        related_name="checks",
        verbose_name=_("checklist items it verifies"),
        help_text=_("The operations checklist steps this check verifies; each shows its result."),
    )
    failures_before_down = models.PositiveSmallIntegerField(
        _("failures before down"), default=2, validators=[MinValueValidator(1)]
    )
    successes_before_up = models.PositiveSmallIntegerField(
        _("successes before up"), default=1, validators=[MinValueValidator(1)]
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    status = models.CharField(
        _("status"), max_length=16, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN
    )
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    consecutive_successes = models.PositiveIntegerField(_("consecutive successes"), default=0)
    latency_ms = models.FloatField(_("latency (ms)"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    uptime_24h = models.FloatField(_("uptime 24 h"), null=True, blank=True)
    uptime_7d = models.FloatField(_("uptime 7 d"), null=True, blank=True)
    recent_latencies = models.JSONField(
        _("recent latencies"), default=list, blank=True, editable=False
    )
    # The sparkline of `recent_latencies` (portal/sparklines.py), drawn when they change.
    sparkline_points = models.TextField(blank=True, default="", editable=False)
    sparkline_peak_ms = models.FloatField(null=True, blank=True, editable=False)
    # What alerts last said of the check's item (portal/alerts.py): a change is alerted
    # against this, not against the previous scan, so that a change while in maintenance
    # is told once the window is over, and a recovery nobody heard of is not.
    reported_status = models.CharField(
        _("last alerted status"),
        max_length=16,
        choices=HealthStatus.choices,
        default=HealthStatus.UNKNOWN,
    )
    # The closed hours of the uptime windows (portal.rollups.set_uptimes): [24 h results,
    # 24 h down, 7 d results, 7 d down] summed from the rollups once in `uptime_base_hour`,
    # so that the hour's other scans only add their own hour's counts.
    uptime_base_hour = models.DateTimeField(null=True, blank=True, editable=False)
    uptime_base = models.JSONField(default=list, blank=True, editable=False)

    objects = SlugManager.from_queryset(HealthCheckQuerySet)()

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("health check")
        verbose_name_plural = _("health checks")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(service__isnull=False, data_store__isnull=True)
                | models.Q(service__isnull=True, data_store__isnull=False),
                name="healthcheck_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args, **kwargs):
        # Whatever writes a check (admin, fixture, shell), a scan must be able to probe it.
        self.clean()
        super().save(*args, **kwargs)

    def natural_key(self):
        return (self.slug,)

    # Validation -------------------------------------------------------------------

    def clean(self) -> None:
        """Refuse a check that cannot be probed, naming the field that is wrong."""
        errors: dict[str, list] = {}
        if (self.service_id is None) == (self.data_store_id is None):
            errors.setdefault("service", []).append(
                _("A check belongs to exactly one service or one data store.")
            )
        try:
            validate_target(self.kind, self.target)
        except ValidationError as error:
            errors.setdefault("target", []).extend(error.messages)
        if self.kind == self.Kind.HTTP:
            try:
                parse_status_codes(self.accepted_statuses)
            except ValueError as error:
                errors.setdefault("accepted_statuses", []).append(str(error))
        for name, message in self._option_errors():
            errors.setdefault(name, []).append(message)
        if self.conditions.strip():
            if self.kind != self.Kind.HTTP:
                errors.setdefault("conditions", []).append(
                    _("Conditions apply to HTTP checks only.")
                )
            else:
                try:
                    parse_conditions(self.conditions)
                except ConditionError as error:
                    errors.setdefault("conditions", []).append(str(error))
        if errors:
            raise ValidationError(errors)

    def _option_errors(self):
        """(field, message) for each kind-specific option that is wrong or does not
        apply to this kind."""
        for name, kinds in _OPTION_KINDS.items():
            if getattr(self, name) and self.kind not in kinds:
                label = self._meta.get_field(name).verbose_name
                yield (
                    name,
                    _("“%(field)s” applies to %(kinds)s checks only.")
                    % {
                        "field": label,
                        "kinds": " / ".join(str(self.Kind(kind).label) for kind in kinds),
                    },
                )
        if self.kind == self.Kind.SSO_REDIRECT and not self.expected.strip():
            yield (
                "expected",
                _("Say where an anonymous visitor must be sent to sign in, e.g. /oauth2/sign_in."),
            )
        if self.expected.strip() and self.kind in _OPTION_KINDS["expected"]:
            try:
                validate_target(self.Kind.HTTP, self.expected)
            except ValidationError as error:
                yield from (("expected", message) for message in error.messages)
        if self.redirect_uri and not self.client_id:
            yield "client_id", _("Give the client id whose redirect URI is checked.")
        if self.redirect_uri:
            try:
                validate_target(self.Kind.HTTP, self.redirect_uri)
            except ValidationError:
                yield (
                    "redirect_uri",
                    _(
                        "Enter the redirect URI as an http(s) URL or a path under "
                        "PLATFORM_BASE_URL."
                    ),
                )

    def follow(self, location: str) -> bool:
        """Aim the check where its service now runs, when both are on this machine: a check
        of an http(s) kind whose target is a URL on a loopback address takes the scheme,
        host and port of `location`, a loopback URL too, and keeps its own path (bin/run
        starts Flower and the hub on ports of its choosing). A check aimed elsewhere, or a
        service moved off this machine, is left as an admin set it: a public link may
        well front a tool probed on loopback. Saved (validated) when it moves; False
        when it stays."""
        if self.kind not in HTTP_KINDS:
            return False
        there, here = loopback_origin(location), loopback_origin(self.target)
        if there is None or here is None or there == here:
            return False
        scheme, netloc = there
        self.target = urlsplit(self.target)._replace(scheme=scheme, netloc=netloc).geturl()
        self.save(update_fields=["target"])
        return True

    # What the probe needs ----------------------------------------------------------

    def resolved_target(self) -> str:
        """The target to probe: relative HTTP paths are joined to PLATFORM_BASE_URL, a
        blank Redis or Celery target is the portal's own broker and a blank OpenID
        provider is the portal's own (OIDC_ISSUER)."""
        if self.kind == self.Kind.OIDC and not self.target:
            return settings.OIDC_ISSUER
        if self.kind in HTTP_KINDS:
            return _on_platform(self.target)
        if self.kind in (self.Kind.REDIS, self.Kind.CELERY) and not self.target:
            return settings.CELERY_BROKER_URL
        return self.target

    def resolved_redirect_uri(self) -> str:
        """`redirect_uri`, a path joined to PLATFORM_BASE_URL."""
        return _on_platform(self.redirect_uri)

    def resolved_expected(self) -> str:
        """`expected`: an OpenID issuer given as a path is joined to PLATFORM_BASE_URL; a
        sign-in path stays a path, read on the tool's host (oauth2-proxy's /oauth2/ is
        wherever the tool is)."""
        if self.kind == self.Kind.SSO_REDIRECT:
            return self.expected
        return _on_platform(self.expected)

    def resolved_queue(self) -> str:
        """The Celery queue to measure: the check's, or the portal's own."""
        return self.queue or getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")

    def broker_key_prefix(self) -> str:
        """The key prefix of the portal's broker namespace (BROKER_NAMESPACE) for a check
        of the portal's own broker; other brokers are read without one."""
        if self.kind != self.Kind.CELERY or self.target:
            return ""
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        return options.get("global_keyprefix", "")

    @property
    def probed(self) -> bool:
        """Whether a probe has run: rows of checks read it as an annotation instead
        (portal.health.item_rows)."""
        return self.checked_at is not None

    def accepts(self, status_code: int) -> bool:
        """Whether an HTTP status code counts as an answer."""
        return any(
            low <= status_code <= high for low, high in parse_status_codes(self.accepted_statuses)
        )

    def parsed_conditions(self) -> list[Condition]:
        return parse_conditions(self.conditions)

    # Flap control ------------------------------------------------------------------

    def record(self, outcome: str, *, latency_ms: float | None, detail: str, at: datetime) -> str:
        """Take one probe's outcome (up, degraded or down) and move the check's status.

        Flap control: the status goes down only after `failures_before_down` failures
        in a row, and comes back only after `successes_before_up` answers in a row;
        until then it keeps what it was. Degraded is an answer, only a slow one.
        Returns the new status. Changes this instance only; the scan saves in bulk.
        """
        if outcome == HealthStatus.DOWN:
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            if self.consecutive_failures >= self.failures_before_down:
                self.status = HealthStatus.DOWN
        else:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            if self.status in (HealthStatus.UP, HealthStatus.DEGRADED) or (
                self.consecutive_successes >= self.successes_before_up
            ):
                self.status = outcome
        self.latency_ms = latency_ms
        self.detail = detail[:500]
        self.checked_at = at
        self.keep_latencies([*self.recent_latencies, latency_ms])
        return self.status

    def keep_latencies(self, latencies: list[float | None]) -> None:
        """Keep the last SPARKLINE_POINTS of `latencies` (None for a failed probe) and the
        sparkline drawn from them. Changes this instance only."""
        self.recent_latencies = latencies[-SPARKLINE_POINTS:]
        sparkline = Sparkline.from_latencies(self.recent_latencies)
        self.sparkline_points = sparkline.points if sparkline else ""
        self.sparkline_peak_ms = sparkline.peak_ms if sparkline else None


def parse_status_codes(text: str) -> list[tuple[int, int]]:
    """`200-299,301` as [(200, 299), (301, 301)]; ValueError names what is wrong."""
    ranges = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low_text, _dash, high_text = part.partition("-")
        try:
            low, high = int(low_text), int(high_text or low_text)
        except ValueError:
            raise ValueError(f"{part!r} is not a status code or a range such as 200-299.") from None
        if not (100 <= low <= high <= 599):
            raise ValueError(f"{part!r} is not within 100-599.")
        ranges.append((low, high))
    if not ranges:
        raise ValueError("Give at least one status code, e.g. 200-399.")
    return ranges


def _on_platform(url: str) -> str:
    """A path joined to PLATFORM_BASE_URL ("" when that is not set); a URL as it is."""
    if not url.startswith("/"):
        return url
    base = settings.PLATFORM_BASE_URL
    if not base:
        return ""
    return urljoin(base.rstrip("/") + "/", url.lstrip("/"))


# The kinds whose target is an http(s) URL or a path under PLATFORM_BASE_URL.
HTTP_KINDS = (HealthCheck.Kind.HTTP, HealthCheck.Kind.OIDC, HealthCheck.Kind.SSO_REDIRECT)
# The kinds whose blank target is the portal's own (broker, OpenID provider).
_BLANK_MEANS_OWN = (HealthCheck.Kind.REDIS, HealthCheck.Kind.CELERY, HealthCheck.Kind.OIDC)
# The kinds each kind-specific option is for.
_OPTION_KINDS = {
    "expected": (HealthCheck.Kind.OIDC, HealthCheck.Kind.SSO_REDIRECT),
    "client_id": (HealthCheck.Kind.OIDC,),
    "redirect_uri": (HealthCheck.Kind.OIDC,),
    "queue": (HealthCheck.Kind.CELERY,),
}
_URL_SCHEMES = {
    **dict.fromkeys(HTTP_KINDS, ("http", "https")),
    HealthCheck.Kind.REDIS: ("redis", "rediss"),
    HealthCheck.Kind.CELERY: ("redis", "rediss"),
    HealthCheck.Kind.POSTGRES: ("postgres", "postgresql"),
}


def validate_target(kind: str, target: str) -> None:
    """Refuse a target its kind of check cannot or may not probe: wrong scheme, no host,
    bad port, credentials in an HTTP URL, a host in HEALTH_CHECK_DENY_NETWORKS."""
    target = target.strip()
    if kind in _BLANK_MEANS_OWN and not target:
        return
    if not target:
        raise ValidationError(_("A target is required for this kind of check."))
    if kind in HTTP_KINDS and target.startswith("/"):
        if target.startswith("//"):
            raise ValidationError(_("Enter a path such as /gitlab/, not a protocol-relative URL."))
        return
    if kind == HealthCheck.Kind.TCP:
        if "://" in target:
            raise ValidationError(_("Enter host:port, not a URL."))
        url = f"tcp://{target}"
    elif kind in _URL_SCHEMES:
        url = target
    else:
        raise ValidationError(_("Unknown kind of check."))
    try:
        parts = urlsplit(url)
    except ValueError:  # unbalanced or misplaced [brackets]
        raise ValidationError(_("The target's host is not valid.")) from None
    schemes = _URL_SCHEMES.get(kind, ("tcp",))
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise ValidationError(
            _("%(scheme)s URLs cannot be probed here; use %(allowed)s.")
            % {
                "scheme": f"{scheme}://" if scheme else _("Scheme-less"),
                "allowed": " or ".join(f"{s}://" for s in schemes),
            }
        )
    # Redis and PostgreSQL need their password to answer; an HTTP probe would hand
    # credentials to whatever answers, and `name@host` hides which host that is.
    if (kind in HTTP_KINDS or kind == HealthCheck.Kind.TCP) and "@" in parts.netloc:
        raise ValidationError(_("Leave credentials (user:password@) out of this target."))
    if kind == HealthCheck.Kind.POSTGRES:
        hosts = _postgres_hosts(target)
    else:
        # redis-py percent-decodes the host; urlsplit has lowercased it, as DNS would.
        hosts = [unquote(parts.hostname)] if parts.hostname else []
    if not hosts:
        raise ValidationError(_("The target has no host."))
    for host in hosts:
        validate_host(host)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or (kind == HealthCheck.Kind.TCP and port is None):
        raise ValidationError(_("The port must be a number from 1 to 65535."))


def _postgres_hosts(target: str) -> list[str]:
    """The host and hostaddr that libpq reads in a URL (a host in the query string wins
    over the one before the path)."""
    try:
        params = conninfo_to_dict(target)
    except (psycopg.Error, ValueError) as error:  # ValueError: percent-encoded non-UTF-8
        raise ValidationError(
            _("libpq cannot read this URL: %(error)s") % {"error": str(error).strip()}
        ) from None
    if "service" in params:
        raise ValidationError(_("Name the host in the URL; health checks read no service file."))
    host, hostaddr = params.get("host", ""), params.get("hostaddr", "")
    if "," in host or "," in hostaddr:
        raise ValidationError(_("A health check probes one host; name only one."))
    if hostaddr and known_address(hostaddr) is None:
        raise ValidationError(_("hostaddr must be an IP address."))
    return [name for name in (host, hostaddr) if name]


def validate_host(host: str) -> None:
    """Refuse a host that is no host name or address, or that names a denied address in
    any spelling the resolver reads."""
    address = known_address(host)
    if address is None:
        if not is_host_name(host):
            raise ValidationError(_("The target's host is not valid."))
        return
    network = network_of(address, settings.HEALTH_CHECK_DENY_NETWORKS)
    if network is not None:
        raise ValidationError(
            _(
                "%(host)s is in HEALTH_CHECK_DENY_NETWORKS (%(network)s): health checks may not "
                "probe it."
            )
            % {"host": host_with_address(host, address), "network": network}
        )


class ScanQuerySet(models.QuerySet):
    def finished(self):
        return self.filter(state=Scan.State.FINISHED)

    def finished_latest_first(self):
        """Finished scans, the one whose results the pages show first. Unfinished scans
        never count."""
        return self.finished().order_by("-finished_at", "-pk")

    def latest_finished(self) -> Scan | None:
        return self.finished_latest_first().first()


class Scan(models.Model):
    """One pass over every enabled check (or over the checks of one checklist step, its
    "Run now"), by one Celery task (or `manage.py refresh_health`).

    A scan is recorded as running when it starts; its results, the checks' new state
    and its finish are written in one transaction, so a scan whose worker died stays
    `running` (later marked abandoned) and is never shown as finished.
    """

    class State(models.TextChoices):
        RUNNING = "running", _("running")
        FINISHED = "finished", _("finished")
        ABANDONED = "abandoned", _("abandoned")

    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.RUNNING
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    task_id = models.CharField(_("Celery task id"), max_length=64, blank=True)
    checked = models.PositiveIntegerField(_("checked"), default=0)
    up = models.PositiveIntegerField(_("up"), default=0)
    degraded = models.PositiveIntegerField(_("degraded"), default=0)
    down = models.PositiveIntegerField(_("down"), default=0)
    maintenance = models.PositiveIntegerField(_("maintenance"), default=0)
    unknown = models.PositiveIntegerField(_("not settled"), default=0)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)

    objects = ScanQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        indexes = [models.Index(fields=["state", "-finished_at"], name="scan_state_finished")]

    def __str__(self) -> str:
        return f"scan {self.pk} ({self.state})"

    def summary(self) -> dict:
        """The small JSON summary a scan task returns and Flower shows."""
        return {
            "scan": self.pk,
            "checked": self.checked,
            "up": self.up,
            "degraded": self.degraded,
            "down": self.down,
            "maintenance": self.maintenance,
            "duration": round((self.duration_ms or 0) / 1000, 3),
        }


class CheckResult(models.Model):
    """What one check said in one scan: the probe's outcome and the status it led to."""

    # Neither reference is a constraint in the database, whose check of each inserted row
    # (a query per row and reference) cost a scan's write more than inserting the rows:
    # the write holds its checks locked and claims its scan's row in its own
    # transaction, so both exist when it commits, and deleting a check or a scan deletes
    # its results (on_delete, as before).
    scan = models.ForeignKey(
        Scan,
        on_delete=models.CASCADE,
        related_name="results",
        verbose_name=_("scan"),
        db_constraint=False,
    )
    # No index of its own: result_check_time starts with this column and serves it.
    health_check = models.ForeignKey(
        HealthCheck,
        on_delete=models.CASCADE,
        related_name="results",
        verbose_name=_("check"),
        db_index=False,
        db_constraint=False,
    )
    checked_at = models.DateTimeField(_("checked at"))
    outcome = models.CharField(_("probe outcome"), max_length=16, choices=HealthStatus.choices)
    status = models.CharField(_("status"), max_length=16, choices=HealthStatus.choices)
    latency_ms = models.FloatField(_("latency (ms)"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)

    class Meta:
        ordering = ["-checked_at", "-pk"]
        verbose_name = _("check result")
        verbose_name_plural = _("check results")
        indexes = [
            # Uptime windows are read per check over time; pruning by time alone.
            models.Index(fields=["health_check", "checked_at"], name="result_check_time"),
            models.Index(fields=["checked_at"], name="result_time"),
        ]

    def __str__(self) -> str:
        return f"{self.health_check_id} {self.status} at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class HealthRollup(models.Model):
    """How many results of one check had each status, and how fast it answered, over one
    clock hour (`hours` 1) or, once older than portal.rollups.HOURLY_DAYS, one local day
    (`hours` 24, starting at its midnight). Scans add to the current hour's row; uptime
    over any window is summed from these rows, never from the raw results."""

    # No index of its own: rollup_check_hour starts with this column and serves it.
    health_check = models.ForeignKey(
        HealthCheck,
        on_delete=models.CASCADE,
        related_name="rollups",
        verbose_name=_("check"),
        db_index=False,
    )
    hour = models.DateTimeField(_("from"))
    hours = models.PositiveSmallIntegerField(_("hours"), default=1)
    up = models.PositiveIntegerField(_("up"), default=0)
    degraded = models.PositiveIntegerField(_("degraded"), default=0)
    down = models.PositiveIntegerField(_("down"), default=0)
    maintenance = models.PositiveIntegerField(_("maintenance"), default=0)
    unknown = models.PositiveIntegerField(_("not settled"), default=0)
    latency_count = models.PositiveIntegerField(_("answers timed"), default=0)
    latency_sum_ms = models.FloatField(_("latency sum (ms)"), default=0)
    latency_max_ms = models.FloatField(_("latency max (ms)"), null=True, blank=True)
    # The check's results (and downs) in all its rows before this one, pruned ones too:
    # the difference of two rows' values is what lies between them, so a long window's
    # uptime reads two rows a check instead of summing every row in it. Set once the hour
    # is closed (portal.rollups.count_running_totals); empty until then.
    results_before = models.PositiveBigIntegerField(_("results before"), null=True, blank=True)
    down_before = models.PositiveBigIntegerField(_("down before"), null=True, blank=True)

    class Meta:
        ordering = ["health_check", "hour"]
        verbose_name = _("health rollup")
        verbose_name_plural = _("health rollups")
        constraints = [
            models.UniqueConstraint(fields=["health_check", "hour"], name="rollup_check_hour")
        ]
        indexes = [
            # Pruning and compacting go by time alone.
            models.Index(fields=["hour"], name="rollup_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.health_check_id} from {self.hour:%Y-%m-%d %H:%M} ({self.hours} h)"

    @property
    def total(self) -> int:
        return self.up + self.degraded + self.down + self.maintenance + self.unknown


class MaintenanceWindowQuerySet(models.QuerySet):
    def active(self, at: datetime | None = None):
        """Windows open at `at` (now by default)."""
        at = at or timezone.now()
        return self.filter(starts_at__lte=at, ends_at__gt=at)


class MaintenanceWindow(models.Model):
    """A planned period in which a service's checks still run but its status reads
    `maintenance` and does not count as an outage."""

    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
        verbose_name=_("service"),
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    note = models.CharField(_("note"), max_length=255, blank=True)

    objects = MaintenanceWindowQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="maintenance_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%H:%M}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("A window ends after it starts.")})
