"""Data: exports and configuration changes."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from app.contracts.declare import event_contract
from app.contracts.values import ContractModel, Count, Label, LongText


class ExportFormat(enum.Enum):
    CSV = "CSV"
    JSON = "JSON"
    PARQUET = "PARQUET"


@event_contract(
    "data.exported",
    version=1,
    examples=[{"dataset": "customers", "format": "CSV", "recordCount": 1200, "destination": "s3://exports"}],
)
class DataExportedData(ContractModel):
    """A dataset left the system."""

    dataset: Label
    format: ExportFormat
    record_count: Count
    destination: Label


class FieldChange(ContractModel):
    """One field of a setting, before and after."""

    field: Label
    before: LongText | None = None
    after: LongText | None = None


@event_contract(
    "setting.changed",
    version=1,
    examples=[{"setting": "password_policy", "changes": [{"field": "minLength", "before": "8", "after": "12"}]}],
)
class SettingChangedData(ContractModel):
    """A configuration setting was changed."""

    setting: Label
    changes: Annotated[list[FieldChange], Field(min_length=1, max_length=100)]
