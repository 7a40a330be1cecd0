mod flytoml;
mod loader;
mod matrix;
mod schema;
mod support;
