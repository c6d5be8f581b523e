"""Everything that speaks HTTP to an API server: client construction, the plain-dict request/watch wrapper with
timeouts, rate limits and metrics, and the resource table. The rest of the engine never imports kubernetes_asyncio."""
