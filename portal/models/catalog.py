"""The catalog: platform tools grouped by category, with what an operator needs to know."""

import re
import zlib
from typing import NamedTuple
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aixops.observability import audit_line
from aixops.outbox import Job, queue_after_commit

from ..icons import validate_icon
from ..state_cache import page_state_moved

# A Keycloak group's full path, as the groups claim sends it and sign-in stores it as the
# name of a Django group (accounts.services): `/platform/devops`; 150 is a group name's length.
GROUP_PATH = re.compile(r"^(/[^/\s][^/]*)+$")
GROUP_PATH_MAX_LENGTH = 150
GROUPS_PER_ITEM = 20



def validate_group_paths(value) -> None:
    """A limit is a list of distinct Keycloak group paths (`/platform/devops`)."""
    if not isinstance(value, list):
        raise ValidationError(_("Expected a list of group paths."), code="not_a_list")
    if len(value) > GROUPS_PER_ITEM:
        raise ValidationError(
            _("At most %(limit)d groups."), code="too_many", params={"limit": GROUPS_PER_ITEM}
        )
    for path in value:
        if (
            not isinstance(path, str)
            or len(path) > GROUP_PATH_MAX_LENGTH
            or not GROUP_PATH.match(path)
            or path != path.strip()
        ):
            raise ValidationError(
                _("%(value)s is not a Keycloak group path such as /platform/devops."),
                # Not "invalid": a field replaces the message of a code it has one for.
                code="not_a_group_path",
                params={"value": str(path)[:60]},
            )
    if len(set(value)) != len(value):
        raise ValidationError(_("A group is listed twice."), code="duplicate")


class GroupPathsFormField(forms.CharField):
    """A limit in a form: one group path a line, kept sorted."""

    widget = forms.Textarea(attrs={"rows": 2, "cols": 40})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        lines = (line.strip() for line in (value or "").splitlines())
        return sorted({line for line in lines if line})

    def validate(self, value):
        validate_group_paths(value)


class GroupPathsField(models.JSONField):
    """The Keycloak groups (full paths) an item is limited to; empty: every member.

    Paths, not links to Django's groups: a limit may name a group nobody has signed in
    from yet (a catalog file written ahead of a rollout), and deleting or renaming a group
    row in the admin must never lift a limit, as a vanished many-to-many row would.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("validators", [validate_group_paths])
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for key, value in (("default", list), ("blank", True)):
            if kwargs.get(key) is value:
                del kwargs[key]
        kwargs.pop("validators", None)
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        return models.Field.formfield(self, form_class=GroupPathsFormField, **kwargs)


class GroupLimited(models.Model):
    """A catalog item that can be limited to Keycloak groups: members outside them never
    learn it exists (portal.visibility); staff see it, marked as limited."""

    visible_to_groups = GroupPathsField(
        _("visible to groups"),
        help_text=_(
            "Keycloak groups by full path, one a line (/platform/devops). Only members of "
            "one of them see this; empty: every approved member. Staff see everything."
        ),
    )

    class Meta:
        abstract = True


class SlugManager(models.Manager):
    """Looks catalog rows up by slug, their natural key, so fixtures load idempotently."""

    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class CategoryQuerySet(models.QuerySet):
    def for_home(self):
        """Categories with the counts the home page cards show and their visible menu
        services' icons (`menu_icons`: [position, slug, pk, name, icon] rows), in one query."""
        services = Service.objects.filter(category=models.OuterRef("pk"))
        return self.annotate(
            visible_count=_count(services.filter(role=Service.Role.MENU, hidden=False)),
            hidden_count=_count(services.filter(role=Service.Role.MENU, hidden=True)),
            supporting_count=_count(services.filter(role=Service.Role.SUPPORTING)),
            data_store_count=_count(DataStore.objects.filter(category=models.OuterRef("pk"))),
            checklist_count=_count(ChecklistItem.objects.filter(category=models.OuterRef("pk"))),
            touchpoint_count=_count(
                ConfigNote.objects.filter(category=models.OuterRef("pk"), is_access_touchpoint=True)
            ),
            menu_icons=models.Subquery(
                services.filter(role=Service.Role.MENU, hidden=False)
                .order_by()
                .values("category")
                .annotate(rows=_JSONRows("position", "slug", "pk", "name", "icon"))
                .values("rows"),
                output_field=models.JSONField(),
            ),
        )


