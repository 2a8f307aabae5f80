"""The payment event contract: schemas, validation rules, parsing of Kafka records."""
