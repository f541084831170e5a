"""The gRPC adapter of the secret service: unpack the request, call the service, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

import grpc

from coder.secret.v1 import secret_service_pb2 as api
from coder.secret.v1 import secret_service_pb2_grpc
from services.secret.service import SecretDomain


class SecretServicer(secret_service_pb2_grpc.SecretServiceServicer):
    """coder.secret.v1.SecretService."""

    def __init__(self, domain: SecretDomain) -> None:
        self._secrets = domain.secrets
        self._versions = domain.versions
        self._grants = domain.grants
        self._audit = domain.audit
        self._transfer = domain.transfer
        self._keys = domain.keys

    async def CreateSecret(
        self, request: api.CreateSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateSecretResponse:
        secret = await self._secrets.create_secret(request.secret, request.value)
        return api.CreateSecretResponse(secret=secret)

    async def GetSecret(
        self, request: api.GetSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.GetSecretResponse:
        return api.GetSecretResponse(secret=await self._secrets.get_secret(request.secret_id))

    async def ListSecrets(
        self, request: api.ListSecretsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListSecretsResponse:
        secrets, token = await self._secrets.list_secrets(request)
        return api.ListSecretsResponse(secrets=secrets, next_page_token=token)

    async def UpdateSecret(
        self, request: api.UpdateSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateSecretResponse:
        secret = await self._secrets.update_secret(request.secret, request.update_mask)
        return api.UpdateSecretResponse(secret=secret)

    async def MoveSecret(
        self, request: api.MoveSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.MoveSecretResponse:
        return api.MoveSecretResponse(secret=await self._secrets.move_secret(request))

    async def DeleteSecret(
        self, request: api.DeleteSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteSecretResponse:
        secret = await self._secrets.delete_secret(request.secret_id, request.etag)
        return api.DeleteSecretResponse(secret=secret)

    async def RestoreSecret(
        self, request: api.RestoreSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.RestoreSecretResponse:
        secret = await self._secrets.restore_secret(request.secret_id, request.etag)
        return api.RestoreSecretResponse(secret=secret)

    async def PurgeSecret(
        self, request: api.PurgeSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.PurgeSecretResponse:
        await self._secrets.purge_secret(request.secret_id, request.etag)
        return api.PurgeSecretResponse()

    async def AddSecretVersion(
        self, request: api.AddSecretVersionRequest, context: grpc.aio.ServicerContext
    ) -> api.AddSecretVersionResponse:
        secret, version = await self._versions.add_version(request)
        return api.AddSecretVersionResponse(secret=secret, version=version)

    async def ListSecretVersions(
        self, request: api.ListSecretVersionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListSecretVersionsResponse:
        versions = await self._versions.list_versions(request.secret_id)
        return api.ListSecretVersionsResponse(versions=versions)

    async def RollbackSecret(
        self, request: api.RollbackSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.RollbackSecretResponse:
        secret, version = await self._versions.rollback(request)
        return api.RollbackSecretResponse(secret=secret, version=version)

    async def GetSecretValue(
        self, request: api.GetSecretValueRequest, context: grpc.aio.ServicerContext
    ) -> api.GetSecretValueResponse:
        return await self._versions.get_value(request)

    async def CreateSecretGrant(
        self, request: api.CreateSecretGrantRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateSecretGrantResponse:
        grant = await self._grants.create_grant(request.secret_id, request.grant)
        return api.CreateSecretGrantResponse(grant=grant)

    async def ListSecretGrants(
        self, request: api.ListSecretGrantsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListSecretGrantsResponse:
        grants = await self._grants.list_grants(request.secret_id)
        return api.ListSecretGrantsResponse(grants=grants)

    async def DeleteSecretGrant(
        self, request: api.DeleteSecretGrantRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteSecretGrantResponse:
        await self._grants.delete_grant(request.secret_id, request.grant_id)
        return api.DeleteSecretGrantResponse()

    async def ListAccessRecords(
        self, request: api.ListAccessRecordsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListAccessRecordsResponse:
        records, token = await self._audit.list_records(request)
        return api.ListAccessRecordsResponse(records=records, next_page_token=token)

    async def ImportSecrets(
        self, request: api.ImportSecretsRequest, context: grpc.aio.ServicerContext
    ) -> api.ImportSecretsResponse:
        return await self._transfer.import_secrets(request)

    async def ExportSecrets(
        self, request: api.ExportSecretsRequest, context: grpc.aio.ServicerContext
    ) -> api.ExportSecretsResponse:
        bundle, count = await self._transfer.export_secrets(request)
        reply = api.ExportSecretsResponse(bundle=bundle, secret_count=count)
        reply.export_time.GetCurrentTime()
        return reply

    async def GetKeyStatus(
        self, request: api.GetKeyStatusRequest, context: grpc.aio.ServicerContext
    ) -> api.GetKeyStatusResponse:
        primary, provider, keys = await self._keys.status()
        return api.GetKeyStatusResponse(primary_key_id=primary, provider=provider, keys=keys)

    async def RewrapSecrets(
        self, request: api.RewrapSecretsRequest, context: grpc.aio.ServicerContext
    ) -> api.RewrapSecretsResponse:
        count, keys = await self._keys.rewrap()
        return api.RewrapSecretsResponse(rewrapped_count=count, keys=keys)
