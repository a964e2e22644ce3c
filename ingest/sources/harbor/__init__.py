"""Harbor 2.x: its webhooks (Default and CloudEvents 1.0) as raw records and canonical rows (FORMATS.md section 2)."""
