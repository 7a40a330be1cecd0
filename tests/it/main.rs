mod flytoml;
#[path = "loop.rs"]
mod the_loop;
