"""The dataset engine: a recipe (a distribution over scenes) -> samples, each
a pure function of (recipe, seed, sample index) -> shards written by local
processes or Ray; research exports of the result."""
