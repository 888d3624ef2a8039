"""Compressed responses: callback JSON, the layout, component bundles, assets, the HTML pages.

flask-compress (what Dash's own `compress=True` uses) set up here rather than through Dash: Dash's switch
rewrites COMPRESS_ALGORITHM after flask-compress has read it, so what it serves would not be what the config
says. Brotli first (level 4: 3-5% smaller than gzip on the bundles, where zstd 3 is no better than gzip), then
zstd, both offered by browsers over https and to localhost only; gzip for the rest (Chromium over plain http
to another host offers only gzip and deflate). deflate is left out for its two incompatible readings.
Responses under COMPRESS_MIN_SIZE (the unchanged table refresh above all) go out as they are: compressing
them would make them larger.
"""

from __future__ import annotations

from flask_compress import Compress

ALGORITHMS = ["br", "zstd", "gzip"]
MIN_SIZE = 500  # bytes; gzip's header and trailer alone are 18
GZIP_LEVEL = 6  # zlib's default
BROTLI_LEVEL = 4  # about as fast as gzip 6; level 5 takes three times the CPU for 4% less
ZSTD_LEVEL = 3  # its window (2 MiB) stays under the 8 MiB browsers accept


def init_compression(server) -> Compress:
    server.config.update(
        COMPRESS_ALGORITHM=ALGORITHMS,
        COMPRESS_ALGORITHM_STREAMING=ALGORITHMS,
        COMPRESS_MIN_SIZE=MIN_SIZE,
        COMPRESS_LEVEL=GZIP_LEVEL,
        COMPRESS_BR_LEVEL=BROTLI_LEVEL,
        COMPRESS_ZSTD_LEVEL=ZSTD_LEVEL,
    )
    return Compress(server)
