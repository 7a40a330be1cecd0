//! `fly.toml` import (`config:` on a Fly app): app name, primary region, http_service
//! (internal port, checks), vm/guest size, env, deploy strategy.

/// What `sophia` takes from a `fly.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlyToml {
    pub app: Option<String>,
}
