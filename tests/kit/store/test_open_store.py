"""Choosing a store backend from its URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.kit.store import CosmosStore, SqliteStore, open_store


class TestSqliteUrls:
    @pytest.mark.parametrize(
        ("url", "path"),
        [
            ("sqlite:///.coder/coder.db", ".coder/coder.db"),
            ("sqlite:////var/lib/coder/coder.db", "/var/lib/coder/coder.db"),
            ("sqlite:///:memory:", ":memory:"),
        ],
    )
    def test_path(self, url: str, path: str) -> None:
        store = open_store(url)

        assert isinstance(store, SqliteStore)
        assert store.path == path

    async def test_a_relative_file_is_created_with_its_folder(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        store = open_store("sqlite:///data/nested/coder.db")
        await store.open([])
        await store.close()

        assert (tmp_path / "data/nested/coder.db").is_file()

    def test_a_url_without_path_is_refused(self) -> None:
        with pytest.raises(ValueError, match="sqlite"):
            open_store("sqlite://")


class TestCosmosUrls:
    def test_https_by_default_and_key_kept_verbatim(self) -> None:
        store = open_store("cosmos://db.example.com:443/coder?key=ab+c/d==")

        assert isinstance(store, CosmosStore)
        assert store.endpoint == "https://db.example.com:443/"
        assert store.database_name == "coder"
        assert store.verify_tls

    def test_plain_http_for_a_test_server(self) -> None:
        store = open_store("cosmos://127.0.0.1:8081/coder?key=k&tls=false")

        assert isinstance(store, CosmosStore)
        assert store.endpoint == "http://127.0.0.1:8081/"

    def test_cosmos_https_scheme_and_unverified_certificate(self) -> None:
        store = open_store("cosmos+https://localhost:8081/coder?key=k&verify=false")

        assert isinstance(store, CosmosStore)
        assert store.endpoint == "https://localhost:8081/"
        assert not store.verify_tls

    def test_the_key_may_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CODER_COSMOS_KEY", "from-env")

        assert isinstance(open_store("cosmos://host:8081/coder"), CosmosStore)

    def test_a_missing_key_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("CODER_COSMOS_KEY", raising=False)

        with pytest.raises(ValueError, match="CODER_COSMOS_KEY"):
            open_store("cosmos://host:8081/coder")

    def test_a_missing_database_is_refused(self) -> None:
        with pytest.raises(ValueError, match="database"):
            open_store("cosmos://host:8081/?key=k")


def test_an_unknown_scheme_names_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"sqlite:///.*cosmos://"):
        open_store("postgres://localhost/coder")
