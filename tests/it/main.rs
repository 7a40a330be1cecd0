mod flytoml;
