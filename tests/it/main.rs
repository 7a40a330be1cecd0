mod apply;
mod approve;
mod backend;
mod flytoml;
mod loader;
mod matrix;
mod plan;
mod proofs;
mod render;
mod sandbox;
mod sandbox_conformance;
mod schema;
mod support;
#[path = "loop.rs"]
mod the_loop;
