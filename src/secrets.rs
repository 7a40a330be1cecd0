//! The secrets map (`.infra/secrets_map.json`), presence, and the redactor.
