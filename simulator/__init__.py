"""A drunc simulator: real gRPC servers speaking drunc 0.10.x's protocol, and real Kafka broadcasts.

The embedded default of the demo and the backbone of the tests. It imports grpc (it is a server) and
confluent_kafka (it is a producer); the app itself never imports this package.
"""
