"""The HTML of the evaluation and comparison reports: one self-contained page each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelcycle import _html
from modelcycle.evaluation import _plots
from modelcycle.evaluation._calibration import threshold_table
from modelcycle.evaluation._plots import Scores

TEXT_PREVIEW = 280
"""Characters of an example's text shown before it is folded (the rest opens on a click)."""

SECTIONS = (
    ("headline", "Headline"),
    ("classes", "Per class"),
    ("confusion", "Confusion matrix"),
    ("curves", "ROC and precision-recall"),
    ("calibration", "Calibration"),
    ("threshold", "Threshold"),
    ("errors", "Errors"),
    ("slices", "Accuracy by slice"),
)


def evaluation_html(m: dict[str, Any], scores: Scores | None, *, model: str, data: str) -> str:
    """``evaluation.html`` for ``model`` on ``data``: every section of :data:`SECTIONS` that
    applies to the metrics ``m`` (the curves and the threshold need the ``scores``)."""
    parts = {
        "headline": _headline(m),
        "classes": _per_class(m),
        "confusion": _confusion(m),
        "curves": _curves(scores),
        "calibration": _calibration(m),
        "threshold": _threshold(m, scores),
        "errors": _errors(m),
        "slices": _slices(m),
    }
    shown = [(anchor, title) for anchor, title in SECTIONS if parts[anchor]]
    body = "".join(_section(anchor, title, parts[anchor]) for anchor, title in shown)
    return _html.page(
        f"Evaluation of {model}",
        body,
        subtitle=f"on {data} ({m['n']:,} rows)",
        nav=[(title, f"#{anchor}") for anchor, title in shown],
    )


def comparison_html(result: dict[str, Any]) -> str:
    """``comparison.html``: the two models side by side, the test, where they disagree."""
    a, b = result["models"]["a"], result["models"]["b"]
    rows = []
    for key, title in (
        ("accuracy", "accuracy"),
        ("accuracy_ci95", "95% interval"),
        ("macro_f1", "macro F1"),
        ("weighted_f1", "weighted F1"),
        ("roc_auc", "ROC-AUC"),
        ("log_loss", "log loss"),
        ("ece", "expected calibration error"),
    ):
        rows.append([title, _value(a[key]), _value(b[key])])
    side_by_side = _html.table(["", f"A: {a['name']}", f"B: {b['name']}"], rows, numeric=(1, 2))
    diff, test, counts = result["difference"], result["mcnemar"], result["counts"]
    interval = _interval(diff["ci95"])
    verdict = {
        "a": f"A ({a['name']}) is more accurate than B, beyond chance.",
        "b": f"B ({b['name']}) is more accurate than A, beyond chance.",
        None: "The difference is within what chance gives on this many rows: "
        "do not pick one over the other on accuracy alone.",
    }[result["better"]]
    contingency = _html.table(
        ["", "B right", "B wrong"],
        [
            ["A right", f"{counts['both_correct']:,}", f"{counts['only_a']:,}"],
            ["A wrong", f"{counts['only_b']:,}", f"{counts['both_wrong']:,}"],
        ],
        numeric=(1, 2),
    )
    test_text = (
        f"<p><strong>{_html.esc(verdict)}</strong></p>"
        f"<p>Accuracy A − B: <strong>{diff['accuracy']:+.4f}</strong> (paired bootstrap 95% "
        f"interval {interval}). McNemar's test on the {test['only_a'] + test['only_b']:,} rows "
        f"where exactly one model is right: exact p = {_p(test['p_value'])} (χ² = "
        f"{test['statistic']:.3f} with continuity correction, p = {_p(test['chi2_p_value'])}). "
        f"The models give the same answer on {result['agreement']:.1%} of the rows.</p>"
    )
    disagreements = result["disagreements"]
    body = (
        _section("models", "Side by side", _warnings(result.get("warnings", [])) + side_by_side)
        + _section("test", "Is the difference real?", test_text + contingency)
        + _section(
            "disagreements",
            "Where they disagree",
            "<h3>Only A is right</h3>"
            + _compare_examples(disagreements["only_a_correct"], "B")
            + "<h3>Only B is right</h3>"
            + _compare_examples(disagreements["only_b_correct"], "A"),
        )
    )
    return _html.page(
        f"{a['name']} vs {b['name']}",
        body,
        subtitle=f"on {result['data']} ({result['n']:,} rows)",
        nav=[("Side by side", "#models"), ("Test", "#test"), ("Disagreements", "#disagreements")],
    )


