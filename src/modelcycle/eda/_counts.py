"""Exact word and n-gram counts of a text column, per label, with polars and numpy.

Written here rather than taken from scikit-learn's ``CountVectorizer`` because the report needs
the counts of every n-gram per label (for the log-odds) on files larger than memory allows a
document-term matrix for, in seconds: tokens become integer ids (a polars ``Categorical``), an
n-gram becomes one packed 64-bit key, and a sort plus run-length encoding counts the keys on all
cores. Nothing is sampled or approximated. The tokens are the models' own
(:func:`modelcycle.features.token_lists`), so that the report's words are the words a model sees.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from modelcycle.eda._stopwords import PUNCTUATION, STOP_WORDS

ORDERS = (1, 2, 3)
TOKENS = (
    "the models' word tokens (modelcycle.features.tokenize): lower-cased runs of letters, digits "
    "and underscores with their inner apostrophes (don't is one token), and ! and ?, with HTML "
    "tags removed first; a text's length in words leaves ! and ? out"
)


def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, English contractions and ``!`` / ``?``."""
    return STOP_WORDS


def word_count(tokens: pl.Expr) -> pl.Expr:
    """How many tokens of each list column row are words (not ``!`` or ``?``)."""
    count = tokens.list.len()
    for mark in sorted(PUNCTUATION):
        count = count - tokens.list.count_matches(mark)
    return count


@dataclass(frozen=True)
class GramTable:
    """Every distinct n-gram of one order with its count per label.

    ``grams[i]`` holds the token ids of n-gram ``i`` and ``counts[i, j]`` how often it occurs in
    the texts of label ``j``.
    """

    order: int
    grams: np.ndarray  # (G, order) uint32 token ids
    counts: np.ndarray  # (G, labels) int64

    @functools.cached_property
    def totals(self) -> np.ndarray:
        """Occurrences of each n-gram over all labels, shape (G,)."""
        total: np.ndarray = self.counts.sum(axis=1)
        return total


class Counter:
    """Accumulates word and n-gram counts over batches of texts, in order.

    Example::

        counter = Counter(n_labels=2)
        for texts, labels in batches:
            counter.add(texts.select(token_lists(pl.col("text"))).to_series(), labels)
        unigrams = counter.table(1)
    """

    def __init__(self, *, n_labels: int, orders: Sequence[int] = ORDERS) -> None:
        self.n_labels = max(n_labels, 1)
        self.orders = tuple(orders)
        self._categories = pl.Categories.random()
        self._dtype = pl.Categorical(self._categories)
        # polars frees a category mapping once no column of its dtype is alive; this empty
        # column keeps the token ids stable from batch to batch.
        self._anchor = pl.Series("anchor", [], dtype=self._dtype)
        self._tables: dict[int, list[GramTable]] = {n: [] for n in self.orders}
        self._first_seen: list[pl.DataFrame] = []
        self._tokens = 0
        self._size = 0
        self._vocabulary: np.ndarray | None = None

    @property
    def tokens(self) -> int:
        """Word tokens counted so far."""
        return self._tokens

    def add(self, tokens: pl.Series, labels: pl.Series | None) -> None:
        """Count one batch: the ``token_lists`` of its texts, in order, and their label codes
        (0..n_labels-1)."""
        frame = pl.DataFrame(
            {
                "lab": labels if labels is not None else pl.repeat(0, len(tokens), eager=True),
                "tok": tokens,
            }
        ).with_columns(pl.col("lab").cast(pl.UInt32))
        stream = (
            frame.lazy()
            .with_row_index("doc")
            .explode("tok")
            .drop_nulls("tok")
            .select(
                pl.col("doc").cast(pl.UInt32),
                "lab",
                id=pl.col("tok").cast(self._dtype).to_physical(),
            )
            .collect()
        )
        del frame
        self._vocabulary = None
        if stream.height:
            largest = stream.get_column("id").to_numpy().max()
            self._size = max(self._size, int(largest) + 1)
        bits = max(1, (self._size - 1).bit_length())
        for order in self.orders:
            self._tables[order].append(_count(stream, order, self.n_labels, bits))
            if len(self._tables[order]) > 1:
                self._tables[order] = [_merge(self._tables[order], self.n_labels, bits)]
        firsts = stream.lazy().select(
            pl.col("id"), pos=pl.int_range(pl.len(), dtype=pl.UInt64) + self._tokens
        )
        self._first_seen.append(firsts.filter(pl.col("id").is_first_distinct()).collect())
        if len(self._first_seen) > 1:
            merged = pl.concat(self._first_seen).unique("id", keep="first", maintain_order=True)
            self._first_seen = [merged]
        self._tokens += stream.height

    def table(self, order: int) -> GramTable:
        """The counts of every n-gram of ``order`` seen so far."""
        tables = self._tables[order]
        if not tables:
            return GramTable(order, np.zeros((0, order), np.uint32), np.zeros((0, self.n_labels)))
        return tables[0]

    def vocabulary(self) -> np.ndarray:
        """The token of each id, as an object array."""
        if self._vocabulary is None:
            self._vocabulary = self._categories.to_series().to_numpy()
        return self._vocabulary

    def decode(self, grams: np.ndarray) -> list[str]:
        """Token-id rows (G, order) as strings, tokens joined by one space."""
        vocab = self.vocabulary()
        return [" ".join(vocab[row].tolist()) for row in grams]

    def growth(self, points: int = 60) -> list[list[int]]:
        """The vocabulary growth curve: ``[tokens read, distinct words among them]`` pairs."""
        if self._tokens == 0:
            return []
        first = np.sort(pl.concat(self._first_seen).get_column("pos").to_numpy())
        marks = np.unique(np.linspace(0, self._tokens, points + 1).round().astype(np.int64))[1:]
        seen = np.searchsorted(first, marks, side="left")
        return [[int(t), int(v)] for t, v in zip(marks, seen, strict=True)]


