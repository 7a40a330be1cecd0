//! The front door (`sophia op PROVIDER ACTION [--app APP] [--payload JSON]`).

pub mod payload;
