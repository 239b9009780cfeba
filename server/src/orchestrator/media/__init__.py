"""Image bytes in and out: checking images users send, and writing provenance into images we store."""
