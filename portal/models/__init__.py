"""The portal's models: the catalog (categories, services, data stores, their texts) and
the health of what it catalogs (checks, scans, results, maintenance windows), and the
alerts its changes send (alerts, channels, deliveries), and the incidents
they open."""

from .alerts import AlertEvent, Channel, Delivery
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
from .incidents import Incident, IncidentState, IncidentUpdate

__all__ = [
    "NO_REVISION",
    "AlertEvent",
    "CatalogRevision",
    "Category",
    "Channel",
    "CheckResult",
    "ChecklistItem",
    "ConfigNote",
    "DataStore",
    "Delivery",
    "FocusArea",
    "HealthCheck",
    "HealthRollup",
    "HealthStatus",
    "Incident",
    "IncidentState",
    "IncidentUpdate",
    "MaintenanceWindow",
    "Revision",
    "Scan",
    "Service",
    "validate_service_location",
    "validate_talks_to",
]
