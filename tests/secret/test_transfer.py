"""Import from `.env` and JSON, export as an encrypted bundle and import it elsewhere, for
administrators; conflicts refuse, skip or add versions; a wrong password or an altered bundle
opens nothing."""

from __future__ import annotations

import json

import grpc
import pytest

from coder.secret.v1 import secret_pb2 as S
from coder.secret.v1 import secret_service_pb2 as api
from services.secret._transfer import FormatError, parse_dotenv
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.secret.factories import Secrets, unique

PASSWORD = "correct horse battery staple"


def dotenv(admin: Secrets) -> tuple[str, dict[str, str]]:
    values = {"DB_PASSWORD": unique("db"), "STRIPE_KEY": unique("sk"), "MULTI": unique("m")}
    admin.scan.watch(*values.values())
    text = (
        "# a comment\n"
        f"export DB_PASSWORD={values['DB_PASSWORD']}\n"
        f"STRIPE_KEY='{values['STRIPE_KEY']}'  # inline comment\n"
        f'MULTI="line one\\n{values["MULTI"]}"\n'
    )
    values["MULTI"] = f"line one\n{values['MULTI']}"
    return text, values


async def importing(admin: Secrets, **fields: object) -> api.ImportSecretsResponse:
    reply: api.ImportSecretsResponse = await admin.stub.ImportSecrets(
        api.ImportSecretsRequest(**fields),  # type: ignore[arg-type]
        metadata=admin.metadata,
    )
    return reply


