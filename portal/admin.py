from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from aixops.admin import ReadOnlyAdmin
from aixops.networks import client_ip

from . import notify
from .icons import known_icons
from .incidents import incident_post_update
from .models import (
    AlertEvent,
    Category,
    Channel,
    ChecklistItem,
    CheckResult,
    ConfigNote,
    DataStore,
    Delivery,
    FocusArea,
    HealthCheck,
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    Pin,
    Scan,
    Service,
    service_in_catalog,
    validate_talks_to,
)
from .scans import CHECK_STATE_FIELDS
from .tasks import queue_scan


@admin.display(description=_("visible to groups"))
def limited_to(item) -> str:
    """A limited item's groups in a list; empty for an item every member sees."""
    return ", ".join(item.visible_to_groups)


class ServiceInline(admin.TabularInline):
    model = Service
    fields = [
        "position",
        "name",
        "slug",
        "role",
        "hidden",
        "location",
        "access",
        "icon",
        "summary",
    ]
    prepopulated_fields = {"slug": ["name"]}
    extra = 0
    show_change_link = True


class DataStoreInline(admin.TabularInline):
    model = DataStore
    fields = ["position", "name", "slug", "kind", "description", "remark"]
    prepopulated_fields = {"slug": ["name"]}
    extra = 0
    show_change_link = True


class FocusAreaInline(admin.TabularInline):
    model = FocusArea
    fields = ["position", "text"]
    extra = 0


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    fields = ["position", "text"]
    extra = 0


class ConfigNoteInline(admin.TabularInline):
    model = ConfigNote
    fields = ["position", "text", "is_access_touchpoint"]
    extra = 0