def _headline(m: dict[str, Any]) -> str:
    base = m["baselines"]
    cards = _html.cards(
        [
            ("accuracy", _html.fmt(m["accuracy"])),
            ("95% interval (bootstrap)", _interval(m["accuracy_ci95"])),
            ("macro F1", _html.fmt(m["macro_f1"])),
            ("ROC-AUC", _html.fmt(m["roc_auc"])),
            ("majority-class baseline", _html.fmt(base["majority_accuracy"])),
            ("stratified-random baseline", _html.fmt(base["stratified_random_accuracy"])),
        ]
    )
    lift = m["accuracy"] - base["majority_accuracy"]
    floors = (
        f"<p>Against its floors: always answering <code>{_html.esc(base['majority_label'])}</code> "
        f"scores {base['majority_accuracy']:.4f} and guessing at the class shares "
        f"{base['stratified_random_accuracy']:.4f}; this model is <strong>{lift:+.4f}</strong> "
        f"from the majority-class floor. Weighted F1 {_html.fmt(m['weighted_f1'])}, PR-AUC "
        f"{_html.fmt(m['pr_auc'])}, log loss {_html.fmt(m['log_loss'])}, expected calibration "
        f"error {_html.fmt(m['ece'])}.</p>"
    )
    return _warnings(m.get("warnings", [])) + cards + floors + _postprocess_note(m)


def _warnings(warnings: Sequence[str]) -> str:
    """Each warning (such as labels the model does not know) in a highlighted note."""
    return "".join(f'<p class="note warn">Warning: {_html.esc(w)}</p>' for w in warnings)


def _postprocess_note(m: dict[str, Any]) -> str:
    post = m.get("postprocess")
    if not post:
        return ""
    steps = []
    if post.get("temperature", 1.0) != 1.0:
        steps.append(f"temperature {post['temperature']:.3f}")
    if post.get("threshold"):
        th = post["threshold"]
        steps.append(
            f"answer <code>{_html.esc(th['label'])}</code> when its probability is at least "
            f"{th['value']:.4f} (tuned for {_html.esc(th['metric'])})"
        )
    fitted = post.get("fitted_on", {})
    where = f" fitted on {_html.esc(fitted['data'])} ({fitted['rows']:,} rows)" if fitted else ""
    raw = m["raw"]
    table = _html.table(
        ["", "raw model", "with post-processing"],
        [
            [title, _html.fmt(raw[key]), _html.fmt(m[key])]
            for key, title in (
                ("accuracy", "accuracy"),
                ("macro_f1", "macro F1"),
                ("log_loss", "log loss"),
                ("ece", "expected calibration error"),
            )
        ],
        numeric=(1, 2),
    )
    if m.get("postprocess_stored") is False:
        intro = (
            f"<p>Post-processing{where} for this report only: {'; '.join(steps)}. Every figure "
            "on this page is with it, as the model would answer once calibrated; the model "
            "directory was not changed (<code>modelcycle calibrate MODEL VAL</code> stores it). "
            "The raw model's figures are beside.</p>"
        )
    else:
        intro = (
            f"<p>The model directory stores post-processing{where}: {'; '.join(steps)}. Every "
            "figure on this page is with it, as the model answers in <code>predict</code>; the "
            "raw model's figures are beside.</p>"
        )
    return intro + table


def _per_class(m: dict[str, Any]) -> str:
    rows: list[list[object]] = [
        [
            label,
            _html.fmt(c["precision"]),
            _html.fmt(c["recall"]),
            _html.fmt(c["f1"]),
            f"{c['support']:,}",
            _html.fmt(c["roc_auc"]),
            _html.fmt(c["pr_auc"]),
        ]
        for label, c in m["per_class"].items()
    ]
    total = f"{m['n']:,}"
    for average in ("macro", "weighted"):
        rows.append(
            [
                f"{average} average",
                _html.fmt(m[f"{average}_precision"]),
                _html.fmt(m[f"{average}_recall"]),
                _html.fmt(m[f"{average}_f1"]),
                total,
                "",
                "",
            ]
        )
    note = (
        '<p class="muted">ROC-AUC and PR-AUC (average precision) of each class are one-vs-rest: '
        "how well its probability ranks its rows above the others.</p>"
    )
    table = _html.table(
        ["label", "precision", "recall", "F1", "support", "ROC-AUC", "PR-AUC"],
        rows,
        numeric=(1, 2, 3, 4, 5, 6),
    )
    return table + note


