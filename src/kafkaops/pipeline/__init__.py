"""Layer 5: the pipeline wired together — which cluster to talk to (target), one health check,
the watch loop, and the runtime that owns every store handle.  The CLI and the service call
these; nothing below imports them."""
