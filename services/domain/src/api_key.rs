//! The API key format: `oc_api_sk_` + 32 base62 characters of randomness + 6 base62 characters
//! of CRC32 over them. The checksum lets us refuse garbage without touching the database and
//! lets secret scanners recognise a leaked key; only the SHA-256 of the whole key is stored.

use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "oc_api_sk_";
const BODY_LEN: usize = 32;
const CHECK_LEN: usize = 6;
pub const KEY_LEN: usize = PREFIX.len() + BODY_LEN + CHECK_LEN;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A full key in plain text. Shown once, at creation; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

/// SHA-256 of a full key: what Postgres stores and what the auth cache is keyed by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("API keys start with `oc_api_sk_`")]
    Prefix,
    #[error("API key has the wrong length or characters")]
    Shape,
    #[error("API key checksum does not match")]
    Checksum,
}

fn checksum(body: &str) -> String {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("alphabet is ASCII")
}

impl ApiKeySecret {
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let body: String = (0..BODY_LEN)
            .map(|_| ALPHABET[rng.gen_range(0..62)] as char)
            .collect();
        let check = checksum(&body);
        ApiKeySecret(format!("{PREFIX}{body}{check}"))
    }

    /// Validates format and checksum; cheap enough to run before any lookup.
    pub fn parse(raw: &str) -> Result<Self, KeyFormatError> {
        let rest = raw.strip_prefix(PREFIX).ok_or(KeyFormatError::Prefix)?;
        if rest.len() != BODY_LEN + CHECK_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyFormatError::Shape);
        }
        let (body, check) = rest.split_at(BODY_LEN);
        if checksum(body) != check {
            return Err(KeyFormatError::Checksum);
        }
        Ok(ApiKeySecret(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// What lists show to tell keys apart: the fixed prefix and four characters.
    pub fn display_prefix(&self) -> String {
        self.0[..PREFIX.len() + 4].to_string()
    }

    pub fn last4(&self) -> String {
        self.0[self.0.len() - 4..].to_string()
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…****)", self.display_prefix())
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_have_the_documented_shape() {
        let key = ApiKeySecret::generate();
        assert_eq!(key.expose().len(), KEY_LEN);
        assert!(key.expose().starts_with("oc_api_sk_"));
        assert_eq!(ApiKeySecret::parse(key.expose()).unwrap(), key);
        assert_eq!(key.display_prefix().len(), PREFIX.len() + 4);
        assert_ne!(ApiKeySecret::generate(), key);
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let key = ApiKeySecret::generate();
        let mut raw = key.expose().to_string().into_bytes();
        let i = PREFIX.len() + 3;
        raw[i] = if raw[i] == b'a' { b'b' } else { b'a' };
        let raw = String::from_utf8(raw).unwrap();
        assert_eq!(ApiKeySecret::parse(&raw), Err(KeyFormatError::Checksum));
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert_eq!(
            ApiKeySecret::parse("sk-openai"),
            Err(KeyFormatError::Prefix)
        );
        assert_eq!(
            ApiKeySecret::parse("oc_api_sk_short"),
            Err(KeyFormatError::Shape)
        );
        let with_symbol = format!("{PREFIX}{}", "!".repeat(38));
        assert_eq!(
            ApiKeySecret::parse(&with_symbol),
            Err(KeyFormatError::Shape)
        );
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let key = ApiKeySecret::generate();
        assert!(!format!("{key:?}").contains(&key.expose()[PREFIX.len() + 4..]));
    }
}