def _count(stream: pl.DataFrame, order: int, n_labels: int, bits: int) -> GramTable:
    """Count the n-grams of ``order`` in a token stream (columns doc, lab, id; in text order)."""
    label_bits = (n_labels - 1).bit_length()
    ids = [pl.col("id").cast(pl.UInt64).shift(-i) for i in range(order)]
    within = pl.col("doc") == pl.col("doc").shift(-(order - 1)) if order > 1 else pl.lit(True)
    if order * bits + label_bits <= 64:
        # Fast path: pack (tokens..., label) into one u64 key; sort + run lengths count them.
        key = ids[0]
        for next_id in ids[1:]:
            key = key * (1 << bits) + next_id
        key = key * (1 << label_bits) + pl.col("lab").cast(pl.UInt64)
        keys = stream.lazy().select(key=pl.when(within).then(key)).collect().get_column("key")
        # eager: polars 2.1 panics on this sort + rle inside a lazy query for some inputs
        runs = keys.drop_nulls().sort().rle().struct.unnest()
        values = runs.get_column("value").to_numpy().astype(np.uint64, copy=False)
        lengths = runs.get_column("len").to_numpy().astype(np.int64)
        labels = (values & np.uint64((1 << label_bits) - 1)).astype(np.int64)
        grams = values >> np.uint64(label_bits)
        new = np.ones(len(grams), dtype=bool)
        new[1:] = grams[1:] != grams[:-1]
        return _pivot(order, _unpack(grams[new], order, bits), new, labels, lengths, n_labels)
    # Vocabularies too large to pack: group by the id columns themselves (slower, exact).
    columns = {f"g{i}": pl.col("id").shift(-i) for i in range(order)}
    names = list(columns)
    grouped = (
        stream.lazy()
        .select(**columns, lab="lab", inside=within)
        .filter(pl.col("inside"))  # n-grams that stay inside one text
        .group_by([*names, "lab"])
        .len()
        .sort([*names, "lab"])
        .collect()
    )
    grams = grouped.select(names).to_numpy().astype(np.uint32).reshape(-1, order)
    new = np.ones(len(grams), dtype=bool)
    new[1:] = (grams[1:] != grams[:-1]).any(axis=1)
    labels = grouped.get_column("lab").to_numpy().astype(np.int64)
    lengths = grouped.get_column("len").to_numpy().astype(np.int64)
    return _pivot(order, grams[new], new, labels, lengths, n_labels)


def _unpack(keys: np.ndarray, order: int, bits: int) -> np.ndarray:
    mask = np.uint64((1 << bits) - 1)
    columns = [
        ((keys >> np.uint64(bits * (order - 1 - i))) & mask).astype(np.uint32) for i in range(order)
    ]
    return np.stack(columns, axis=1)


def _pivot(
    order: int,
    grams: np.ndarray,
    new: np.ndarray,
    labels: np.ndarray,
    lengths: np.ndarray,
    n_labels: int,
) -> GramTable:
    """(gram, label, count) rows sorted by gram, ``new`` marking each gram's first row -> one
    row per gram (``grams``) with a count column per label."""
    row = np.cumsum(new) - 1
    counts = np.zeros((len(grams), n_labels), dtype=np.int64)
    counts[row, labels] = lengths
    return GramTable(order, grams.reshape(-1, order), counts)


def _merge(tables: Sequence[GramTable], n_labels: int, bits: int) -> GramTable:
    """Add up the counts of several tables of the same order (rows sorted by n-gram)."""
    order = tables[0].order
    labels = [f"c{j}" for j in range(n_labels)]
    packed = order * bits <= 64
    if packed:  # one u64 key per n-gram, as when counting
        names = ["key"]
        keys = [_pack(t.grams, bits) for t in tables]
        columns = [{"key": k} for k in keys]
    else:
        names = [f"g{i}" for i in range(order)]
        columns = [{name: t.grams[:, i] for i, name in enumerate(names)} for t in tables]
    frames = [
        pl.DataFrame({**c, **{name: t.counts[:, j] for j, name in enumerate(labels)}})
        for c, t in zip(columns, tables, strict=True)
    ]
    merged = pl.concat(frames).group_by(names).agg(pl.col(labels).sum()).sort(names)
    counts = merged.select(labels).to_numpy().astype(np.int64).reshape(-1, n_labels)
    if packed:
        grams = _unpack(merged.get_column("key").to_numpy(), order, bits)
    else:
        grams = merged.select(names).to_numpy().astype(np.uint32).reshape(-1, order)
    return GramTable(order, grams, counts)


