"""The guarded sandbox on its own: what compiles, what a template reads and includes, and the
budget and size checks that stop a runaway render before it allocates."""

from __future__ import annotations

import pytest

from services.prompt._templates import MAX_CHARS, RenderRefused, compile_template, render


def rendered(source: str, **values: object) -> str:
    return render(compile_template(source), values, {})


def refusal(source: str, **values: object) -> str:
    with pytest.raises(RenderRefused) as caught:
        rendered(source, **values)
    return caught.value.reason


class TestCompile:
    def test_names_read_exclude_globals_and_locals(self) -> None:
        compiled = compile_template(
            "{% set s = 1 %}{% for i in range(n) %}{{ i }}{{ loop.index }}{% endfor %}"
            "{{ a.b }}{{ s }}"
        )
        assert compiled.names == {"n", "a"}

    def test_includes_are_constant_name_at_label(self) -> None:
        compiled = compile_template('{% include "x/y@production" %}{% include "x/y@production" %}')
        assert compiled.includes == ("x/y@production",)
        for bad in ('{% include "x" %}', "{% include name %}", '{% extends "a@B" %}'):
            with pytest.raises(RenderRefused) as caught:
                compile_template(bad)
            assert caught.value.reason == "TEMPLATE_SYNTAX", bad

    def test_an_unknown_filter_is_a_syntax_error(self) -> None:
        with pytest.raises(RenderRefused) as caught:
            compile_template("{{ x | nosuch }}")
        assert "No filter named 'nosuch'" in caught.value.detail


class TestBudget:
    def test_ordinary_templates_render(self) -> None:
        assert (
            rendered(
                "{% for u in us %}{{ loop.index }}:{{ u.n }} {% endfor %}",
                us=[{"n": "a"}, {"n": "b"}],
            )
            == "1:a 2:b "
        )
        assert (
            rendered(
                "{{ '%.2f' % x }} {{ 'a' ~ b ~ 'c' }} {{ t | replace('a', 'b') }}",
                x=3.14159,
                b=1,
                t="aa",
            )
            == "3.14 a1c bb"
        )
        assert rendered("{{ 'x' * 3 }}{{ [1] * 2 }}{{ 2 ** 10 }}") == "xxx[1, 1]1024"

    @pytest.mark.parametrize(
        "source",
        [
            "{% set r = range(1000) %}{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}",
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(30) }}",
            "{{ 'x' * (10 ** 7) }}",
            "{{ ('x' * 1001) | replace('x', 'x' * 1000) }}",
            "{{ ('x' * 1001).replace('x', 'x' * 1000) }}",
            "{{ 'x' | indent(1000000) }}",
            "{{ 2 ** 10000000 }}",
            "{{ '%.999999f' % 1 }}",
        ],
    )
    def test_runaway_work_is_refused(self, source: str) -> None:
        assert refusal(source) == "TEMPLATE_TOO_EXPENSIVE"

    def test_output_is_capped(self) -> None:
        source = "{% for i in range(11) %}{{ s }}{% endfor %}"
        assert refusal(source, s="x" * (MAX_CHARS // 10)) == "TEMPLATE_TOO_EXPENSIVE"

    @pytest.mark.parametrize(
        "source",
        [
            "{{ ''.__class__ }}",
            "{{ [].append.__self__ }}",
            "{{ self._TemplateReference__context }}",
            "{{ range.__call__ }}",
            "{{ '{0.__class__}'.format(1) }}",
        ],
    )
    def test_escapes_are_unsafe(self, source: str) -> None:
        assert refusal(source) == "TEMPLATE_UNSAFE"

    def test_undefined_names_say_which(self) -> None:
        with pytest.raises(RenderRefused) as caught:
            rendered("{{ missing }}")
        assert caught.value.undefined == "missing"
