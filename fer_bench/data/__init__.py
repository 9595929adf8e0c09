"""Data stages: adapters (source -> manifest), decode-once cache, tf.data pipeline, synthetic default data."""
