"""Events: transactional outbox, relay to Kafka, idempotent consumers, dead letters."""
