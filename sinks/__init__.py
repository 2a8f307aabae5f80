"""Where scored and rejected payments go: MySQL (exactly-once) and Kafka."""