def _pack(grams: np.ndarray, bits: int) -> np.ndarray:
    key = np.zeros(len(grams), dtype=np.uint64)
    for i in range(grams.shape[1]):
        key = (key << np.uint64(bits)) | grams[:, i].astype(np.uint64)
    return key


def top(
    counter: Counter,
    table: GramTable,
    scores: np.ndarray,
    k: int,
    *,
    keep: np.ndarray | None = None,
) -> list[tuple[str, float, int]]:
    """The ``k`` n-grams with the highest ``scores`` (ties: alphabetical), as
    ``(gram, score, row)``; ``keep`` masks the rows that may be chosen."""
    values = scores.astype(np.float64) if keep is None else np.where(keep, scores, -np.inf)
    candidates = _top_candidates(values, k)
    if len(candidates) == 0 or k <= 0:
        return []
    chosen = values[candidates]
    if len(candidates) > k:
        kth = np.partition(chosen, len(chosen) - k)[len(chosen) - k]
        tied = chosen >= kth
        if tied.sum() > 50 * k:  # a flat tail of ties: take the first k by position
            tied = np.zeros(len(chosen), dtype=bool)
            tied[np.argsort(-chosen, kind="stable")[:k]] = True
        candidates, chosen = candidates[tied], chosen[tied]
    names = counter.decode(table.grams[candidates])
    ranked = sorted(
        zip(names, chosen.tolist(), candidates.tolist(), strict=True),
        key=lambda item: (-item[1], item[0]),
    )
    return ranked[:k]


def _top_candidates(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of a small superset of the ``k`` largest finite values.

    A threshold is guessed from a strided subsample and kept only if at least ``k`` values reach
    it, which guarantees that every one of the top ``k`` does; otherwise every finite value."""
    finite = values > -np.inf
    if len(values) > 200_000 and k > 0:
        step = len(values) // 50_000
        sample = values[::step]
        rank = min(len(sample), 2 * (k // step + 1) + 10)
        threshold = np.partition(sample, len(sample) - rank)[len(sample) - rank]
        if threshold > -np.inf:
            reached = values >= threshold
            if reached.sum() >= k:
                return np.flatnonzero(reached)
    return np.flatnonzero(finite)


def log_odds_z(counts: np.ndarray, label_totals: np.ndarray | None = None) -> np.ndarray:
    """Log-odds ratio z-scores of each n-gram for each label against all other labels.

    Monroe, Colaresi & Quinn (2008), "Fightin' Words", with an informative Dirichlet prior: the
    prior count of an n-gram is its count over the whole dataset. ``counts`` is (G, labels);
    the result has the same shape, positive where an n-gram is typical of the label.
    ``label_totals`` are the occurrences per label of all n-grams, when ``counts`` holds only
    some of them.
    """
    counts = counts.astype(np.float64)
    prior = counts.sum(axis=1)
    label_totals = counts.sum(axis=0) if label_totals is None else label_totals.astype(np.float64)
    prior_total = label_totals.sum()
    z = np.zeros_like(counts)
    for j in range(counts.shape[1]):
        if counts.shape[1] == 2 and j == 1:  # two labels: the second is the mirror image
            z[:, 1] = -z[:, 0]
            break
        ours = counts[:, j] + prior
        theirs = prior - counts[:, j] + prior
        n_ours = label_totals[j] + prior_total
        n_theirs = prior_total - label_totals[j] + prior_total
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.log(ours / (n_ours - ours)) - np.log(theirs / (n_theirs - theirs))
            z[:, j] = np.nan_to_num(delta / np.sqrt(1.0 / ours + 1.0 / theirs))
    return z


def distinctive_z(table: GramTable, k: int) -> np.ndarray:
    """``log_odds_z`` of a table, exact for every label's ``k`` best n-grams.

    Most n-grams occur once, and one seen once scores the same low z as any other; when each
    label has ``k`` more frequent n-grams above that score, the ones seen once are left at 0
    instead of computed (a third of the time on real text)."""
    label_totals = table.counts.sum(axis=0)
    frequent = table.totals >= 2
    if frequent.all() or table.counts.shape[1] < 2:
        return log_odds_z(table.counts, label_totals)
    z = np.zeros(table.counts.shape, dtype=np.float64)
    z[frequent] = log_odds_z(table.counts[frequent], label_totals)
    once = log_odds_z(np.eye(table.counts.shape[1], dtype=np.int64), label_totals).diagonal()
    beaten = ((z[frequent] > once) & (table.counts[frequent] > 0)).sum(axis=0)
    if (beaten >= k).all():
        return z
    return log_odds_z(table.counts, label_totals)
