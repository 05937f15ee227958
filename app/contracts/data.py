"""Data: exports and configuration changes."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from app.contracts.values import ContractModel, Count, Label, LongText


class ExportFormat(enum.Enum):
    CSV = "CSV"
    JSON = "JSON"
    PARQUET = "PARQUET"


class DataExportedData(ContractModel):
    """data.exported v1: a dataset left the system."""

    dataset: Label
    format: ExportFormat
    record_count: Count
    destination: Label


class FieldChange(ContractModel):
    """One field of a setting, before and after."""

    field: Label
    before: LongText | None = None
    after: LongText | None = None


class SettingChangedData(ContractModel):
    """setting.changed v1: a configuration setting was changed."""

    setting: Label
    changes: Annotated[list[FieldChange], Field(min_length=1, max_length=100)]
