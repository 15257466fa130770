"""Storage backends (local, S3, Azure Blob) and the Parquet layout on them."""
