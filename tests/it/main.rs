mod context_db;
mod flytoml;
mod redis;
