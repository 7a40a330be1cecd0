mod context_db;
mod flytoml;
mod loader;
mod redis;
mod support;
