"""Send payment datasets to Kafka in event-time order (python -m producer --help)."""
