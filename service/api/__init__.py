"""HTTP edge (api layer): aiohttp app, handlers, wire codec and validation — thin, depends on core only."""
