//! Backends: local files with a lease in `.infra/.lock` (default), or PostgreSQL.
