"""The portal's models: the catalog (categories, services, data stores, their texts) and
the health of what it catalogs (checks, scans, results, maintenance windows)."""

from .catalog import (
    NO_REVISION,
    CatalogRevision,
    Category,
    ChecklistItem,
    ConfigNote,
    DataStore,
    FocusArea,
    Revision,
    Service,
    validate_service_location,
    validate_talks_to,
)
from .health import (
    CheckResult,
    HealthCheck,
    HealthRollup,
    HealthStatus,
    MaintenanceWindow,
    Scan,
)

__all__ = [
    "NO_REVISION",
    "CatalogRevision",
    "Category",
    "CheckResult",
    "ChecklistItem",
    "ConfigNote",
    "DataStore",
    "FocusArea",
    "HealthCheck",
    "HealthRollup",
    "HealthStatus",
    "MaintenanceWindow",
    "Revision",
    "Scan",
    "Service",
    "validate_service_location",
    "validate_talks_to",
]
