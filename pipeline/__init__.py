"""Assembly of the streaming query: Kafka records -> transforms -> sinks."""
