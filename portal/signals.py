"""Cache invalidation for catalog pages: every catalog write moves the catalog revision.

Signals rather than explicit calls because catalog rows are written from many places
(the admin and its inlines, `loaddata`, shells) and a page that misses one of them
would stay stale; this is the one place that sees them all. No domain logic lives here.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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


# True while a bulk writer moves the revision itself (revision_moved_by_caller).
_moved_by_caller: ContextVar[bool] = ContextVar("catalog_revision_moved_by_caller", default=False)


@contextmanager
def revision_moved_by_caller() -> Iterator[None]:
    """Catalog writes inside the block do not each move the revision: the caller moves it
    once when it is done (the catalog import, whose deletes would otherwise move it once
    per row deleted, an UPDATE each)."""
    token = _moved_by_caller.set(True)
    try:
        yield
    finally:
        _moved_by_caller.reset(token)


def catalog_changed(sender, **kwargs) -> None:
    # m2m_changed fires before and after each change; one bump, after it, is enough.
    if kwargs.get("action", "post_").startswith("post_") and not _moved_by_caller.get():
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
