"""The overview section of ``eda.html``: headline counts, findings, columns, duplicates and odd
lengths."""

from __future__ import annotations

from typing import Any

from modelcycle import _html
from modelcycle._html import Html, esc
from modelcycle.eda._format import examples_html, num, pct


def _findings(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Plain sentences about what needs attention, each with a severity ('warn' or 'ok')."""
    rows = data["rows"]
    found = []
    if data["duplicates"]:
        extra = data["normalized_duplicates"] - data["duplicates"]
        found.append(
            (
                "warn",
                f"{data['duplicates']:,} rows ({pct(data['duplicates'], rows)}) repeat an earlier "
                f"text exactly"
                + (
                    f", and {extra:,} more once case, spacing and punctuation are ignored"
                    if extra
                    else ""
                )
                + "; duplicates can leak between training and test parts.",
            )
        )
    elif data["normalized_duplicates"]:
        found.append(
            (
                "warn",
                f"{data['normalized_duplicates']:,} rows repeat an earlier text once case, "
                "spacing and punctuation are ignored.",
            )
        )
    else:
        found.append(("ok", "No duplicate texts, exact or normalized."))
    if data["conflicting_labels"]:
        found.append(
            (
                "warn",
                f"{data['conflicting_labels']:,} distinct texts appear with more than one label "
                f"({data['conflicting_rows']:,} rows): a model cannot get all of them right.",
            )
        )
    if data.get("missing_labels"):
        found.append(("warn", f"{data['missing_labels']:,} rows have no label."))
    if data["blank"]["count"]:
        found.append(("warn", f"{data['blank']['count']:,} texts are missing, empty or blank."))
    ratio = data["imbalance_ratio"]
    if ratio is not None and ratio >= 3:
        found.append(
            (
                "warn",
                f"Labels are imbalanced: the largest is {ratio:.1f}× the smallest; read "
                "macro-F1, not only accuracy.",
            )
        )
    elif ratio is not None:
        found.append(("ok", f"Labels are balanced enough (largest / smallest = {ratio:.2f})."))
    for name, check in data["quality"].items():
        if check["count"] and check["share"] >= 0.01 and name != "non_ascii":
            found.append(
                (
                    "warn",
                    f"{check['count']:,} texts ({check['share']:.1%}) contain "
                    f"{check['description'].split(' (')[0]}; see Text quality.",
                )
            )
    if data["short_texts"]["count"]:
        found.append(
            (
                "warn",
                f"{data['short_texts']['count']:,} texts have fewer than "
                f"{data['short_texts']['threshold_words']} words.",
            )
        )
    return found


def overview(data: dict[str, Any], figures: dict[str, Any]) -> str:
    rows = data["rows"]
    cards = _html.cards(
        [
            ("rows", f"{rows:,}"),
            ("columns", len(data["columns"])),
            ("labels", len(data["labels"]) or "–"),
            ("exact duplicates", f"{data['duplicates']:,}"),
            ("normalized duplicates", f"{data['normalized_duplicates']:,}"),
            ("texts with conflicting labels", f"{data['conflicting_labels']:,}"),
            ("blank texts", f"{data['blank']['count']:,}"),
            ("distinct words", f"{data['vocabulary']['size']:,}"),
        ]
    )
    findings = "".join(
        f'<li class="{kind}">{"⚠" if kind == "warn" else "✓"} {esc(text)}</li>'
        for kind, text in _findings(data)
    )
    roles = {data["text_column"]: "text", data["label_column"]: "label"}
    roles.update(dict.fromkeys(data["numeric"], "numeric"))
    columns = _html.table(
        ["column", "type", "role", "missing", "missing share"],
        [
            [
                name,
                dtype,
                roles.get(name, "other"),
                f"{data['missing'][name]:,}",
                pct(data["missing"][name], rows),
            ]
            for name, dtype in data["columns"].items()
        ],
        numeric=(3, 4),
    )
    problems = _problems_table(data)
    return (
        cards
        + f'<ul class="findings">{findings}</ul>'
        + "<h3>Columns</h3>"
        + columns
        + "<h3>Duplicates, conflicts and odd lengths</h3>"
        + problems
        + '<p class="muted">Very long: more than Q3 + 3 × IQR characters (Tukey\'s far-out '
        "fence). Normalized duplicates include the exact ones.</p>"
    )


def _problems_table(data: dict[str, Any]) -> str:
    """Duplicates, conflicts, blank, very short and very long texts: counts, shares, examples."""
    rows = data["rows"]
    blank = data["blank"]
    return _html.table(
        ["what", "rows", "share", "examples"],
        [
            [
                "exact duplicates (repeat an earlier row's text)",
                f"{data['duplicates']:,}",
                pct(data["duplicates"], rows),
                _duplicate_examples(data["duplicate_examples"]),
            ],
            [
                "normalized duplicates (ignoring case, spacing, punctuation, HTML)",
                f"{data['normalized_duplicates']:,}",
                pct(data["normalized_duplicates"], rows),
                examples_html(data["normalized_duplicate_examples"], "near-duplicate pairs"),
            ],
            [
                "distinct texts with conflicting labels",
                f"{data['conflicting_labels']:,}",
                "",
                _conflict_examples(data["conflict_examples"]),
            ],
            [
                f"missing / empty / whitespace-only texts: {blank['missing']:,} / "
                f"{blank['empty']:,} / {blank['whitespace_only']:,}",
                f"{blank['count']:,}",
                pct(blank["count"], rows),
                examples_html(blank["examples"]),
            ],
            [
                f"very short texts (under {data['short_texts']['threshold_words']} words)",
                f"{data['short_texts']['count']:,}",
                pct(data["short_texts"]["count"], rows),
                examples_html(data["short_texts"]["examples"]),
            ],
            [
                f"very long texts (over {num(data['long_texts']['threshold_chars'])} characters)",
                f"{data['long_texts']['count']:,}",
                pct(data["long_texts"]["count"], rows),
                examples_html(data["long_texts"]["examples"], "the longest"),
            ],
        ],
        numeric=(1, 2),
    )


def _duplicate_examples(items: list[dict[str, Any]]) -> Html:
    if not items:
        return Html("")
    body = "".join(
        f'<div class="example"><span class="row">row {i["row"]:,} · {i["copies"]:,} copies</span> '
        f"{esc(i['text'])}</div>"
        for i in items
    )
    return Html(f"<details><summary>the most repeated</summary>{body}</details>")


def _conflict_examples(items: list[dict[str, Any]]) -> Html:
    if not items:
        return Html("")
    body = "".join(
        f'<div class="example"><span class="row">row {i["row"]:,} · '
        + esc(", ".join(f"{label}: {n:,}" for label, n in i["labels"].items()))
        + f"</span> {esc(i['text'])}</div>"
        for i in items
    )
    return Html(f"<details><summary>examples</summary>{body}</details>")
