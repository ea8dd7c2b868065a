"""Loading data into Eloqua: the typed description of a load (:mod:`.spec`) and, below the
operators, everything that carries it out. Knows nothing of operators."""
