"""The drunc gRPC client layer: the only package that imports grpc.

Transitions run as Dash background jobs: processes forked from a web worker whose threads hold gRPC channels.
gRPC Python's fork support makes the child drop what it inherited so that its own new channels work; without
it a job's call fails now and then ("Stream removed: Wrong file descriptor generation"). It must be switched
on before grpc is first imported, hence here; a deployment may still override both variables.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "true")
os.environ.setdefault("GRPC_POLL_STRATEGY", "poll")