# A category's services and data stores are edited in its page while they are this few.
# Beyond, their rows (a dozen fields each) would pass the fields a form may post
# (DATA_UPLOAD_MAX_NUMBER_FIELDS: the save would fail with 400) and the page would take
# seconds to draw; the page links to their own lists instead.
INLINE_ITEMS_MAX = 40


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "slug",
        "position",
        "visible_count",
        "supporting_count",
        "data_store_count",
        limited_to,
    ]
    list_editable = ["position"]
    search_fields = ["slug", "name", "title", "summary", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [
        ServiceInline,
        DataStoreInline,
        FocusAreaInline,
        ChecklistItemInline,
        ConfigNoteInline,
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).for_home()

    def get_inlines(self, request, obj):
        if obj is not None and self.items_listed_apart(obj):
            return [
                inline
                for inline in self.inlines
                if inline not in (ServiceInline, DataStoreInline)
            ]
        return self.inlines

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and self.items_listed_apart(obj):
            return [*fields, "items"]
        return fields

    @staticmethod
    def item_counts(category) -> tuple[int, int]:
        """The category's services (of either role, shown or hidden) and data stores, as
        its list counts them (`for_home`)."""
        services = category.visible_count + category.hidden_count + category.supporting_count
        return services, category.data_store_count

    def items_listed_apart(self, category) -> bool:
        """Whether the category's services and data stores are too many to edit in its
        page (INLINE_ITEMS_MAX)."""
        return sum(self.item_counts(category)) > INLINE_ITEMS_MAX

    @admin.display(description=_("Services and data stores"))
    def items(self, category):
        services, stores = self.item_counts(category)
        return format_html(
            '<a href="{}?category__id__exact={}">{}</a>, '
            '<a href="{}?category__id__exact={}">{}</a>',
            reverse("admin:portal_service_changelist"),
            category.pk,
            ngettext("%(count)d service", "%(count)d services", services) % {"count": services},
            reverse("admin:portal_datastore_changelist"),
            category.pk,
            ngettext("%(count)d data store", "%(count)d data stores", stores) % {"count": stores},
        )

    @admin.display(description=_("Visible Apps"), ordering="visible_count")
    def visible_count(self, category):
        return category.visible_count

    @admin.display(description=_("Supporting"), ordering="supporting_count")
    def supporting_count(self, category):
        return category.supporting_count

    @admin.display(description=_("Data Stores"), ordering="data_store_count")
    def data_store_count(self, category):
        return category.data_store_count


class MaintenanceWindowInline(admin.TabularInline):
    model = MaintenanceWindow
    fields = ["starts_at", "ends_at", "note"]
    extra = 0


class ServiceForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "icon" in self.fields:
            # The logos the portal ships, to pick from rather than to spell.
            choices = [("", _("None: a monogram of the name"))]
            choices += [(name, name) for name in sorted(known_icons())]
            self.fields["icon"].widget = forms.Select(choices=choices)

    def clean_talks_to(self):
        talks_to = self.cleaned_data["talks_to"]
        # The stored slug: the one the chosen services are listed under.
        validate_talks_to(self.instance.slug, {service.slug for service in talks_to})
        return talks_to


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = [
        "name",
        "slug",
        "category",
        "role",
        "hidden",
        limited_to,
        "location",
        "access",
        "icon",
        "public_badge",
        "slo_target",
        "position",
    ]
    list_filter = ["category", "role", "hidden", "access", "public_badge"]
    list_select_related = ["category"]
    search_fields = ["name", "slug", "summary", "location"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["talks_to"]
    ordering = ["category__position", "position"]
    inlines = [MaintenanceWindowInline]


@admin.register(DataStore)
class DataStoreAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "category",
        "kind",
        limited_to,
        "public_badge",
        "slo_target",
        "position",
    ]
    list_filter = ["category", "kind", "public_badge"]
    list_select_related = ["category"]
    search_fields = ["name", "slug", "description", "remark"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["used_by"]
    ordering = ["category__position", "position"]


class CategoryItemAdmin(admin.ModelAdmin):
    list_display = ["text", "category", "position"]
    list_filter = ["category"]
    list_select_related = ["category"]
    search_fields = ["text"]
    ordering = ["category__position", "position"]


admin.site.register(FocusArea, CategoryItemAdmin)


class ChecklistCheckInline(admin.TabularInline):
    """The checks that verify a checklist step, bound from the step's side too."""

    model = HealthCheck.checklist_items.through
    autocomplete_fields = ["healthcheck"]
    extra = 0
    verbose_name = _("check that verifies this step")
    verbose_name_plural = _("checks that verify this step")


@admin.register(ChecklistItem)
class ChecklistItemAdmin(CategoryItemAdmin):
    inlines = [ChecklistCheckInline]


@admin.register(ConfigNote)
class ConfigNoteAdmin(CategoryItemAdmin):
    list_display = ["text", "category", "position", "is_access_touchpoint"]
    list_filter = ["category", "is_access_touchpoint"]


@admin.register(HealthCheck)
class HealthCheckAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "owner",
        "kind",
        "target",
        "status",
        "latency_ms",
        "uptime_24h",
        "checked_at",
        "enabled",
    ]
    list_filter = ["kind", "status", "enabled", "service__category"]
    list_select_related = ["service", "data_store"]
    search_fields = ["slug", "target", "service__name", "data_store__name"]
    autocomplete_fields = ["service", "data_store", "checklist_items"]
    # What scans write is not edited by hand; the sparkline's latencies and points and the
    # uptime windows' running sums are not shown.
    readonly_fields = [
        field
        for field in CHECK_STATE_FIELDS
        if field
        not in (
            "recent_latencies",
            "sparkline_points",
            "sparkline_peak_ms",
            "uptime_base_hour",
            "uptime_base",
        )
    ]
    fieldsets = [
        (None, {"fields": ["slug", "service", "data_store", "enabled", "position"]}),
        (
            _("Probe"),
            {
                "fields": [
                    "kind",
                    "method",
                    "target",
                    "accepted_statuses",
                    "timeout",
                    "degraded_after_ms",
                    "conditions",
                    "warn_days",
                ]
            },
        ),
        (
            _("Single sign-on and workers"),
            {
                "description": _(
                    "OpenID provider: expected issuer, client id and redirect URI. Sign-in "
                    "redirect: where anonymous visitors must be sent. Celery: queue and its limit."
                ),
                "fields": ["expected", "client_id", "redirect_uri", "queue", "max_queue_length"],
            },
        ),
        (_("Operations checklist"), {"fields": ["checklist_items"]}),
        (_("Flap control"), {"fields": ["failures_before_down", "successes_before_up"]}),
        (_("Last known state (written by scans)"), {"fields": readonly_fields}),
    ]

    @admin.display(description=_("service or data store"))
    def owner(self, check):
        return check.service or check.data_store


@admin.register(Scan)
class ScanAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "state",
        "started_at",
        "finished_at",
        "duration_ms",
        "checked",
        "up",
        "degraded",
        "down",
        "maintenance",
        "task_id",
    ]
    list_filter = ["state"]
    search_fields = ["task_id"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    change_list_template = "admin/portal/scan/change_list.html"

    def get_urls(self):
        scan_now = self.admin_site.admin_view(self.scan_now_view)
        return [path("scan-now/", scan_now, name="portal_scan_scan_now"), *super().get_urls()]

    def scan_now_view(self, request):
        """Queue a scan now; with the broker down, say so instead of failing."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            task_id = queue_scan()
        except Exception as error:  # kombu raises several types for an unreachable broker
            self.message_user(
                request,
                _("Could not queue a scan: the broker is unreachable (%(error)s).")
                % {"error": error},
                messages.ERROR,
            )
        else:
            self.message_user(
                request,
                _("Scan queued as task %(task)s; follow it in Flower.") % {"task": task_id},
                messages.SUCCESS,
            )
        return redirect("admin:portal_scan_changelist")


class CheckedWithin(admin.SimpleListFilter):
    """Results of the last minutes or hours: a range of the results' time index. A date
    hierarchy would read every result to list the days it offers, where results are
    kept for HEALTH_RETENTION_HOURS anyway."""

    title = _("checked at")
    parameter_name = "within"
    WINDOWS = {
        "15m": (timedelta(minutes=15), _("in the last 15 minutes")),
        "1h": (timedelta(hours=1), _("in the last hour")),
        "6h": (timedelta(hours=6), _("in the last 6 hours")),
        "24h": (timedelta(hours=24), _("in the last 24 hours")),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (_window, label) in self.WINDOWS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.WINDOWS:
            return queryset
        window, _label = self.WINDOWS[self.value()]
        return queryset.filter(checked_at__gte=timezone.now() - window)


@admin.register(CheckResult)
class CheckResultAdmin(ReadOnlyAdmin):
    """A check's results are found by the start of its slug and narrowed by time, status
    and outcome: a sidebar of every check (thousands) and a search of every result's
    detail text (millions of rows, read whole) are left out."""

    list_display = [
        "checked_at",
        "health_check",
        "outcome",
        "status",
        "latency_ms",
        "detail",
        "scan",
    ]
    list_filter = [CheckedWithin, "status", "outcome"]
    list_select_related = ["health_check", "scan"]
    search_fields = ["^health_check__slug"]
    search_help_text = _("The start of a check's slug.")
    # Results pile up (one per check per minute): no COUNT(*) over all of them per page,
    # and no counts beside each filter's choices, which read them all once per choice.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["service", "starts_at", "ends_at", "note"]
    list_filter = ["service__category"]
    list_select_related = ["service"]
    autocomplete_fields = ["service"]
    date_hierarchy = "starts_at"


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "target",
        "enabled",
        "on_down",
        "on_degraded",
        "on_recovered",
        "on_update",
    ]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "target"]
    filter_horizontal = ["categories", "services", "data_stores"]
    actions = ["send_test"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "target", "secret", "language", "enabled"]}),
        (_("Events"), {"fields": ["on_down", "on_degraded", "on_recovered", "on_update"]}),
        (
            _("Subscriptions (none chosen: everything)"),
            {"fields": ["categories", "services", "data_stores"]},
        ),
    ]

    def has_change_permission(self, request, obj=None):
        # Declared by ALERT_EMAIL_TO / ALERT_WEBHOOK_URL: the settings are their truth.
        if obj is not None and obj.declared:
            return False
        return super().has_change_permission(request, obj)

    @admin.action(description=_("Send test"), permissions=["change"])
    def send_test(self, request, queryset):
        """Send each chosen channel a test alert now, and say how each went."""
        for channel in queryset:
            try:
                notify.channel_test(channel)
            except notify.DeliveryError as error:
                self.message_user(
                    request,
                    _("%(channel)s: the test did not arrive: %(error)s")
                    % {"channel": channel, "error": error},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("%(channel)s: the test was sent.") % {"channel": channel},
                    messages.SUCCESS,
                )


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["channel", "state", "attempts", "last_error", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "event", "item_name", "category", "status", "affected", "detail"]
    list_filter = ["event", "category"]
    list_select_related = ["category"]
    search_fields = ["item", "item_name", "cause"]
    date_hierarchy = "at"
    inlines = [DeliveryInline]
    show_full_result_count = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: each alert to each channel, how it went, and why not."""

    list_display = ["created_at", "alert", "channel", "state", "attempts", "sent_at", "last_error"]
    list_filter = ["state", "channel"]
    list_select_related = ["alert", "channel"]
    search_fields = ["alert__item", "channel__name", "last_error"]
    date_hierarchy = "created_at"
    show_full_result_count = False


class IncidentUpdateForm(forms.ModelForm):
    class Meta:
        model = IncidentUpdate
        fields = ["state", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 60})}

    def clean(self):
        cleaned = super().clean()
        if self.has_changed() and not self.instance.incident.is_open:
            raise forms.ValidationError(_("This incident is resolved; it takes no more updates."))
        return cleaned


