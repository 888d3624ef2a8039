"""The drunc gRPC client layer: the only package that imports grpc. Filled by the drunc-client issue."""