def _confusion(m: dict[str, Any]) -> str:
    confusion = m["confusion_matrix"]
    labels, matrix = confusion["labels"], np.asarray(confusion["matrix"])
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    head = "".join(f'<th class="num">{_html.esc(label)}</th>' for label in labels)
    rows = []
    for i, label in enumerate(labels):
        cells = "".join(
            f'<td class="num" style="background: rgba(9,105,218,{0.06 + 0.5 * shares[i, j]:.2f})">'
            f'{matrix[i, j]:,}<br><span class="muted">{shares[i, j]:.1%}</span></td>'
            for j in range(len(labels))
        )
        rows.append(f"<tr><th>{_html.esc(label)}</th>{cells}</tr>")
    header = f"<thead><tr><th>true \\ predicted</th>{head}</tr></thead>"
    table = f"<table>{header}<tbody>{''.join(rows)}</tbody></table>"
    plot = _html.image(_plots.confusion_png(labels, matrix), "confusion matrix heat maps")
    folded = confusion.get("folded") or []
    fold_note = (
        f" The {len(labels) - 1} labels with the most rows are shown; the other {len(folded):,} "
        f"are added up in the last row and column (<code>folded</code> in "
        "<code>metrics.json</code> lists them, <code>per_class</code> has each one's figures)."
        if folded
        else ""
    )
    return (
        '<p class="muted">Rows: the true label; columns: the answer. Each cell: the count and '
        f"its share of the row (the row's recall on the diagonal).{fold_note}</p>" + table + plot
    )


def _curves(scores: Scores | None) -> str:
    if scores is None:
        return ""
    png = _plots.curves_png(scores.truth, scores.proba, scores.classes)
    if png is None:
        return '<p class="muted">Not defined: the data holds a single label.</p>'
    what = (
        f"for <code>{_html.esc(scores.classes[1])}</code> as the positive label"
        if len(scores.classes) == 2
        else "one-vs-rest for each class"
    )
    return (
        f'<p class="muted">How well the probabilities rank the rows, {what}, at every threshold. '
        "The dashed lines are chance.</p>" + _html.image(png, "ROC and precision-recall curves")
    )


def _calibration(m: dict[str, Any]) -> str:
    curves = [("this model", m["calibration"]["bins"])]
    raw = m.get("raw")
    temperature = (m.get("postprocess") or {}).get("temperature", 1.0)
    if raw is not None and temperature != 1.0:
        curves = [("raw", raw["calibration"]["bins"]), (f"T = {temperature:.3f}", curves[0][1])]
    rows = [
        [
            f"{b['low']:.1f}–{b['high']:.1f}",
            f"{b['count']:,}",
            _html.fmt(b["confidence"], 3),
            _html.fmt(b["accuracy"], 3),
        ]
        for b in m["calibration"]["bins"]
        if b["count"]
    ]
    text = (
        f"<p>Expected calibration error <strong>{_html.fmt(m['ece'])}</strong>: the average gap "
        "between how confident the model is and how often it is right, over confidence bins "
        "weighted by their size (0 is perfect). Points below the diagonal are over-confident."
    )
    if raw is not None and temperature != 1.0:
        text += f" Temperature scaling moved it from {_html.fmt(raw['ece'])}."
    else:
        text += (
            " <code>modelcycle calibrate MODEL VAL</code> fits temperature scaling on "
            "validation data and stores it with the model."
        )
    table = _html.table(
        ["confidence", "answers", "mean confidence", "accuracy"], rows, numeric=(1, 2, 3)
    )
    return (
        text + "</p>" + _html.image(_plots.reliability_png(curves), "reliability diagram") + table
    )


def _threshold(m: dict[str, Any], scores: Scores | None) -> str:
    if scores is None or len(scores.classes) != 2:
        return ""
    stored = (m.get("postprocess") or {}).get("threshold")
    positive = stored["label"] if stored else scores.classes[1]
    column = scores.classes.index(positive)
    is_positive = scores.truth == positive
    if is_positive.all() or not is_positive.any():
        return ""
    table = threshold_table(scores.proba[:, column], is_positive)
    marks = [("most probable label", 0.5)]
    if stored:
        marks.append((f"tuned for {stored['metric']}", stored["value"]))
    rows = []
    for name, value in marks:
        index = _at(table["threshold"], value)
        rows.append(
            [name, f"{value:.4f}"]
            + [_html.fmt(float(table[key][index])) for key in ("precision", "recall", "f1")]
            + [_html.fmt(float(table["accuracy"][index]))]
        )
    text = (
        f"<p>Answering <code>{_html.esc(positive)}</code> when its probability is at least a "
        "threshold trades precision for recall. "
        + (
            (
                "The tuned threshold stored with the model is in use."
                if m.get("postprocess_stored") is not False
                else "The threshold tuned for this report (not stored with the model) is in use."
            )
            if stored
            else "No threshold is stored: the model answers its most probable label. "
            "<code>modelcycle calibrate MODEL VAL --threshold f1</code> tunes one on "
            "validation data (or <code>precision@recall=0.9</code>, ...)."
        )
        + "</p>"
    )
    summary = _html.table(
        ["threshold", "value", "precision", "recall", "F1", "accuracy"],
        rows,
        numeric=(1, 2, 3, 4, 5),
    )
    png = _plots.threshold_png(table, positive, marks)
    return text + summary + _html.image(png, "precision, recall and F1 by threshold")


