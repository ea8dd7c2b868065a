"""Apache Airflow provider for Oracle Eloqua's Bulk API 2.0."""

__version__ = "0.1.0"