class _JSONRows(models.Aggregate):
    """The rows of a group as one JSON array of arrays of the given columns, in no set
    order (SQLite's aggregates take no ORDER BY before 3.44): the home page's cards read
    each category's menu services' icons in the query that counts them."""

    function = "JSONB_AGG"
    template = "%(function)s(JSONB_BUILD_ARRAY(%(expressions)s))"
    output_field = models.JSONField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            function="JSON_GROUP_ARRAY",
            template="%(function)s(JSON_ARRAY(%(expressions)s))",
            **extra_context,
        )


def _count(queryset: models.QuerySet) -> models.Subquery:
    """A correlated COUNT(*) subquery; separate subqueries avoid the row explosion of joins."""
    counted = queryset.order_by().values("category").annotate(n=models.Count("*")).values("n")
    return models.functions.Coalesce(models.Subquery(counted), 0)


class SlugCategoryManager(SlugManager.from_queryset(CategoryQuerySet)):
    pass


class Category(GroupLimited):
    """A group of platform tools shown as one overview document (e.g. DevOps)."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=80, help_text=_("Short name, e.g. DevOps."))
    title = models.CharField(_("title"), max_length=120, help_text=_("e.g. DevOps Guide."))
    summary = models.CharField(_("summary"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = SlugCategoryManager()

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("portal:category", args=[self.slug])

    def natural_key(self):
        return (self.slug,)


def validate_service_location(value: str) -> None:
    """A service is reached by a path under the platform domain or an absolute http(s) URL."""
    if value.startswith("/"):
        if value.startswith("//"):
            raise ValidationError(
                _("Enter a path such as /gitlab, not a protocol-relative URL."), code="invalid"
            )
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            _("Enter a path such as /gitlab or an http(s) URL; %(value)s is neither."),
            code="invalid",
            params={"value": value},
        )


def validate_talks_to(slug: str, talks_to) -> None:
    """The services a service calls (their slugs) are other services: an edge from a service
    to itself would say nothing and draws as a loop on the architecture map."""
    if slug and slug in talks_to:
        raise ValidationError(_("A service cannot talk to itself."), code="talks_to_self")


# The longest SLO window: the status page reads this many days of rollups, which cover
# every item's window in that one query.
SLO_WINDOW_MAX_DAYS = 90


class StatusPublishing(models.Model):
    """What a service or data store publishes about its health: whether its badges may be
    read without signing in, and the uptime it promises (its SLO)."""

    public_badge = models.BooleanField(
        _("public badge"),
        default=False,
        help_text=_(
            "Its status and uptime badges can be read without signing in "
            "(for embedding in GitLab READMEs and wikis)."
        ),
    )
    slo_target = models.FloatField(
        _("SLO target (%)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(99.999)],
        help_text=_("The uptime it promises, e.g. 99.5; empty for none."),
    )
    slo_window_days = models.PositiveSmallIntegerField(
        _("SLO window (days)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(SLO_WINDOW_MAX_DAYS)],
        help_text=_("The days its uptime is measured over, today included."),
    )

    class Meta:
        abstract = True

    @property
    def badge_is_public(self) -> bool:
        """Whether anyone may read its badges: marked public, and not a hidden service."""
        return self.public_badge and not getattr(self, "hidden", False)


class Service(GroupLimited, StatusPublishing):
    """A platform tool (GitLab, Jenkins, …) or a supporting component of one."""

    class Role(models.TextChoices):
        MENU = "menu", _("Menu")
        SUPPORTING = "supporting", _("Supporting")

    class Access(models.TextChoices):
        KEYCLOAK_OIDC = "keycloak_oidc", _("Keycloak OIDC")
        OAUTH2_PROXY = "oauth2_proxy", _("oauth2-proxy")
        PORTAL_SESSION = "portal_session", _("Portal session")
        NONE = "none", _("None")

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="services", verbose_name=_("category")
    )
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=80)
    summary = models.CharField(_("summary"), max_length=255)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MENU)
    hidden = models.BooleanField(
        _("hidden"), default=False, help_text=_("Counted, but not shown to members.")
    )
    location = models.CharField(
        _("path or URL"),
        max_length=500,
        blank=True,
        validators=[validate_service_location],
        help_text=_("A path under the platform domain (/gitlab) or an absolute http(s) URL."),
    )
    access = models.CharField(
        _("access protection"), max_length=20, choices=Access.choices, default=Access.NONE
    )
    icon = models.CharField(
        _("icon"),
        max_length=64,
        blank=True,
        validators=[validate_icon],
        help_text=_(
            "A tool logo the portal ships, by its Simple Icons name (gitlab, jenkins, …); "
            "blank for a monogram of the name."
        ),
    )
    talks_to = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="talked_to_by",
        verbose_name=_("talks to"),
        help_text=_("Services this one calls; drawn as edges on the architecture map."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = SlugManager()

    class Meta:
        ordering = ["category", "position", "slug"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        indexes = [models.Index(fields=["category", "position"], name="service_category_position")]

    def __str__(self) -> str:
        return self.name

    def natural_key(self):
        return (self.slug,)

    def relocate(self, location: str) -> list[str]:
        """Point the service's links at `location` (checked as the admin form checks it),
        e.g. where this deployment runs it rather than its path under the platform domain,
        and its checks of this machine with them (HealthCheck.follow): the one place both
        move, so that a card never links one port and probes another.

        Returns one line per change, none when all is there already: safe to run twice.
        A bad location, or a check that may not probe where it would go, raises
        ValidationError and changes nothing. What changed is a line of the audit log
        stream (the `aixops.audit` logger; the audit table records events about members).
        """
        location = self._meta.get_field("location").clean(location, self)
        with transaction.atomic():
            moved = []
            for check in self.health_checks.order_by("position", "slug"):
                before = check.target
                try:
                    followed = check.follow(location)
                except ValidationError as error:
                    raise ValidationError(f"{check.slug}: {' '.join(error.messages)}") from None
                if followed:
                    moved.append(f"{check.slug}: {before} -> {check.target}")
            changes = []
            if location != self.location:
                changes.append(f"{self.slug}: {self.location or '(none)'} -> {location}")
                self.location = location
                self.save(update_fields=["location"])
            changes += moved
        if changes:
            audit_line("catalog.locate", actor="system", service=self.slug, changes=changes)
        return changes


class DataStore(GroupLimited, StatusPublishing):
    """A database, cache or volume that a category's services keep their state in."""

    class Kind(models.TextChoices):
        RELATIONAL = "relational", _("Relational")
        CACHE = "cache", _("Cache")
        EMBEDDED = "embedded", _("Embedded")
        OBJECT_STORAGE = "object_storage", _("Object Storage")
        SEARCH = "search", _("Search")
        QUEUE = "queue", _("Queue")
        DOCUMENT = "document", _("Document")

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="data_stores", verbose_name=_("category")
    )
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    description = models.TextField(_("description"))
    remark = models.CharField(_("remark"), max_length=255, blank=True)
    used_by = models.ManyToManyField(
        Service, blank=True, related_name="data_stores", verbose_name=_("used by")
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = SlugManager()

    class Meta:
        ordering = ["category", "position", "slug"]
        verbose_name = _("data store")
        verbose_name_plural = _("data stores")

    def __str__(self) -> str:
        return self.name

    def natural_key(self):
        return (self.slug,)


class ItemRecord(models.Model):
    """Something recorded about one service or data store, kept with its category (alerts,
    incidents): exactly one of `service` and `data_store` is set."""

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="%(class)ss", verbose_name=_("category")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="%(class)ss",
        verbose_name=_("service"),
    )
    data_store = models.ForeignKey(
        DataStore,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="%(class)ss",
        verbose_name=_("data store"),
    )

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=models.Q(service__isnull=False, data_store__isnull=True)
                | models.Q(service__isnull=True, data_store__isnull=False),
                name="%(class)s_one_item",
            )
        ]


