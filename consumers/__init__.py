"""The Kafka consumer that writes broadcasts to SQL: the only package that imports confluent_kafka."""
