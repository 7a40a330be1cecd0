mod plan;
mod render;