def _errors(m: dict[str, Any]) -> str:
    found = m.get("examples")
    if not found:
        return ""
    mistakes, unsure = found["most_confident_mistakes"], found["least_confident_correct"]
    return (
        "<h3>Most confident mistakes</h3>"
        '<p class="muted">Wrong answers given with the highest confidence: often label errors '
        "in the data, or what the model has not learned (sarcasm, negation, mixed "
        "opinions).</p>"
        + _example_table(mistakes, "no mistakes")
        + "<h3>Least confident correct answers</h3>"
        '<p class="muted">Right, but only just: where a small change would flip the answer.</p>'
        + _example_table(unsure, "no correct answers")
    )


def _slices(m: dict[str, Any]) -> str:
    overall = m["accuracy"]
    parts = [
        "<h3>By text length (words)</h3>",
        _slice_table(m["by_length"], overall, "words"),
    ]
    for column, groups in m.get("slices", {}).items():
        parts += [f"<h3>By <code>{_html.esc(column)}</code></h3>", _slice_table(groups, overall)]
    note = (
        f'<p class="muted">Accuracy within each group with its 95% (Wilson) interval, against '
        f"{overall:.4f} overall. ▼ marks a group whose whole interval lies below the overall "
        "accuracy (the model is worse there beyond chance), ▲ one above it.</p>"
    )
    return note + "".join(parts)


def _slice_table(groups: Sequence[dict[str, Any]], overall: float, header: str = "value") -> str:
    rows = []
    for group in groups:
        interval, marker = group["ci95"], ""
        if interval is not None and interval[1] < overall:
            marker = "▼"
        elif interval is not None and interval[0] > overall:
            marker = "▲"
        rows.append(
            [
                group["value"],
                f"{group['n']:,}",
                _html.fmt(group["accuracy"]),
                _interval(interval),
                marker,
            ]
        )
    return _html.table(
        [header, "rows", "accuracy", "95% interval", "vs overall"], rows, numeric=(1, 2, 3)
    )


def _example_table(records: Sequence[dict[str, Any]], empty: str) -> str:
    if not records:
        return f'<p class="muted">None ({empty}).</p>'
    rows = "".join(
        f'<tr><td class="num">{r["row"]:,}</td><td>{_html.esc(r["label"])}</td>'
        f'<td>{_html.esc(r["predicted"])}</td><td class="num">{r["confidence"]:.3f}</td>'
        f"<td>{_text_cell(r['text'])}</td></tr>"
        for r in records
    )
    head = (
        '<thead><tr><th class="num">row</th><th>true</th><th>answer</th>'
        '<th class="num">confidence</th><th>text</th></tr></thead>'
    )
    return f"<table>{head}<tbody>{rows}</tbody></table>"


def _compare_examples(records: Sequence[dict[str, Any]], loser: str) -> str:
    if not records:
        return '<p class="muted">None.</p>'
    rows = "".join(
        f'<tr><td class="num">{r["row"]:,}</td><td>{_html.esc(r["label"])}</td>'
        f"<td>{_html.esc(r['a']['predicted'])} ({r['a']['confidence']:.3f})</td>"
        f"<td>{_html.esc(r['b']['predicted'])} ({r['b']['confidence']:.3f})</td>"
        f"<td>{_text_cell(r['text'])}</td></tr>"
        for r in records
    )
    head = (
        '<thead><tr><th class="num">row</th><th>true</th><th>A (confidence)</th>'
        "<th>B (confidence)</th><th>text</th></tr></thead>"
    )
    note = f'<p class="muted">Those where {loser} was most confident in its wrong answer first.</p>'
    return f"{note}<table>{head}<tbody>{rows}</tbody></table>"


def _text_cell(text: str) -> str:
    """The text, folded after :data:`TEXT_PREVIEW` characters (a click shows all of it)."""
    if len(text) <= TEXT_PREVIEW:
        return _html.esc(text)
    cut = text.rfind(" ", 0, TEXT_PREVIEW)
    cut = cut if cut > TEXT_PREVIEW // 2 else TEXT_PREVIEW
    return f"<details><summary>{_html.esc(text[:cut])} …</summary>{_html.esc(text[cut:])}</details>"


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_html.esc(title)}</h2>{body}</section>'


def _at(thresholds: np.ndarray, value: float) -> int:
    """The index of the lowest listed threshold at or above ``value`` (descending list)."""
    above = np.flatnonzero(thresholds >= value)
    return int(above[-1]) if len(above) else 0


def _interval(ci: Sequence[float] | None) -> str:
    return "–" if not ci else f"{ci[0]:.3f}–{ci[1]:.3f}"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return _interval(value)
    return _html.fmt(value)


def _p(value: float) -> str:
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"
