"""Typed values: every type stores and reads back its own value shape; a value of another
shape, or one that is not what its type claims (a certificate, an SSH key, a connection
string), is INVALID_ARGUMENT naming the field; metadata answers never hold a value."""

from __future__ import annotations

import grpc
import pytest

from coder.secret.v1 import secret_pb2 as S
from coder.secret.v1 import secret_service_pb2 as api
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.secret.factories import Secrets, self_signed, ssh_key, unique, value_of

TYPES = [t for t in S.SecretType.values() if t != S.SECRET_TYPE_UNSPECIFIED]


class TestEveryType:
    @pytest.mark.parametrize("secret_type", TYPES, ids=S.SecretType.Name)
    async def test_the_value_comes_back_as_stored(self, member: Secrets, secret_type: int) -> None:
        secret, value = await member.create(secret_type=secret_type)
        read = await member.value(secret.id)
        assert (read.type, read.version, read.name) == (secret_type, 1, secret.name)
        if secret_type == S.SECRET_TYPE_SSH_KEY:
            assert read.value.ssh_key.private_key == value.ssh_key.private_key
            assert read.value.ssh_key.public_key.startswith("ssh-ed25519 ")
        else:
            assert read.value == value

    @pytest.mark.parametrize("secret_type", TYPES, ids=S.SecretType.Name)
    async def test_no_metadata_answer_holds_the_value(
        self, member: Secrets, secret_type: int
    ) -> None:
        secret, value = await member.create(secret_type=secret_type)
        answers = [
            await member.stub.GetSecret(
                api.GetSecretRequest(secret_id=secret.id), metadata=member.metadata
            ),
            await member.stub.ListSecrets(api.ListSecretsRequest(), metadata=member.metadata),
            await member.stub.ListSecretVersions(
                api.ListSecretVersionsRequest(secret_id=secret.id), metadata=member.metadata
            ),
        ]
        texts = [t for t in _texts(value) if len(t) >= 12]
        assert texts
        for answer in answers:
            serialized = answer.SerializeToString()
            for text in texts:
                assert text.encode() not in serialized
                assert text not in repr(answer)


def _texts(value: S.SecretValue) -> list[str]:
    member = getattr(value, value.WhichOneof("kind") or "")
    texts = [v for _, v in member.ListFields() if isinstance(v, str)]
    if value.HasField("env_variable_set"):
        texts += list(value.env_variable_set.variables.values())
    if value.HasField("json_credential"):
        texts += [v.string_value for v in value.json_credential.document.fields.values()]
    return texts


class TestShapes:
    async def test_a_value_of_another_type_is_refused_naming_the_expected_member(
        self, member: Secrets
    ) -> None:
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_API_KEY, value=value_of(S.SECRET_TYPE_GENERIC)),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"value.api_key"}

    async def test_a_certificate_that_is_not_one_is_refused(self, member: Secrets) -> None:
        value = S.SecretValue(
            certificate=S.Certificate(certificate_pem="-----BEGIN CERTIFICATE-----\nAAAA\n")
        )
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_CERTIFICATE, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"value.certificate.certificate_pem"}
        assert error_reason(error) == "VALUE_INVALID"

    async def test_a_private_key_of_another_certificate_is_refused(self, member: Secrets) -> None:
        certificate, _ = self_signed()
        _, other_key = self_signed()
        value = S.SecretValue(
            certificate=S.Certificate(certificate_pem=certificate, private_key_pem=other_key)
        )
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_CERTIFICATE, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"value.certificate.private_key_pem"}

    async def test_a_chain_that_is_not_certificates_is_refused(self, member: Secrets) -> None:
        certificate, key = self_signed()
        value = S.SecretValue(
            certificate=S.Certificate(
                certificate_pem=certificate, private_key_pem=key, chain_pem="not a chain"
            )
        )
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_CERTIFICATE, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"value.certificate.chain_pem"}

    async def test_an_ssh_key_that_is_not_one_is_refused(self, member: Secrets) -> None:
        value = S.SecretValue(ssh_key=S.SshKey(private_key=unique("not-a-key")))
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_SSH_KEY, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"value.ssh_key.private_key"}

    async def test_an_ssh_public_key_of_another_pair_is_refused(self, member: Secrets) -> None:
        private, _ = ssh_key()
        _, other_public = ssh_key()
        value = S.SecretValue(ssh_key=S.SshKey(private_key=private, public_key=other_public))
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_SSH_KEY, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"value.ssh_key.public_key"}

    async def test_the_matching_public_key_is_accepted_as_given(self, member: Secrets) -> None:
        private, public = ssh_key()
        value = S.SecretValue(ssh_key=S.SshKey(private_key=private, public_key=public))
        secret, _ = await member.create(secret_type=S.SECRET_TYPE_SSH_KEY, value=value)
        assert (await member.value(secret.id)).value.ssh_key.public_key == public

    @pytest.mark.parametrize(
        "text", ["Server=db;Database=app;Password=x", "amqp://guest:guest@localhost:5672/"]
    )
    async def test_urls_and_key_value_pairs_are_connection_strings(
        self, member: Secrets, text: str
    ) -> None:
        value = S.SecretValue(connection_string=S.ConnectionString(connection_string=text))
        await member.create(secret_type=S.SECRET_TYPE_CONNECTION_STRING, value=value)

    async def test_other_text_is_not_a_connection_string(self, member: Secrets) -> None:
        value = S.SecretValue(connection_string=S.ConnectionString(connection_string="just words"))
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_CONNECTION_STRING, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"value.connection_string.connection_string"}

    async def test_an_api_key_with_a_line_break_is_refused(self, member: Secrets) -> None:
        value = S.SecretValue(api_key=S.ApiKey(key="abc\ndef"))
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_API_KEY, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"value.api_key.key"}

    async def test_an_empty_json_credential_is_refused(self, member: Secrets) -> None:
        value = S.SecretValue(json_credential=S.JsonCredential())
        value.json_credential.document.Clear()
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_JSON_CREDENTIAL, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) & {
            "value.json_credential.document",
        }

    async def test_a_refusal_never_echoes_the_value(self, member: Secrets) -> None:
        bad = unique("echo")
        value = S.SecretValue(ssh_key=S.SshKey(private_key=bad))
        member.watch(value)
        error = await rpc_error(
            member.create(secret_type=S.SECRET_TYPE_SSH_KEY, value=value),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert bad not in (error.details() or "")
        for _, data in error.trailing_metadata() or ():
            assert bad.encode() not in (data if isinstance(data, bytes) else data.encode())
