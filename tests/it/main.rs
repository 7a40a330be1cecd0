mod context_db;
mod redis;
