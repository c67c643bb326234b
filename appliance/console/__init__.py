"""The serial maintenance console (pyserial over ttyS0), see console.py."""

from appliance.console.config import ConsoleConfig
from appliance.console.console import Console
from appliance.console.status import BoardSummary, StatusProvider
from appliance.console.store import MaintenanceStore

__all__ = ["BoardSummary", "Console", "ConsoleConfig", "MaintenanceStore", "StatusProvider"]
