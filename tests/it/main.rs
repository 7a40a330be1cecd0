mod sandbox;
mod sandbox_conformance;
