//! The authenticated ciphers, the keys derived for them and the associated data that
//! binds each ciphertext to its place.
//!
//! Two ciphers, both AEADs with 96-bit random nonces from the operating system's RNG and
//! 128-bit tags:
//!
//! - [`Cipher::Aes256Gcm`]: AES-256-GCM (`aes_gcm::Aes256Gcm`), the default;
//! - [`Cipher::Sm4Gcm`]: SM4-GCM (`aes_gcm::AesGcm<sm4::Sm4, U12>`, the same GCM mode
//!   over the SM4 block cipher of GB/T 32907-2016, as RFC 8998 specifies it), for
//!   deployments reviewed under 商用密码应用安全性评估 (密评). Its keys are 128 bits.
//!
//! No key is used for two purposes: each cipher key is derived with HMAC-SHA256 from a
//! secret (a master key, a per-person key) and a label naming the purpose and the
//! cipher, truncated to the cipher's key length.
//!
//! Associated data is `"welfare-ledger registry v1"`, a zero byte, a kind byte (what the
//! plaintext is: personal data, a per-person key, the dedup secret), then the context
//! as length-prefixed fields (the registry id, and the beneficiary id or the slot index).
//! A ciphertext moved to another person, slot, kind or registry does not decrypt.

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// SM4 in the GCM mode of NIST SP 800-38D with 96-bit nonces (RFC 8998).
type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 12;
/// Bytes of an authentication tag.
pub const TAG_BYTES: usize = 16;

/// An authenticated cipher for the registry's ciphertexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cipher {
    /// AES-256-GCM.
    #[default]
    Aes256Gcm,
    /// SM4-GCM with 128-bit keys.
    Sm4Gcm,
}

impl Cipher {
    /// Every cipher.
    pub const ALL: [Cipher; 2] = [Cipher::Aes256Gcm, Cipher::Sm4Gcm];

    /// The name used in configuration and messages: `aes-256-gcm` or `sm4-gcm`.
    pub fn name(self) -> &'static str {
        match self {
            Cipher::Aes256Gcm => "aes-256-gcm",
            Cipher::Sm4Gcm => "sm4-gcm",
        }
    }

    /// The byte that names the cipher on disk.
    pub(crate) fn id(self) -> u8 {
        match self {
            Cipher::Aes256Gcm => 1,
            Cipher::Sm4Gcm => 2,
        }
    }

    pub(crate) fn from_id(id: u8) -> Option<Cipher> {
        Cipher::ALL.into_iter().find(|c| c.id() == id)
    }

    /// Bytes of the cipher's key.
    pub(crate) fn key_bytes(self) -> usize {
        match self {
            Cipher::Aes256Gcm => 32,
            Cipher::Sm4Gcm => 16,
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text is not the name of a cipher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cipher {0:?}: use aes-256-gcm or sm4-gcm")]
pub struct UnknownCipher(pub String);

impl FromStr for Cipher {
    type Err = UnknownCipher;
    fn from_str(s: &str) -> Result<Cipher, UnknownCipher> {
        Cipher::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownCipher(s.to_owned()))
    }
}

/// What a ciphertext holds; part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A beneficiary's encoded personal data; context: registry id, beneficiary id.
    PersonalData = 1,
    /// A per-person key wrapped by a master key; context: registry id, slot index.
    PersonKey = 2,
    /// The dedup secret wrapped by a master key; context: registry id.
    DedupSecret = 3,
}

const AAD_PREFIX: &[u8] = b"welfare-ledger registry v1\0";

/// The associated data for a ciphertext of `kind` in `context` (module docs).
pub(crate) fn associated_data(kind: Kind, context: &[&[u8]]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(
        AAD_PREFIX.len() + 1 + context.iter().map(|c| 2 + c.len()).sum::<usize>(),
    );
    aad.extend_from_slice(AAD_PREFIX);
    aad.push(kind as u8);
    for field in context {
        let length = u16::try_from(field.len()).expect("an associated-data field is short");
        aad.extend_from_slice(&length.to_be_bytes());
        aad.extend_from_slice(field);
    }
    aad
}

/// HMAC-SHA256 of `message` under `secret`.
pub(crate) fn hmac_sha256(secret: &[u8], message: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// A cipher key derived for one purpose: HMAC-SHA256(secret, "welfare-ledger PURPOSE
/// CIPHER v1"), truncated to the cipher's key length.
pub(crate) fn derive_key(secret: &[u8], purpose: &str, cipher: Cipher) -> CipherKey {
    let label = format!("welfare-ledger {purpose} {} v1", cipher.name());
    CipherKey {
        cipher,
        bytes: hmac_sha256(secret, label.as_bytes()),
    }
}

/// Fresh random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Zeroizing<[u8; N]> {
    let mut bytes = Zeroizing::new([0u8; N]);
    OsRng.fill_bytes(bytes.as_mut());
    bytes
}

/// A ciphertext failed to authenticate: wrong key, wrong associated data or altered bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthenticationFailed;

/// A key for one cipher, zeroed when dropped.
pub(crate) struct CipherKey {
    cipher: Cipher,
    bytes: Zeroizing<[u8; 32]>,
}

impl CipherKey {
    fn key(&self) -> &[u8] {
        &self.bytes[..self.cipher.key_bytes()]
    }

