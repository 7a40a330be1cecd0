mod flytoml;
mod providers;
