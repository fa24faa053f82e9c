"""Cache invalidation for catalog pages: every catalog write moves the catalog revision.

Signals rather than explicit calls because catalog rows are written from many places
(the admin and its inlines, `loaddata`, shells) and a page that misses one of them
would stay stale; this is the one place that sees them all. No domain logic lives here.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save

from .models import (
    CatalogRevision,
    Category,
    ChecklistItem,
    ConfigNote,
    DataStore,
    FocusArea,
    HealthCheck,
    MaintenanceWindow,
    Service,
)

# Health checks and maintenance windows too: an admin's edit shows at once rather than
# after the next scan. Scans write check state in bulk, which sends no signals.
CATALOG_MODELS = [
    Category,
    Service,
    DataStore,
    FocusArea,
    ChecklistItem,
    ConfigNote,
    HealthCheck,
    MaintenanceWindow,
]


def catalog_changed(sender, **kwargs) -> None:
    # m2m_changed fires before and after each change; one bump, after it, is enough.
    if kwargs.get("action", "post_").startswith("post_"):
        CatalogRevision.bump()


def connect() -> None:
    for model in CATALOG_MODELS:
        post_save.connect(catalog_changed, sender=model, dispatch_uid=f"catalog-save-{model}")
        post_delete.connect(catalog_changed, sender=model, dispatch_uid=f"catalog-del-{model}")
    for through in (
        Service.talks_to.through,
        DataStore.used_by.through,
        HealthCheck.checklist_items.through,
    ):
        m2m_changed.connect(catalog_changed, sender=through, dispatch_uid=f"catalog-m2m-{through}")
