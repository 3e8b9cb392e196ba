//! A diary opened from a file without holding it whole (issue 9, finding 9): the streamed
//! Fernet reads exactly what the `fernet` crate (and the original) reads, every unpack bound
//! refuses with its own error and leaves nothing, and arbitrary decrypted bytes never get past
//! the bounds or out of her folder (property tests over arbitrary bytes, in place of a fuzzer).

mod common;

use std::io::{Cursor, Write};
use std::sync::OnceLock;

use base64::Engine;
use persona::Phrase;
use persona::diary::{self, DiaryError, DiaryKey, Limits};
use proptest::prelude::*;
use sha2::Sha256;
use uuid::Uuid;
use zip::write::SimpleFileOptions;

const FIXTURE_ID: &str = "23733333-b081-4b50-8b41-f3cd301a42d4";

/// One key for the whole file (deriving it takes 480,000 PBKDF2 rounds), with the `fernet`
/// crate's twin derived independently of the crate under test.
struct Keys {
    diary: DiaryKey,
    fernet: fernet::Fernet,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let id = Uuid::nil();
        let phrase = Phrase::parse(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
             abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
             abandon abandon abandon art",
        );
        let mut raw = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(
            phrase.as_str().as_bytes(),
            id.to_string().as_bytes(),
            480_000,
            &mut raw,
        );
        let encoded = base64::engine::general_purpose::URL_SAFE.encode(raw);
        Keys {
            diary: DiaryKey::derive(&phrase, id),
            fernet: fernet::Fernet::new(&encoded).unwrap(),
        }
    })
}

/// What the `fernet` crate makes of `token`, read as the diary reads it before streaming.
fn reference(token: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(token).ok()?;
    keys()
        .fernet
        .decrypt_at_time(text.trim(), None, u64::MAX / 2)
        .ok()
}

#[test]
fn the_original_diary_restores_from_its_file_as_from_its_bytes() {
    let path = common::shared()
        .join("fixtures/reference-diary")
        .join(format!("{FIXTURE_ID}.diary"));
    let phrase = Phrase::parse(
        &std::fs::read_to_string(common::shared().join("fixtures/reference-diary/phrase.txt"))
            .unwrap(),
    );
    let id: Uuid = FIXTURE_ID.parse().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    diary::restore_file(&path, id, &phrase, &tmp.path().join("streamed")).unwrap();
    diary::restore(
        &std::fs::read(&path).unwrap(),
        id,
        &phrase,
        &tmp.path().join("whole"),
    )
    .unwrap();
    assert_eq!(
        common::tree(&tmp.path().join("streamed")),
        common::tree(&tmp.path().join("whole"))
    );
    assert_eq!(
        common::listing(tmp.path()),
        ["streamed", "whole"],
        "no decrypted ZIP or staging folder left"
    );
}

