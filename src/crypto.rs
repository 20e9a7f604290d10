//! Sealing channel credentials at rest with AES-256-GCM.
//!
//! A channel's access tokens and consumer secrets must be stored (workers call the platform with
//! them) but must not be readable by whoever reads the database or one of its dumps. They are
//! sealed with a key that lives only in configuration (`[crypto] credentials_key`); the database
//! holds `nonce (12 bytes) || ciphertext || tag (16 bytes)`. GCM authenticates as well as hides,
//! so a row tampered with, or opened with another key, fails loudly instead of yielding garbage.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// GCM's authentication tag, appended to the ciphertext.
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("must be {} hex characters ({KEY_LEN} bytes)", KEY_LEN * 2)]
    BadKey,
    /// Wrong key, a corrupted or tampered value, or one too short to hold a nonce and tag.
    #[error("sealed data could not be opened (wrong key or corrupted value)")]
    Open,
    #[error("sealing failed")]
    Seal,
    #[error("a sealed secret is not UTF-8 text")]
    NotText,
}

/// The key credentials are sealed with. `Debug` never prints it.
#[derive(Clone)]
pub struct CredentialsKey(Key<Aes256Gcm>);

impl std::fmt::Debug for CredentialsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialsKey([redacted])")
    }
}

impl CredentialsKey {
    /// Parses 64 hex characters (surrounding whitespace ignored, either case).
    pub fn from_hex(text: &str) -> Result<CredentialsKey, CryptoError> {
        let bytes = hex::decode(text.trim()).map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::BadKey);
        }
        Ok(CredentialsKey(*Key::<Aes256Gcm>::from_slice(&bytes)))
    }

    /// Encrypts `plaintext` under a fresh random nonce: sealing the same credentials twice gives
    /// different bytes, so equal secrets cannot be spotted across rows.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new(&self.0);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`CredentialsKey::seal`] produced.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        Aes256Gcm::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Open)
    }

    /// Opens a text secret (a `whsec_...` signing secret) that was sealed as its bytes.
    pub fn open_text(&self, sealed: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.open(sealed)?).map_err(|_| CryptoError::NotText)
    }
}

/// `bytes` random bytes as URL-safe base64 without padding: a bearer secret (an OAuth `state`, a
/// callback token) that is safe in a URL and unguessable.
pub fn random_token(bytes: usize) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn key() -> CredentialsKey {
        CredentialsKey::from_hex(HEX).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn sealed_data_opens_and_shows_no_plaintext() {
        let secret = br#"{"access_token":"shpat_secret"}"#;
        let sealed = key().seal(secret).unwrap_or_default();
        assert_eq!(sealed.len(), NONCE_LEN + secret.len() + TAG_LEN);
        assert!(!sealed.windows(6).any(|w| w == b"shpat_"));
        assert_eq!(key().open(&sealed).ok().as_deref(), Some(&secret[..]));
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let a = key().seal(b"same").unwrap_or_default();
        let b = key().seal(b"same").unwrap_or_default();
        assert_ne!(a, b);
    }

    #[test]
    fn a_wrong_key_or_a_tampered_value_is_refused() {
        let mut sealed = key().seal(b"value").unwrap_or_default();
        let other =
            CredentialsKey::from_hex(&HEX.replace('0', "1")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other.open(&sealed), Err(CryptoError::Open));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(key().open(&sealed), Err(CryptoError::Open));
        assert_eq!(key().open(b"short"), Err(CryptoError::Open));
    }

    #[test]
    fn keys_must_be_32_bytes_of_hex() {
        assert!(CredentialsKey::from_hex(HEX).is_ok());
        assert!(CredentialsKey::from_hex(&format!(" {} ", HEX.to_uppercase())).is_ok());
        assert_eq!(
            CredentialsKey::from_hex(&HEX[..62]).err(),
            Some(CryptoError::BadKey)
        );
        assert_eq!(
            CredentialsKey::from_hex(&HEX.replace('a', "g")).err(),
            Some(CryptoError::BadKey)
        );
        assert!(!format!("{:?}", key()).contains("0011"));
    }
}
