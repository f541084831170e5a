"""Import and export, for administrators.

Import reads a `.env` file, a JSON object or an export bundle, checks every entry (names,
values, conflicts) before writing any, then writes each secret as its own create (or new
version, with NEW_VERSION). Export seals the current values of the chosen secrets into a
bundle under a password, writing an access record per secret first.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from coder.secret.v1 import secret_pb2
from coder.secret.v1 import secret_service_pb2 as api
from services.kit import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Principal,
    current_principal,
    new_id,
    request_id,
    validate_message,
)
from services.secret._mapping import SecretRecord
from services.secret._transfer import (
    FormatError,
    open_bundle,
    parse_dotenv,
    parse_json_object,
    seal_bundle,
)
from services.secret._values import MEMBER_OF_TYPE, check_value
from services.secret.service.access import not_found
from services.secret.service.context import SecretContext
from services.secret.service.secrets import SecretService, check_scope
from services.secret.service.versions import VersionService

A = secret_pb2
MAX_ENTRIES = 500
MAX_EXPORT = 1000


class TransferService:
    """Imports into and exports from the caller's organization."""

    def __init__(
        self, context: SecretContext, secrets: SecretService, versions: VersionService
    ) -> None:
        self._c = context
        self._secrets = secrets
        self._versions = versions

    # --- import --------------------------------------------------------------------------------

    async def import_secrets(self, request: api.ImportSecretsRequest) -> api.ImportSecretsResponse:
        principal = current_principal()
        if not request.content:
            raise _content_error("is empty")
        entries = self._entries(principal, request)
        if len(entries) > MAX_ENTRIES:
            raise InvalidArgument(
                f"an import holds at most {MAX_ENTRIES} secrets",
                violations=[FieldViolation("content", f"more than {MAX_ENTRIES} secrets")],
            )
        for index, (draft, value) in enumerate(entries):
            try:
                validate_message(api.CreateSecretRequest(secret=draft, value=value))
                check_value(draft.type, value, f"content[{index}].value")
            except InvalidArgument as error:
                raise InvalidArgument(
                    f"entry {index} ({draft.name}) is not valid: {error.message}",
                    violations=error.violations,
                    reason=error.reason,
                ) from None
        existing = await self._existing(principal, entries)
        conflict = request.on_conflict or api.IMPORT_CONFLICT_FAIL
        if existing and conflict == api.IMPORT_CONFLICT_FAIL:
            names = sorted(record.secret.name for record in existing.values())
            raise AlreadyExists(
                f"the scope already holds {', '.join(names[:20])}; nothing was imported",
                reason="SECRET_NAME_TAKEN",
                metadata={"names": ",".join(names[:100])},
            )
        if conflict == api.IMPORT_CONFLICT_NEW_VERSION:
            for index, record in existing.items():
                if record.secret.type != entries[index][0].type:
                    raise FailedPrecondition(
                        f"{record.secret.name} is a {A.SecretType.Name(record.secret.type)}, "
                        "the import's entry is not; nothing was imported",
                        reason="SECRET_TYPE_MISMATCH",
                    )
        reply = api.ImportSecretsResponse()
        for index, (draft, value) in enumerate(entries):
            found = existing.get(index)
            if found is None:
                reply.created.append(await self._secrets.create_secret(draft, value))
            elif conflict == api.IMPORT_CONFLICT_SKIP:
                reply.skipped.append(draft.name)
            else:
                secret, _ = await self._versions.add_version(
                    api.AddSecretVersionRequest(secret_id=found.id, value=value)
                )
                reply.updated.append(secret)
        return reply

    def _entries(
        self, principal: Principal, request: api.ImportSecretsRequest
    ) -> list[tuple[secret_pb2.Secret, secret_pb2.SecretValue]]:
        try:
            if request.format == api.IMPORT_FORMAT_BUNDLE:
                if not request.password:
                    raise InvalidArgument(
                        "a bundle needs its password",
                        violations=[FieldViolation("password", "is required for a BUNDLE")],
                    )
                return [
                    _bundle_entry(principal, entry, index)
                    for index, entry in enumerate(open_bundle(request.content, request.password))
                ]
            text = request.content.decode("utf-8")
            members: dict[str, str | dict[str, Any]] = (
                dict(parse_dotenv(text))
                if request.format == api.IMPORT_FORMAT_DOTENV
                else parse_json_object(text)
            )
        except UnicodeDecodeError:
            raise _content_error("is not UTF-8 text") from None
        except FormatError as error:
            raise _content_error(str(error)) from None
        if not members:
            raise _content_error("holds no variables")
        scope_id = check_scope(principal, request.scope, request.scope_id, "scope_id")
        return _variable_entries(request, members, scope_id)

    async def _existing(
        self,
        principal: Principal,
        entries: list[tuple[secret_pb2.Secret, secret_pb2.SecretValue]],
    ) -> dict[int, SecretRecord]:
        found: dict[int, SecretRecord] = {}
        seen: set[tuple[int, str, str]] = set()
        for index, (draft, _) in enumerate(entries):
            key = (draft.scope, draft.scope_id, draft.name)
            if key in seen:
                raise _content_error(f"names {draft.name} twice in one scope")
            seen.add(key)
            record = await self._c.repository.secret_by_name(principal.organization_id, *key)
            if record is not None:
                found[index] = record
        return found

    # --- export --------------------------------------------------------------------------------

    async def export_secrets(self, request: api.ExportSecretsRequest) -> tuple[bytes, int]:
        principal = current_principal()
        records = await self._chosen(principal, request)
        entries = []
        for record in records:
            number = record.secret.current_version
            stored = await self._c.repository.version(record.organization_id, record.id, number)
            if stored is None:
                raise FailedPrecondition(
                    f"secret {record.id} lost its current version", reason="VERSION_MISSING"
                )
            await self._audit(principal, record, number, request.reason)
            value = await self._c.open(record, stored)
            entries.append(_export_entry(record, value))
        return seal_bundle(entries, request.password), len(entries)

    async def _chosen(
        self, principal: Principal, request: api.ExportSecretsRequest
    ) -> list[SecretRecord]:
        if request.secret_ids:
            records = []
            for secret_id in request.secret_ids:
                record = await self._c.repository.secret(principal.organization_id, secret_id)
                if record is None or record.secret.state != A.SECRET_STATE_ACTIVE:
                    raise not_found(secret_id)
                records.append(record)
            return records
        if request.scope_id and not request.scope:
            raise InvalidArgument(
                "a scope id needs its scope",
                violations=[FieldViolation("scope", "name the scope of scope_id")],
            )
        records = await self._c.repository.every_secret(
            principal.organization_id,
            state=A.SECRET_STATE_ACTIVE,
            scope=request.scope,
            scope_id=request.scope_id if request.scope_id or request.scope == 1 else None,
        )
        if len(records) > MAX_EXPORT:
            raise FailedPrecondition(
                f"an export holds at most {MAX_EXPORT} secrets; narrow it by scope or ids",
                reason="EXPORT_TOO_LARGE",
            )
        return records

    async def _audit(
        self, principal: Principal, record: SecretRecord, version: int, reason: str
    ) -> None:
        entry = A.AccessRecord(
            id=new_id(),
            secret_id=record.id,
            secret_name=record.secret.name,
            version=version,
            subject=principal.subject,
            calling_service=principal.actor,
            reason=f"export: {reason}" if reason else "export",
            granted=True,
            basis="export",
            request_id=request_id(),
        )
        entry.access_time.FromDatetime(self._c.now())
        await self._c.audit.record(principal.organization_id, entry)


