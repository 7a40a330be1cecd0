mod approve;
mod flytoml;
