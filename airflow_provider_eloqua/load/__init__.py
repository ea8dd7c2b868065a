"""Loading data into Eloqua, below the operators (it knows nothing of them).

It imports the sync layer (:mod:`airflow_provider_eloqua.sync`: start, reattach, wait, the sync log)
and no other capability.

* :mod:`.spec`: what a load is asked to do, typed and validated once.
* :mod:`.load_definition`: the definition of its own that each load stages into.
* :mod:`.checkpoint`: what a load keeps across the tries of its task (the task state store).
* :mod:`.engine`: stage -> sync -> wait per batch, and the load's report.
* :mod:`.rows`: a sync's rejects, listed once, mapped back to input rows.
"""
