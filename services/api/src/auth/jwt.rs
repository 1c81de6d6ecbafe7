//! Short-lived HS256 tokens for browsers and WebSocket clients (API.md §2). A token names the
//! key it was minted from, so revoking that key revokes its tokens too; `kid` lets signing keys
//! rotate without invalidating tokens already out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use openclaw_domain::{ApiKeyId, Scopes, TenantId};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::JwtKey;

const ISSUER: &str = "openclaw";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The tenant.
    pub sub: TenantId,
    /// The API key the token was minted from.
    pub key: ApiKeyId,
    pub scopes: Scopes,
    /// When set, the token may act only on this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

pub struct Jwt {
    keys: Vec<(String, EncodingKey, DecodingKey)>,
    validation: Validation,
}

impl Jwt {
    pub fn new(keys: &[JwtKey]) -> Jwt {
        let keys = keys
            .iter()
            .map(|k| {
                let secret = k.secret.expose_secret().as_bytes();
                (
                    k.kid.clone(),
                    EncodingKey::from_secret(secret),
                    DecodingKey::from_secret(secret),
                )
            })
            .collect::<Vec<_>>();
        assert!(!keys.is_empty(), "at least one JWT key is configured");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Jwt { keys, validation }
    }

    pub fn mint(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        scopes: Scopes,
        session: Option<String>,
        ttl: Duration,
    ) -> (String, DateTime<Utc>) {
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(ttl).expect("ttl fits");
        let claims = Claims {
            iss: ISSUER.into(),
            sub: tenant,
            key,
            scopes,
            sid: session,
            iat: now.timestamp(),
            exp: expires.timestamp(),
            jti: Uuid::now_v7().simple().to_string(),
        };
        let (kid, encoding, _) = &self.keys[0];
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, encoding).expect("HS256 encoding cannot fail");
        (token, expires)
    }

    /// Verifies signature, issuer and expiry. The reason is for logs and metrics, not clients.
    pub fn verify(&self, token: &str) -> Result<Claims, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed")?;
        let decoding = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, _, _)| k == kid)
                .map(|(_, _, d)| d),
            None => self.keys.first().map(|(_, _, d)| d),
        }
        .ok_or("unknown_kid")?;
        jsonwebtoken::decode::<Claims>(token, decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "expired",
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "bad_signature",
                _ => "invalid",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn key(kid: &str, secret: &str) -> JwtKey {
        JwtKey {
            kid: kid.into(),
            secret: SecretString::from(secret.to_string()),
        }
    }

    #[test]
    fn tokens_verify_after_rotation_and_not_with_a_foreign_secret() {
        let old = Jwt::new(&[key("k1", "old-secret-old-secret-old-secret")]);
        let (token, _) = old.mint(
            TenantId::new(),
            ApiKeyId::new(),
            Scopes::all_tenant(),
            None,
            Duration::from_secs(60),
        );
        let rotated = Jwt::new(&[
            key("k2", "new-secret-new-secret-new-secret"),
            key("k1", "old-secret-old-secret-old-secret"),
        ]);
        assert!(rotated.verify(&token).is_ok());
        let foreign = Jwt::new(&[key("k1", "another-secret-another-secret")]);
        assert_eq!(foreign.verify(&token).unwrap_err(), "bad_signature");
        assert_eq!(old.verify("not.a.jwt").unwrap_err(), "malformed");
    }
}
