mod flytoml;
mod loader;
mod support;
