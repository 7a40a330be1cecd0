mod flytoml;
mod loader;
mod plan;
mod render;
mod support;