class CategoryItemManager(models.Manager):
    """Finds an ordered item by its category's slug and its position, its natural key."""

    def get_by_natural_key(self, category_slug, position):
        return self.get(category__slug=category_slug, position=position)


class CategoryItem(models.Model):
    """An ordered line of text under a category; `code` in backticks renders as code."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, verbose_name=_("category"))
    position = models.PositiveIntegerField(_("position"))
    text = models.TextField(_("text"))

    objects = CategoryItemManager()

    class Meta:
        abstract = True
        ordering = ["category", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "position"], name="%(class)s_unique_position"
            )
        ]

    def __str__(self) -> str:
        return self.text

    def natural_key(self):
        return (self.category.slug, self.position)

    natural_key.dependencies = ["portal.category"]


class FocusArea(CategoryItem):
    """One thing the category's tools are for ("이 메뉴에서 하는 일")."""

    class Meta(CategoryItem.Meta):
        default_related_name = "focus_areas"
        verbose_name = _("focus area")
        verbose_name_plural = _("focus areas")


class ChecklistItem(CategoryItem):
    """One step of the category's operations checklist ("운영 점검 포인트"); the health
    checks that verify it (`checks`, set on each check) tick it or fail it."""

    class Meta(CategoryItem.Meta):
        default_related_name = "checklist_items"
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")

    def queue_checks(self) -> int:
        """Queue a probe of the enabled checks that verify this step (its "Run now"),
        sent to the worker once the transaction commits; returns how many checks."""
        ids = sorted(self.checks.filter(enabled=True).values_list("pk", flat=True))
        if ids:
            queue_after_commit([Job("portal.tasks.refresh_health", [ids])])
        return len(ids)


