"""The stop words of the report, for the models' tokens: scikit-learn's English list, English
contractions, and the ``!`` and ``?`` tokens.

A copy rather than an import: importing scikit-learn takes over a second, a quarter of the time
the whole report of a 25,000-review file is allowed (tests check the copy against scikit-learn's
``ENGLISH_STOP_WORDS``).
"""

from __future__ import annotations

SKLEARN_ENGLISH = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone
    anything anyway anywhere are around as at back be became because become becomes becoming
    been before beforehand behind being below beside besides between beyond bill both bottom
    but by call can cannot cant co con could couldnt cry de describe detail do done down due
    during each eg eight either eleven else elsewhere empty enough etc even ever every
    everyone everything everywhere except few fifteen fifty fill find fire first five for
    former formerly forty found four from front full further get give go had has hasnt have
    he hence her here hereafter hereby herein hereupon hers herself him himself his how
    however hundred i ie if in inc indeed interest into is it its itself keep last latter
    latterly least less ltd made many may me meanwhile might mill mine more moreover most
    mostly move much must my myself name namely neither never nevertheless next nine no
    nobody none noone nor not nothing now nowhere of off often on once one only onto or
    other others otherwise our ours ourselves out over own part per perhaps please put
    rather re same see seem seemed seeming seems serious several she should show side since
    sincere six sixty so some somehow someone something sometime sometimes somewhere still
    such system take ten than that the their them themselves then thence there thereafter
    thereby therefore therein thereupon these they thick thin third this those though three
    through throughout thru thus to together too top toward towards twelve twenty two un
    under until up upon us very via was we well were what whatever when whence whenever
    where whereafter whereas whereby wherein whereupon wherever whether which while whither
    who whoever whole whom whose why will with within without would yet you your yours
    yourself yourselves
    """.split()  # noqa: SIM905 -- a paragraph of words reads better than 318 lines
)
CONTRACTIONS = frozenset(
    """
    ain't aren't can't couldn't didn't doesn't don't hadn't hasn't haven't isn't mightn't
    mustn't needn't shan't shouldn't wasn't weren't won't wouldn't
    i'm i've i'll i'd you're you've you'll you'd he's he'll he'd she's she'll she'd it's it'll
    it'd we're we've we'll we'd they're they've they'll they'd that's that'll that'd there's
    there'll there'd here's what's who's who'll who'd where's when's why's how's let's
    """.split()  # noqa: SIM905
)
"""English contractions: one token each, as the models see them ("don't")."""
FRAGMENTS = frozenset(
    """
    don doesn didn isn wasn aren weren couldn wouldn shouldn haven hasn hadn ve ll re s t d m n't
    """.split()  # noqa: SIM905
)
"""What is left of contractions written with a typographic apostrophe ("don’t" -> "don", "t") or
split as in tokenised corpora such as SST-2 ("do n't", "it 's")."""
PUNCTUATION = frozenset({"!", "?"})
"""The tokens that are not words."""

STOP_WORDS = SKLEARN_ENGLISH | CONTRACTIONS | FRAGMENTS | PUNCTUATION
