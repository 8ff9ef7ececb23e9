//! Signed URL tokens: `base64url(claims JSON) . base64url(HMAC-SHA256(secret, claims))`.

use crate::{BlobError, ObjectKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Upload the object.
    Put,
    /// Download it.
    Get,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    key: ObjectKey,
    method: Method,
    /// Expiry, unix seconds.
    exp: u64,
}

/// Signs and verifies tokens with a server secret.
#[derive(Clone)]
pub struct Signer {
    secret: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

fn hmac(secret: &[u8; 32], message: &[u8]) -> [u8; 32] {
    // HMAC-SHA256 (RFC 2104) with a 32-byte key padded to the 64-byte block.
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(secret);
    let pad = |byte: u8| key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Compares in time independent of where the first difference is.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Signer {
    /// A signer with this secret.
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// A signer with a fresh random secret.
    pub fn random() -> Self {
        Self::new(rand::random())
    }

    /// A token for `method` on `key`, valid for `ttl_secs` from `now`.
    pub fn sign(&self, key: &ObjectKey, method: Method, now: u64, ttl_secs: u64) -> String {
        let claims = Claims {
            key: key.clone(),
            method,
            exp: now + ttl_secs,
        };
        let body = serde_json::to_vec(&claims).unwrap_or_default();
        let mac = hmac(&self.secret, &body);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// The key a token grants `method` on, if it is genuine and not expired at `now`.
    pub fn verify(&self, token: &str, method: Method, now: u64) -> Result<ObjectKey, BlobError> {
        let (body, mac) = token
            .split_once('.')
            .ok_or(BlobError::BadSignature("malformed token"))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| BlobError::BadSignature("malformed token"))?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| BlobError::BadSignature("malformed token"))?;
        if !equal(&mac, &hmac(&self.secret, &body)) {
            return Err(BlobError::BadSignature("bad signature"));
        }
        let claims: Claims = serde_json::from_slice(&body)
            .map_err(|_| BlobError::BadSignature("malformed token"))?;
        if claims.method != method {
            return Err(BlobError::BadSignature("the URL is for another method"));
        }
        if now > claims.exp {
            return Err(BlobError::BadSignature("the URL has expired"));
        }
        Ok(claims.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_tokens_fail() {
        let signer = Signer::new([1; 32]);
        let key = ObjectKey::attachment("org", "k1").unwrap_or_else(|e| panic!("{e}"));
        let token = signer.sign(&key, Method::Get, 10, 60);
        let other = Signer::new([2; 32]);
        assert!(other.verify(&token, Method::Get, 20).is_err());
        let (body, _) = token.split_once('.').unwrap_or_default();
        let tampered = format!("{body}.AAAA");
        assert!(signer.verify(&tampered, Method::Get, 20).is_err());
        assert!(signer.verify("garbage", Method::Get, 20).is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231_shape() {
        // Deterministic and key-dependent.
        assert_eq!(hmac(&[0; 32], b"x"), hmac(&[0; 32], b"x"));
        assert_ne!(hmac(&[0; 32], b"x"), hmac(&[1; 32], b"x"));
    }
}
