"""Blocks from lines: headings, bullets, numbered paragraphs, wrapped lines; Markdown."""

from __future__ import annotations

from pipeline.ingest.structure import (
    Block,
    Line,
    is_heading,
    markdown_lines,
    strip_inline_markdown,
    structure_lines,
)

VOCAB = frozenset({"implementation", "plan"})


def blocks(text: str) -> list[Block]:
    return structure_lines([Line(t) for t in text.split("\n")], VOCAB)


def test_wrapped_lines_become_one_paragraph_with_dehyphenation() -> None:
    text = (
        "The committee reviewed the draft strategy and agreed that the imple-\n"
        "mentation plan should be published before the end of the financial\n"
        "year, subject to the usual checks."
    )
    assert blocks(text) == [
        Block(
            "para",
            "The committee reviewed the draft strategy and agreed that the implementation "
            "plan should be published before the end of the financial year, subject to the "
            "usual checks.",
        )
    ]


def test_headings_stand_alone_and_bullets_are_items() -> None:
    text = (
        "Our recommendations\n"
        "\n"
        "We set out three proposals for the coming year, each agreed by the panel:\n"
        "• a shared budget for the two councils\n"
        "• one board for the whole area,\n"
        "  meeting every month\n"
        "– a joint workforce plan\n"
        "\n"
        "2. Next steps\n"
        "The panel will meet again in the spring to review progress on all three."
    )
    assert blocks(text) == [
        Block("heading", "Our recommendations"),
        Block("para", "We set out three proposals for the coming year, each agreed by the panel:"),
        Block("item", "a shared budget for the two councils"),
        Block("item", "one board for the whole area, meeting every month"),
        Block("item", "a joint workforce plan"),
        Block("heading", "Next steps"),
        Block("para", "The panel will meet again in the spring to review progress on all three."),
    ]


def test_lone_bullet_character_introduces_the_next_line() -> None:
    text = "•\n\nimproving access to services\n\n•\n\nreducing waiting times."
    assert blocks(text) == [
        Block("item", "improving access to services"),
        Block("item", "reducing waiting times."),
    ]


def test_numbered_paragraphs_and_lettered_items() -> None:
    text = (
        "1.1 The first numbered paragraph explains the background to the proposal.\n"
        "1.2 The second numbered paragraph sets out the options.\n"
        "a) the first option keeps the current arrangements;\n"
        "b) the second option creates a new body."
    )
    assert [b.kind for b in blocks(text)] == ["item"] * 4
    assert blocks(text)[1].text == "The second numbered paragraph sets out the options."


def test_dash_in_running_text_is_not_a_bullet() -> None:
    full = "The partners agreed a common approach to the new arrangements for the area and"
    text = f"{full}\n– with some reservations – signed the joint letter to the minister."
    assert blocks(text) == [
        Block("para", f"{full} – with some reservations – signed the joint letter to the minister.")
    ]


def test_tab_separated_rows_and_date_lines_stand_alone() -> None:
    text = "17/12/2020\nReport of\tThe Director\nTitle\tA plan for care\nThe text follows here."
    assert blocks(text) == [
        Block("para", "17/12/2020"),
        Block("para", "Report of The Director"),
        Block("para", "Title A plan for care"),
        Block("para", "The text follows here."),
    ]


def test_is_heading_rules() -> None:
    assert is_heading("Financial framework", "", "The budget is set.", 80)
    assert is_heading("Financial framework", "Last sentence.", "", 80)
    assert not is_heading(
        "Financial framework", "a line that does not end and is quite long", "X", 40
    )
    assert not is_heading("the lower case start", "", "", 80)
    assert not is_heading("Ends with a colon:", "", "", 80)
    assert not is_heading("Ends with a connector and", "", "", 80)
    assert not is_heading("One two three four five six seven eight nine ten eleven", "", "", 80)


def test_markdown_syntax_is_stripped_and_hinted() -> None:
    source = (
        "# Main title\n"
        "\n"
        "Some **bold** and _light_ text with a [link](https://example.org) and `code`.\n"
        "\n"
        "Sub heading\n"
        "-----------\n"
        "\n"
        "- first *item*\n"
        "  - nested item\n"
        "1. numbered item\n"
        "\n"
        "| Name | Value |\n"
        "|------|-------|\n"
        "| a    | 1     |\n"
        "\n"
        "---\n"
        "> quoted words\n"
        "```\n"
        "code line\n"
        "```\n"
        "<https://example.org/page>\n"
    )
    result = structure_lines(markdown_lines(source), VOCAB)
    assert result == [
        Block("heading", "Main title"),
        Block("para", "Some bold and light text with a link and code."),
        Block("heading", "Sub heading"),
        Block("item", "first item"),
        Block("item", "nested item"),
        Block("item", "numbered item"),
        Block("para", "Name; Value"),
        Block("para", "a; 1"),
        Block("para", "quoted words"),
        Block("para", "code line"),
        Block("para", "https://example.org/page"),
    ]


def test_strip_inline_markdown() -> None:
    assert strip_inline_markdown("![alt text](x.png) and <b>bold</b>") == "alt text and bold"
    assert strip_inline_markdown("snake_case_name stays") == "snake_case_name stays"
