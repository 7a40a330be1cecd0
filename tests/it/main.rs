mod backend;
mod proofs;
