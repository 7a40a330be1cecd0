mod approve;
mod flytoml;
mod loader;
mod plan;
mod render;
mod sandbox;
mod sandbox_conformance;
mod support;
