"""What the server tells operators about itself: Prometheus metrics."""