class TestDotenv:
    def test_the_parser_reads_quotes_exports_and_comments(self) -> None:
        parsed = parse_dotenv(
            "A=1\nexport B = two words # note\nC=\"x\\ty\nz\"\nD='$raw\\n'\n# E=no\n"
        )
        assert parsed == {"A": "1", "B": "two words", "C": "x\ty\nz", "D": "$raw\\n"}

    @pytest.mark.parametrize("text", ["A", "A='open", 'A="open', "1A=x"])
    def test_malformed_lines_name_the_line_not_the_value(self, text: str) -> None:
        with pytest.raises(FormatError, match="line 1"):
            parse_dotenv(text)

    async def test_each_variable_becomes_a_secret(self, admin: Secrets) -> None:
        text, values = dotenv(admin)
        reply = await importing(
            admin,
            format=api.IMPORT_FORMAT_DOTENV,
            content=text.encode(),
            scope=S.SECRET_SCOPE_PROJECT,
            scope_id="project-1",
        )
        assert sorted(s.name for s in reply.created) == sorted(values)
        for secret in reply.created:
            read = await admin.value(secret.id)
            assert read.value.generic.value == values[secret.name]

    async def test_all_variables_into_one_set(self, admin: Secrets) -> None:
        text, values = dotenv(admin)
        reply = await importing(
            admin,
            format=api.IMPORT_FORMAT_DOTENV,
            content=text.encode(),
            scope=S.SECRET_SCOPE_ORGANIZATION,
            set_name="app_env",
        )
        [secret] = reply.created
        assert secret.type == S.SECRET_TYPE_ENV_VARIABLE_SET
        read = await admin.value(secret.id)
        assert dict(read.value.env_variable_set.variables) == values

    async def test_an_unparsable_file_names_the_line(self, admin: Secrets) -> None:
        error = await rpc_error(
            importing(
                admin,
                format=api.IMPORT_FORMAT_DOTENV,
                content=b"GOOD=1\nnot a line\n",
                scope=S.SECRET_SCOPE_ORGANIZATION,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "CONTENT_INVALID" and "line 2" in (error.details() or "")


class TestJson:
    async def test_strings_are_variables_and_objects_json_credentials(self, admin: Secrets) -> None:
        key, private = unique("k"), unique("pk")
        admin.scan.watch(key, private)
        content = json.dumps({"OPENAI_KEY": key, "GCP_SA": {"private_key": private}})
        reply = await importing(
            admin,
            format=api.IMPORT_FORMAT_JSON,
            content=content.encode(),
            scope=S.SECRET_SCOPE_ORGANIZATION,
            variable_type=S.SECRET_TYPE_API_KEY,
        )
        types = {s.name: (s.type, s.id) for s in reply.created}
        assert types["OPENAI_KEY"][0] == S.SECRET_TYPE_API_KEY
        assert types["GCP_SA"][0] == S.SECRET_TYPE_JSON_CREDENTIAL
        assert (await admin.value(types["OPENAI_KEY"][1])).value.api_key.key == key
        document = (await admin.value(types["GCP_SA"][1])).value.json_credential.document
        assert document.fields["private_key"].string_value == private


class TestConflicts:
    async def _existing(self, admin: Secrets) -> tuple[str, bytes]:
        name = unique("C").replace("-", "_")
        await admin.create(name, S.SECRET_TYPE_GENERIC)
        fresh = unique("v")
        admin.scan.watch(fresh)
        return name, f"{name}={fresh}\nNEW_{name}={fresh}\n".encode()

    async def test_fail_writes_nothing(self, admin: Secrets) -> None:
        name, content = await self._existing(admin)
        error = await rpc_error(
            importing(
                admin,
                format=api.IMPORT_FORMAT_DOTENV,
                content=content,
                scope=S.SECRET_SCOPE_ORGANIZATION,
            ),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert name in (error.details() or "")
        listing = await admin.stub.ListSecrets(
            api.ListSecretsRequest(name_prefix=f"NEW_{name}"), metadata=admin.metadata
        )
        assert list(listing.secrets) == []

    async def test_skip_and_new_version(self, admin: Secrets) -> None:
        name, content = await self._existing(admin)
        skipped = await importing(
            admin,
            format=api.IMPORT_FORMAT_DOTENV,
            content=content,
            scope=S.SECRET_SCOPE_ORGANIZATION,
            on_conflict=api.IMPORT_CONFLICT_SKIP,
        )
        assert list(skipped.skipped) == [name] and len(skipped.created) == 1
        name2, content2 = await self._existing(admin)
        updated = await importing(
            admin,
            format=api.IMPORT_FORMAT_DOTENV,
            content=content2,
            scope=S.SECRET_SCOPE_ORGANIZATION,
            on_conflict=api.IMPORT_CONFLICT_NEW_VERSION,
        )
        assert [(s.name, s.current_version) for s in updated.updated] == [(name2, 2)]


class TestBundle:
    async def test_an_export_imports_into_another_organization(
        self,
        admin: Secrets,
        member: Secrets,
        token: TokenFactory,
        org: str,
    ) -> None:
        made = [
            await member.create(secret_type=t, description="exported", metadata={"k": "v"})
            for t in (S.SECRET_TYPE_API_KEY, S.SECRET_TYPE_CERTIFICATE, S.SECRET_TYPE_SSH_KEY)
        ]
        exported = await admin.stub.ExportSecrets(
            api.ExportSecretsRequest(
                password=PASSWORD, secret_ids=[s.id for s, _ in made], reason="migration"
            ),
            metadata=admin.metadata,
        )
        assert exported.secret_count == 3
        for _, value in made:
            member_name = value.WhichOneof("kind") or ""
            for _, text in getattr(value, member_name).ListFields():
                if isinstance(text, str) and len(text) > 12:
                    assert text.encode() not in exported.bundle
        other_admin = Secrets(
            admin.stub,
            auth(token(org=f"{org}-copy", roles=("admin",), sub="admin-2")),
            admin.scan,
        )
        imported = await importing(
            other_admin,
            format=api.IMPORT_FORMAT_BUNDLE,
            content=exported.bundle,
            password=PASSWORD,
        )
        assert sorted(s.name for s in imported.created) == sorted(s.name for s, _ in made)
        by_name = {s.name: s for s in imported.created}
        for original, value in made:
            copy = by_name[original.name]
            assert (copy.type, copy.description, dict(copy.metadata)) == (
                original.type,
                "exported",
                {"k": "v"},
            )
            assert (await other_admin.value(copy.id)).value.WhichOneof("kind") == value.WhichOneof(
                "kind"
            )
        records = await admin.stub.ListAccessRecords(
            api.ListAccessRecordsRequest(secret_id=made[0][0].id), metadata=admin.metadata
        )
        assert [(r.basis, r.reason) for r in records.records] == [("export", "export: migration")]

    async def test_a_wrong_password_or_altered_bundle_opens_nothing(
        self, admin: Secrets, member: Secrets
    ) -> None:
        secret, _ = await member.create()
        exported = await admin.stub.ExportSecrets(
            api.ExportSecretsRequest(password=PASSWORD, secret_ids=[secret.id]),
            metadata=admin.metadata,
        )
        for content, password in (
            (exported.bundle, "wrong password, long enough"),
            (exported.bundle.replace(b'"n": 32768', b'"n": 16384'), PASSWORD),
        ):
            error = await rpc_error(
                importing(
                    admin, format=api.IMPORT_FORMAT_BUNDLE, content=content, password=password
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            assert error_reason(error) == "CONTENT_INVALID"

    async def test_a_short_password_is_refused(self, admin: Secrets) -> None:
        error = await rpc_error(
            admin.stub.ExportSecrets(
                api.ExportSecretsRequest(password="short"), metadata=admin.metadata
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"password"}


class TestForAdministrators:
    async def test_members_neither_import_nor_export(self, member: Secrets) -> None:
        await rpc_error(
            importing(
                member,
                format=api.IMPORT_FORMAT_DOTENV,
                content=b"A=1",
                scope=S.SECRET_SCOPE_ORGANIZATION,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await rpc_error(
            member.stub.ExportSecrets(
                api.ExportSecretsRequest(password=PASSWORD), metadata=member.metadata
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
