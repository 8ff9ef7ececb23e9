//! API keys: random 160-bit secrets, stored only as SHA-256 digests.
//!
//! A digest lookup is one indexed read, so authentication stays cheap on the ingest path
//! (a slow password hash would make every request a denial-of-service lever); the secret's
//! entropy is what makes the digest safe to store.

use rand::Rng;
use sha2::{Digest, Sha256};

/// Prefix of every Spanloom key, so leaked keys are recognisable.
pub const KEY_PREFIX: &str = "sl-";

/// A freshly generated key. The plaintext is shown once and never stored.
pub struct GeneratedKey {
    /// The secret to give to the user.
    pub plaintext: String,
    /// Its SHA-256 digest (hex), which the store keeps.
    pub hash: String,
    /// A short display prefix for listing.
    pub prefix: String,
}

/// Generates a new key.
pub fn generate_api_key() -> GeneratedKey {
    let secret: [u8; 20] = rand::rng().random();
    let plaintext = format!("{KEY_PREFIX}{}", const_hex::encode(secret));
    GeneratedKey {
        hash: hash_api_key(&plaintext),
        prefix: plaintext[..KEY_PREFIX.len() + 8].to_owned(),
        plaintext,
    }
}

/// The digest under which a key is stored and looked up.
pub fn hash_api_key(plaintext: &str) -> String {
    const_hex::encode(Sha256::digest(plaintext.trim().as_bytes()))
}