class IncidentUpdateInline(admin.TabularInline):
    """A row to post an update; those posted show in the incident's timeline."""

    model = IncidentUpdate
    form = IncidentUpdateForm
    fields = ["state", "text"]
    extra = 1
    can_delete = False
    verbose_name_plural = _("Post an update")

    def get_queryset(self, request):
        # Posted updates show in the timeline above; the inline is only for a new one.
        return super().get_queryset(request).none()

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Incidents: opened and resolved by scans, updated by admins (each update goes to the
    channels and stays in the timeline)."""

    list_display = ["pk", "title", "category", "state", "opened_at", "resolved_at"]
    list_filter = ["state", "category"]
    list_select_related = ["category"]
    search_fields = ["title", "cause"]
    date_hierarchy = "opened_at"
    fields = [
        "title",
        "category",
        "cause",
        "affected",
        "state",
        "opened_at",
        "resolved_at",
        "timeline",
    ]
    readonly_fields = fields
    inlines = [IncidentUpdateInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Timeline"))
    def timeline(self, incident):
        rows = []
        for entry in incident.timeline():
            if isinstance(entry, IncidentUpdate):
                what = f"{entry.get_state_display()} ({entry.by_name}): {entry.text}"
            else:
                what = f"{entry.get_event_display()}: {entry.status_label}"
                if entry.affected:
                    what += " · " + ", ".join(entry.affected)
            rows.append((entry.at.strftime("%Y-%m-%d %H:%M:%S"), what))
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", rows))

    def save_formset(self, request, form, formset, change):
        """A new update is posted through the domain (audited, alerted), not saved here."""
        for update in formset.save(commit=False):
            incident_post_update(
                incident=form.instance,
                state=update.state,
                text=update.text,
                by=request.user,
                ip=client_ip(request),
            )


@admin.register(Pin)
class PinAdmin(ReadOnlyAdmin):
    """Members' pinned tools, read-only: by member, in their order, and whether each
    service is still in the catalog. Nobody changes them here: a pin is its member's own
    preference, granting nothing, which they unpin from their home page (gone services'
    too); removing one behind their back would be a change to their page that the
    audit log, which records decisions about members, would have to carry."""

    list_display = ["user", "position", "service_slug", "in_catalog", "pinned_at"]
    search_fields = ["user__username", "service_slug"]
    list_select_related = ["user"]
    ordering = ["user__username", "position", "pk"]
    # Up to PINS_PER_MEMBER a member, for every member: no COUNT(*) of them all per page.
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(in_catalog=service_in_catalog())

    @admin.display(boolean=True, description=_("in the catalog"), ordering="in_catalog")
    def in_catalog(self, pin) -> bool:
        return pin.in_catalog
