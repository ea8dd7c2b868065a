"""Sources above the load engine: operators that read another system and feed :mod:`airflow_provider_eloqua.load`."""
