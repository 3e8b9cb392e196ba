//! Her 24-word recovery phrase: the only key to her diary.

use bip39::Mnemonic;
use rand::RngCore;

/// A recovery phrase, kept in its normalised form (trimmed, single spaces, lower case).
#[derive(Clone, PartialEq, Eq)]
pub struct Phrase(String);

impl Phrase {
    /// A fresh, valid BIP-39 mnemonic over 256 bits of entropy (24 words with checksum).
    pub fn generate() -> Phrase {
        let mut entropy = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut entropy);
        let mnemonic =
            Mnemonic::from_entropy(&entropy).expect("32 bytes is a valid entropy length");
        Phrase(mnemonic.to_string())
    }

    /// Reads a phrase as a person typed it. No checksum is demanded: the original drew its words
    /// independently, so its phrases are usually not valid BIP-39 and must still open its diaries.
    pub fn parse(text: &str) -> Phrase {
        Phrase(
            text.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Phrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phrase(..)")
    }
}
