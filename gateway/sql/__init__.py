"""SQL parsing, classification, rewriting and the statements the gateway runs itself."""