class ConfigNote(CategoryItem):
    """A configuration note ("구성 메모"); some are SSO / access touchpoints."""

    is_access_touchpoint = models.BooleanField(
        _("SSO / access touchpoint"),
        default=False,
        help_text=_("Counted under SSO / Access Touchpoints."),
    )

    class Meta(CategoryItem.Meta):
        default_related_name = "config_notes"
        verbose_name = _("configuration note")
        verbose_name_plural = _("configuration notes")


class Revision(NamedTuple):
    number: int
    changed_at: object  # as the database hands it back: only compared, never shown

    @property
    def cache_key(self) -> str:
        """The number, and when it moved: a database rebuilt or restored to an older number
        never meets pages cached from the one it replaced."""
        return f"rev{self.number}-{zlib.crc32(str(self.changed_at).encode()):08x}"


# Before the first catalog write there is no revision row.
NO_REVISION = Revision(0, None)


class CatalogRevision(models.Model):
    """A counter that moves on every catalog write; cached overview pages are keyed by it
    (through the page state, which each move forgets: portal.state_cache).

    It lives in the database, not the cache, so that a write from any process (an
    admin's save in one gunicorn worker, `loaddata` from a shell) is seen by all.
    """

    SINGLETON_ID = 1

    number = models.PositiveBigIntegerField(_("number"), default=0)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("catalog revision")
        verbose_name_plural = _("catalog revisions")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"catalog revision {self.number}"

    @classmethod
    def bump(cls) -> None:
        """Move the counter on; an UPDATE in place, so concurrent bumps never lose one."""
        moved = cls.objects.filter(pk=cls.SINGLETON_ID).update(
            number=models.F("number") + 1, changed_at=timezone.now()
        )
        if not moved:
            cls.objects.get_or_create(pk=cls.SINGLETON_ID, defaults={"number": 1})
        page_state_moved()