    /// Encrypts under a fresh random nonce; returns the nonce and ciphertext‖tag.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> ([u8; NONCE_BYTES], Vec<u8>) {
        let nonce = *random_bytes::<NONCE_BYTES>();
        let ciphertext = self.seal_with_nonce(&nonce, aad, plaintext);
        (nonce, ciphertext)
    }

    fn seal_with_nonce(&self, nonce: &[u8; NONCE_BYTES], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        let sealed = match self.cipher {
            Cipher::Aes256Gcm => Aes256Gcm::new_from_slice(self.key())
                .expect("a 32-byte key")
                .encrypt(nonce.into(), payload),
            Cipher::Sm4Gcm => Sm4Gcm::new_from_slice(self.key())
                .expect("a 16-byte key")
                .encrypt(nonce.into(), payload),
        };
        // Encryption fails only for messages beyond GCM's 64 GiB limit.
        sealed.expect("a registry plaintext is far below the GCM limit")
    }

    /// Decrypts and authenticates ciphertext‖tag.
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE_BYTES],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AuthenticationFailed> {
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        let opened = match self.cipher {
            Cipher::Aes256Gcm => Aes256Gcm::new_from_slice(self.key())
                .expect("a 32-byte key")
                .decrypt(nonce.into(), payload),
            Cipher::Sm4Gcm => Sm4Gcm::new_from_slice(self.key())
                .expect("a 16-byte key")
                .decrypt(nonce.into(), payload),
        };
        opened.map(Zeroizing::new).map_err(|_| AuthenticationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_key(cipher: Cipher, bytes: &[u8]) -> CipherKey {
        let mut padded = Zeroizing::new([0u8; 32]);
        padded[..bytes.len()].copy_from_slice(bytes);
        CipherKey {
            cipher,
            bytes: padded,
        }
    }

    /// RFC 8998, appendix A.1: proves that `AesGcm<Sm4, U12>` is the standard SM4-GCM.
    #[test]
    fn sm4_gcm_matches_rfc_8998() {
        let key = raw_key(
            Cipher::Sm4Gcm,
            &hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap(),
        );
        let nonce: [u8; 12] = hex::decode("00001234567800000000ABCD")
            .unwrap()
            .try_into()
            .unwrap();
        let aad = hex::decode("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2").unwrap();
        let plaintext = hex::decode(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD\
             EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        )
        .unwrap();
        let expected = hex::decode(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735\
             D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D\
             83DE3541E4C2B58177E065A9BF7B62EC",
        )
        .unwrap();
        assert_eq!(key.seal_with_nonce(&nonce, &aad, &plaintext), expected);
        assert_eq!(
            &key.open(&nonce, &aad, &expected).unwrap()[..],
            &plaintext[..]
        );
    }

    /// NIST GCM test case 13 (AES-256, zero key, zero nonce, empty message).
    #[test]
    fn aes_256_gcm_matches_nist_test_case_13() {
        let key = raw_key(Cipher::Aes256Gcm, &[0u8; 32]);
        let sealed = key.seal_with_nonce(&[0u8; 12], b"", b"");
        assert_eq!(hex::encode(sealed), "530f8afbc74536b9a963b4f1c4cb738b");
    }

    #[test]
    fn both_ciphers_round_trip_and_detect_changes() {
        for cipher in Cipher::ALL {
            let key = derive_key(b"secret", "test", cipher);
            let aad = associated_data(Kind::PersonalData, &[b"registry", b"b-1"]);
            let (nonce, sealed) = key.seal(&aad, b"hello");
            assert_eq!(sealed.len(), 5 + TAG_BYTES);
            assert_eq!(&key.open(&nonce, &aad, &sealed).unwrap()[..], b"hello");
            let other_person = associated_data(Kind::PersonalData, &[b"registry", b"b-2"]);
            assert_eq!(
                key.open(&nonce, &other_person, &sealed),
                Err(AuthenticationFailed)
            );
            let other_kind = associated_data(Kind::PersonKey, &[b"registry", b"b-1"]);
            assert_eq!(
                key.open(&nonce, &other_kind, &sealed),
                Err(AuthenticationFailed)
            );
            let mut flipped = sealed.clone();
            flipped[0] ^= 1;
            assert_eq!(key.open(&nonce, &aad, &flipped), Err(AuthenticationFailed));
            let other_key = derive_key(b"secret", "other purpose", cipher);
            assert_eq!(
                other_key.open(&nonce, &aad, &sealed),
                Err(AuthenticationFailed)
            );
        }
    }

    #[test]
    fn associated_data_fields_cannot_be_shifted() {
        // Length prefixes keep ("ab", "c") apart from ("a", "bc").
        assert_ne!(
            associated_data(Kind::PersonalData, &[b"ab", b"c"]),
            associated_data(Kind::PersonalData, &[b"a", b"bc"])
        );
    }

    #[test]
    fn names_parse() {
        for cipher in Cipher::ALL {
            assert_eq!(cipher.name().parse::<Cipher>().unwrap(), cipher);
            assert_eq!(Cipher::from_id(cipher.id()), Some(cipher));
        }
        assert_eq!("SM4-GCM".parse::<Cipher>().unwrap(), Cipher::Sm4Gcm);
        assert!("des".parse::<Cipher>().is_err());
        assert_eq!(Cipher::from_id(0), None);
    }
}
