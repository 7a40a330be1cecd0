//! How the GitHub provider authenticates: `GITHUB_TOKEN`, or a GitHub App — a JWT (RS256,
//! `iat` 60 s in the past, `exp` 9 minutes ahead, `iss` = `GITHUB_APP_ID`) signed with
//! `GITHUB_PRIVATE_KEY`, exchanged at `POST /app/installations/{GITHUB_INSTALLATION_ID}/
//! access_tokens` for an installation token that is cached for this process.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};

use super::PROVIDER;
use crate::providers::http::{Http, Req, Retry};
use crate::providers::{Credentials, ProviderError};

/// Installation tokens live one hour; reuse one for 50 minutes so a token never expires in
/// the middle of a run.
const INSTALLATION_TOKEN_REUSE: Duration = Duration::from_secs(50 * 60);

/// The credentials of the GitHub provider.
#[derive(Clone)]
pub(super) enum Auth {
    Token(HeaderValue),
    App {
        app_id: String,
        installation_id: String,
        key: Arc<jsonwebtoken::EncodingKey>,
        cache: Arc<tokio::sync::Mutex<Option<(HeaderValue, Instant)>>>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Token(..)"),
            Auth::App { app_id, .. } => write!(f, "App({app_id})"),
        }
    }
}

/// `Bearer <token>` as a header value marked sensitive (never logged).
pub(super) fn bearer(token: &str) -> Result<HeaderValue, ProviderError> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| {
        ProviderError::new(
            PROVIDER,
            "invalid-input",
            "the GitHub token holds characters not allowed in an HTTP header",
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

impl Auth {
    /// From `creds`: `GITHUB_TOKEN`, or all of `GITHUB_APP_ID`, `GITHUB_INSTALLATION_ID`
    /// and `GITHUB_PRIVATE_KEY`.
    pub(super) fn from_creds(creds: &Credentials) -> Result<Auth, ProviderError> {
        if let Some(token) = creds.get("GITHUB_TOKEN") {
            return Ok(Auth::Token(bearer(token)?));
        }
        let app = [
            "GITHUB_APP_ID",
            "GITHUB_INSTALLATION_ID",
            "GITHUB_PRIVATE_KEY",
        ];
        let missing: Vec<&str> = app
            .iter()
            .copied()
            .filter(|n| creds.get(n).is_none())
            .collect();
        if missing.len() == app.len() {
            return Err(ProviderError::not_configured(
                PROVIDER,
                &["GITHUB_TOKEN (or GITHUB_APP_ID, GITHUB_INSTALLATION_ID and GITHUB_PRIVATE_KEY)"],
            ));
        }
        if !missing.is_empty() {
            return Err(ProviderError::not_configured(PROVIDER, &missing));
        }
        // A PEM kept in a one-line variable often has `\n` escapes.
        let pem = creds
            .get("GITHUB_PRIVATE_KEY")
            .unwrap_or_default()
            .replace("\\n", "\n");
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| {
            ProviderError::new(
                PROVIDER,
                "invalid-input",
                "`GITHUB_PRIVATE_KEY` is not an RSA private key in PEM form",
            )
        })?;
        Ok(Auth::App {
            app_id: creds.get("GITHUB_APP_ID").unwrap_or_default().to_string(),
            installation_id: creds
                .get("GITHUB_INSTALLATION_ID")
                .unwrap_or_default()
                .to_string(),
            key: Arc::new(key),
            cache: Arc::default(),
        })
    }

    /// The `Authorization` header: the token, or a fresh/cached installation token.
    /// `base_req` builds an unauthenticated request to a path of the API.
    pub(super) async fn header(
        &self,
        http: &Http,
        base_req: impl FnOnce(Method, &[&str]) -> Req,
    ) -> Result<HeaderValue, ProviderError> {
        match self {
            Auth::Token(v) => Ok(v.clone()),
            Auth::App {
                app_id,
                installation_id,
                key,
                cache,
            } => {
                let mut cache = cache.lock().await;
                if let Some((v, at)) = cache.as_ref()
                    && at.elapsed() < INSTALLATION_TOKEN_REUSE
                {
                    return Ok(v.clone());
                }
                let jwt = app_jwt(app_id, key, SystemTime::now())?;
                // Minting another token is harmless, so the exchange may be retried.
                let req = base_req(
                    Method::POST,
                    &["app", "installations", installation_id, "access_tokens"],
                )
                .header(AUTHORIZATION, bearer(&jwt)?)
                .retry(Retry::Idempotent);
                let resp = http
                    .send_ok(req)
                    .await
                    .map_err(|e| ProviderError::http(PROVIDER, e))?;
                let body = resp.json().map_err(|e| ProviderError::http(PROVIDER, e))?;
                let token = body.get("token").and_then(Value::as_str).ok_or_else(|| {
                    ProviderError::new(
                        PROVIDER,
                        "http-error",
                        "POST /app/installations/{id}/access_tokens: no token in the answer",
                    )
                })?;
                let v = bearer(token)?;
                *cache = Some((v.clone(), Instant::now()));
                Ok(v)
            }
        }
    }
}

/// The JWT a GitHub App authenticates with (RS256; `iat` 60 s back for clock drift, `exp` 9
/// minutes ahead, under GitHub's 10-minute maximum).
fn app_jwt(
    app_id: &str,
    key: &jsonwebtoken::EncodingKey,
    now: SystemTime,
) -> Result<String, ProviderError> {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let claims = json!({ "iat": now - 60, "exp": now + 9 * 60, "iss": app_id });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        key,
    )
    .map_err(|e| ProviderError::new(PROVIDER, "internal", format!("signing the app JWT: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh RSA key in PKCS#1 PEM (private) and its public PEM.
    fn rsa_pem() -> (String, String) {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
        let key = rsa::RsaPrivateKey::new(&mut crypto_box::aead::OsRng, 2048).unwrap();
        (
            key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
            key.to_public_key().to_pkcs1_pem(LineEnding::LF).unwrap(),
        )
    }

    #[test]
    fn app_jwt_is_rs256_issued_by_the_app_and_lives_under_ten_minutes() {
        let (private, public) = rsa_pem();
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
        let now = SystemTime::now();
        let jwt = app_jwt("12345", &key, now).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&["12345"]);
        validation.set_required_spec_claims(&["exp", "iat", "iss"]);
        let decoded = jsonwebtoken::decode::<Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
            &validation,
        )
        .unwrap();
        let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let iat = decoded.claims["iat"].as_i64().unwrap();
        let exp = decoded.claims["exp"].as_i64().unwrap();
        assert_eq!(iat, secs - 60);
        assert!(
            exp - iat <= 600,
            "GitHub refuses JWTs that live over 10 minutes"
        );
        assert!(exp > secs);
        // A PEM pasted into a one-line variable with `\n` escapes is accepted too.
        let creds = Credentials::from_pairs([
            ("GITHUB_APP_ID", "12345".to_string()),
            ("GITHUB_INSTALLATION_ID", "67890".to_string()),
            ("GITHUB_PRIVATE_KEY", private.replace('\n', "\\n")),
        ]);
        assert!(Auth::from_creds(&creds).is_ok());
    }

    #[test]
    fn app_auth_needs_all_three_variables() {
        let creds = Credentials::from_pairs([("GITHUB_APP_ID", "1")]);
        let e = Auth::from_creds(&creds).unwrap_err();
        assert_eq!(e.code, "not-configured");
        assert!(e.message.contains("GITHUB_INSTALLATION_ID"));
        assert!(e.message.contains("GITHUB_PRIVATE_KEY"));
        let none = Auth::from_creds(&Credentials::default()).unwrap_err();
        assert!(none.message.contains("GITHUB_TOKEN"));
    }
}