/// A home of `config.json`, a folder and one 4 MiB file of zeros (deflate squeezes it about
/// 1000:1).
fn bomb() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("config.json", SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"{}").unwrap();
    zip.add_directory("media/", SimpleFileOptions::default())
        .unwrap();
    zip.start_file("media/big.bin", SimpleFileOptions::default())
        .unwrap();
    zip.write_all(&vec![0u8; 4 * 1024 * 1024]).unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn each_unpack_bound_refuses_with_its_own_error_and_leaves_nothing() {
    let zip = bomb();
    let ratio = (4 * 1024 * 1024 / zip.len()) as u64;
    assert!(
        (500..diary::MAX_RATIO).contains(&ratio),
        "a deflate stream stays under MAX_RATIO: {ratio}"
    );
    let token = keys().fernet.encrypt(&zip);
    let refused = |limits: Limits, expected: fn(&DiaryError) -> bool| {
        let tmp = tempfile::tempdir().unwrap();
        let err = diary::restore_within(
            token.as_bytes(),
            &keys().diary,
            &tmp.path().join("home"),
            &limits,
        )
        .unwrap_err();
        assert!(expected(&err), "{limits:?}: {err:?}");
        assert!(common::listing(tmp.path()).is_empty(), "{limits:?}");
    };
    let file = Limits {
        file: 1024 * 1024,
        ..Limits::DEFAULT
    };
    refused(
        file,
        |e| matches!(e, DiaryError::FileTooLarge { name, limit: 1048576 } if name == "media/big.bin"),
    );
    let ratio = Limits {
        ratio: 100,
        ..Limits::DEFAULT
    };
    refused(ratio, |e| matches!(e, DiaryError::Inflated { ratio: 100 }));
    let entries = Limits {
        entries: 2,
        ..Limits::DEFAULT
    };
    refused(entries, |e| matches!(e, DiaryError::TooLarge { .. }));
    let tmp = tempfile::tempdir().unwrap();
    diary::restore_within(
        token.as_bytes(),
        &keys().diary,
        &tmp.path().join("home"),
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(
        std::fs::metadata(tmp.path().join("home/media/big.bin"))
            .unwrap()
            .len(),
        4 * 1024 * 1024,
        "within the default bounds the same home restores"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any plaintext round-trips, with or without the padding, a trailing newline or spaces.
    #[test]
    fn a_token_opens_to_its_plaintext(
        plain in proptest::collection::vec(any::<u8>(), 0..4096),
        unpadded in any::<bool>(),
        newline in any::<bool>(),
    ) {
        let mut token = keys().fernet.encrypt(&plain);
        if unpadded {
            token = token.trim_end_matches('=').to_string();
        }
        if newline {
            token = format!("  {token}\r\n");
        }
        prop_assert_eq!(keys().diary.open(token.as_bytes()).unwrap(), plain);
    }

    /// A damaged token opens exactly when the `fernet` crate opens it, to the same bytes.
    #[test]
    fn a_damaged_token_is_read_as_fernet_reads_it(
        plain in proptest::collection::vec(any::<u8>(), 0..512),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut token = keys().fernet.encrypt(&plain).into_bytes();
        if truncate {
            token.truncate(cut.index(token.len() + 1));
        } else {
            let i = at.index(token.len());
            token[i] = byte;
        }
        let ours = match keys().diary.open(&token) {
            Ok(bytes) => Some(bytes),
            Err(DiaryError::Unreadable) => None,
            Err(other) => panic!("{other:?}"),
        };
        prop_assert_eq!(ours, reference(&token));
    }

    /// Arbitrary bytes are never a token.
    #[test]
    fn arbitrary_bytes_are_unreadable(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(matches!(keys().diary.open(&bytes), Err(DiaryError::Unreadable)));
    }

    /// Arbitrary decrypted bytes, and a real ZIP with bytes changed, either restore inside
    /// `dest` within the bounds or are refused leaving nothing.
    #[test]
    fn arbitrary_decrypted_bytes_stay_in_bounds(
        junk in proptest::collection::vec(any::<u8>(), 0..2048),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        zip_based in any::<bool>(),
    ) {
        let plain = if zip_based {
            let mut zip = bomb();
            for (at, byte) in &flips {
                let i = at.index(zip.len());
                zip[i] = *byte;
            }
            zip
        } else {
            junk
        };
        let limits = Limits { total: 8 * 1024 * 1024, file: 4 * 1024 * 1024, entries: 64, ratio: 1100 };
        let token = keys().fernet.encrypt(&plain);
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("home");
        match diary::restore_within(token.as_bytes(), &keys().diary, &dest, &limits) {
            Ok(()) => {
                prop_assert_eq!(common::listing(tmp.path()), ["home"]);
                let bytes: u64 = common::tree(&dest)
                    .values()
                    .flatten()
                    .map(|b| b.len() as u64)
                    .sum();
                prop_assert!(bytes <= limits.total);
            }
            Err(_) => prop_assert!(common::listing(tmp.path()).is_empty()),
        }
    }
}
