"""The portal's models: the catalog (categories, services, data stores, their texts) and
the health of what it catalogs (checks, scans, results, maintenance windows), and the
alerts its changes send (alerts, channels, deliveries), the incidents
they open, and the services members pin to their home page."""

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
from .pins import PINS_PER_MEMBER, Pin, service_in_catalog

__all__ = [
    "NO_REVISION",
    "PINS_PER_MEMBER",
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
    "Pin",
    "Revision",
    "Scan",
    "Service",
    "service_in_catalog",
    "validate_service_location",
    "validate_talks_to",
]
