"""GraphQL object and input types of the event data, derived from the contract models.

Each type is the contract model run through Strawberry's Pydantic integration:
the fields, their types and descriptions come from the one declaration in
``app.contracts``. Only ``BigInt`` is named here, because GraphQL's Int is 32-bit.
"""

from __future__ import annotations

import strawberry
from strawberry.experimental.pydantic import input as pydantic_input
from strawberry.experimental.pydantic import type as pydantic_type

from app.contracts import access, commerce, data, envelope, identity, values
from app.contracts.values import BigInt

ActorType = strawberry.enum(envelope.ActorType)
Outcome = strawberry.enum(envelope.Outcome)
SignInMethod = strawberry.enum(identity.SignInMethod)
SignInFailureReason = strawberry.enum(identity.SignInFailureReason)
SalesChannel = strawberry.enum(commerce.SalesChannel)
ExportFormat = strawberry.enum(data.ExportFormat)


@pydantic_type(model=envelope.Actor, all_fields=True)
class Actor:
    pass


@pydantic_type(model=envelope.Target, all_fields=True)
class Target:
    pass


@pydantic_type(model=values.Money, all_fields=True)
class Money:
    amount_minor: BigInt = strawberry.field(description="Amount in the currency's minor unit (cents for EUR).")
    currency: strawberry.auto = strawberry.field(description="ISO 4217 code, three upper-case letters.")


@pydantic_type(model=data.FieldChange, all_fields=True)
class FieldChange:
    pass


@pydantic_type(model=identity.UserSignedInData, all_fields=True)
class UserSignedInData:
    pass


@pydantic_type(model=identity.UserSignInFailedData, all_fields=True)
class UserSignInFailedData:
    pass


@pydantic_type(model=access.RoleGrantedData, all_fields=True)
class RoleGrantedData:
    pass


@pydantic_type(model=access.RoleRevokedData, all_fields=True)
class RoleRevokedData:
    pass


@pydantic_type(model=identity.ApiKeyCreatedData, all_fields=True)
class ApiKeyCreatedData:
    pass


@pydantic_type(model=identity.ApiKeyRevokedData, all_fields=True)
class ApiKeyRevokedData:
    pass


@pydantic_type(model=commerce.OrderPlacedData, all_fields=True)
class OrderPlacedData:
    pass


@pydantic_type(model=commerce.PaymentCapturedData, all_fields=True)
class PaymentCapturedData:
    pass


@pydantic_type(model=commerce.PaymentFailedData, all_fields=True)
class PaymentFailedData:
    pass


@pydantic_type(model=commerce.RefundIssuedData, all_fields=True)
class RefundIssuedData:
    pass


@pydantic_type(model=data.DataExportedData, all_fields=True)
class DataExportedData:
    pass


@pydantic_type(model=data.SettingChangedData, all_fields=True)
class SettingChangedData:
    pass


# --- inputs ------------------------------------------------------------------------


@pydantic_input(model=envelope.Actor, all_fields=True)
class ActorInput:
    pass


@pydantic_input(model=envelope.Target, all_fields=True)
class TargetInput:
    pass


@pydantic_input(model=values.Money, all_fields=True)
class MoneyInput:
    amount_minor: BigInt


@pydantic_input(model=data.FieldChange, all_fields=True)
class FieldChangeInput:
    pass


@pydantic_input(model=identity.UserSignedInData, all_fields=True)
class UserSignedInDataInput:
    pass


@pydantic_input(model=identity.UserSignInFailedData, all_fields=True)
class UserSignInFailedDataInput:
    pass


@pydantic_input(model=access.RoleGrantedData, all_fields=True)
class RoleGrantedDataInput:
    pass


@pydantic_input(model=access.RoleRevokedData, all_fields=True)
class RoleRevokedDataInput:
    pass


@pydantic_input(model=identity.ApiKeyCreatedData, all_fields=True)
class ApiKeyCreatedDataInput:
    pass


@pydantic_input(model=identity.ApiKeyRevokedData, all_fields=True)
class ApiKeyRevokedDataInput:
    pass


@pydantic_input(model=commerce.OrderPlacedData, all_fields=True)
class OrderPlacedDataInput:
    pass


@pydantic_input(model=commerce.PaymentCapturedData, all_fields=True)
class PaymentCapturedDataInput:
    pass


@pydantic_input(model=commerce.PaymentFailedData, all_fields=True)
class PaymentFailedDataInput:
    pass


@pydantic_input(model=commerce.RefundIssuedData, all_fields=True)
class RefundIssuedDataInput:
    pass


@pydantic_input(model=data.DataExportedData, all_fields=True)
class DataExportedDataInput:
    pass


@pydantic_input(model=data.SettingChangedData, all_fields=True)
class SettingChangedDataInput:
    pass


@strawberry.input(one_of=True, description="Exactly one member is set; it names the contract (current version).")
class EventDataInput:
    user_signed_in: UserSignedInDataInput | None = strawberry.UNSET
    user_sign_in_failed: UserSignInFailedDataInput | None = strawberry.UNSET
    role_granted: RoleGrantedDataInput | None = strawberry.UNSET
    role_revoked: RoleRevokedDataInput | None = strawberry.UNSET
    api_key_created: ApiKeyCreatedDataInput | None = strawberry.UNSET
    api_key_revoked: ApiKeyRevokedDataInput | None = strawberry.UNSET
    order_placed: OrderPlacedDataInput | None = strawberry.UNSET
    payment_captured: PaymentCapturedDataInput | None = strawberry.UNSET
    payment_failed: PaymentFailedDataInput | None = strawberry.UNSET
    refund_issued: RefundIssuedDataInput | None = strawberry.UNSET
    data_exported: DataExportedDataInput | None = strawberry.UNSET
    setting_changed: SettingChangedDataInput | None = strawberry.UNSET
