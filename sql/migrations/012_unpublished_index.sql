-- The outbox publishes in the background, each time everything a stream has committed and not
-- yet published (sinks/kafka_outbox.py). These indexes find those rows without reading the
-- stream's whole history.

ALTER TABLE payment_alerts
  ADD KEY ix_alerts_unpublished (published_at, stream_id, batch_id);

ALTER TABLE rejected_payments
  ADD KEY ix_rejected_unpublished (published_at, stream_id, batch_id);