def _content_error(what: str) -> InvalidArgument:
    return InvalidArgument(
        f"the content {what}",
        violations=[FieldViolation("content", what)],
        reason="CONTENT_INVALID",
    )


def _variable_entries(
    request: api.ImportSecretsRequest,
    members: dict[str, str | dict[str, Any]],
    scope_id: str,
) -> list[tuple[secret_pb2.Secret, secret_pb2.SecretValue]]:
    def draft(name: str, secret_type: A.SecretType.ValueType) -> secret_pb2.Secret:
        return A.Secret(name=name, type=secret_type, scope=request.scope, scope_id=scope_id)

    if request.set_name:
        if any(not isinstance(v, str) for v in members.values()):
            raise _content_error("holds objects, which an ENV_VARIABLE_SET cannot")
        value = A.SecretValue(
            env_variable_set=A.EnvVariableSet(
                variables={k: v for k, v in members.items() if isinstance(v, str)}
            )
        )
        return [(draft(request.set_name, A.SECRET_TYPE_ENV_VARIABLE_SET), value)]
    entries = []
    for name, member in members.items():
        if isinstance(member, dict):
            document = struct_pb2.Struct()
            document.update(member)
            value = A.SecretValue(json_credential=A.JsonCredential(document=document))
            entries.append((draft(name, A.SECRET_TYPE_JSON_CREDENTIAL), value))
        elif request.variable_type == A.SECRET_TYPE_API_KEY:
            entries.append(
                (draft(name, A.SECRET_TYPE_API_KEY), A.SecretValue(api_key=A.ApiKey(key=member)))
            )
        else:
            value = A.SecretValue(generic=A.GenericSecret(value=member))
            entries.append((draft(name, A.SECRET_TYPE_GENERIC), value))
    return entries


def _export_entry(record: SecretRecord, value: secret_pb2.SecretValue) -> dict[str, Any]:
    secret = record.public()
    return {
        "name": secret.name,
        "type": A.SecretType.Name(secret.type),
        "scope": A.SecretScope.Name(secret.scope),
        "scopeId": secret.scope_id,
        "description": secret.description,
        "metadata": dict(secret.metadata),
        "value": json_format.MessageToDict(value),
    }


def _bundle_entry(
    principal: Principal, entry: Any, index: int
) -> tuple[secret_pb2.Secret, secret_pb2.SecretValue]:
    try:
        secret = A.Secret(
            name=str(entry["name"]),
            type=A.SecretType.Value(entry["type"]),
            scope=A.SecretScope.Value(entry["scope"]),
            description=str(entry.get("description", "")),
            metadata={str(k): str(v) for k, v in dict(entry.get("metadata", {})).items()},
        )
        value = json_format.ParseDict(entry["value"], A.SecretValue())
    except (KeyError, TypeError, ValueError, AttributeError, json_format.ParseError):
        raise _content_error(f"entry {index} of the bundle is malformed") from None
    if secret.type not in MEMBER_OF_TYPE:
        raise _content_error(f"entry {index} of the bundle has no type")
    try:
        secret.scope_id = check_scope(
            principal, secret.scope, str(entry.get("scopeId", "")), "scope_id"
        )
    except DomainError:
        raise _content_error(f"entry {index} of the bundle has an invalid scope") from None
    return secret, value
