//! The diary: the original's file opens, ours round-trips, and every bad file is refused without
//! leaving anything behind.

mod common;

use std::io::{Cursor, Write};
use std::path::Path;

use base64::Engine;
use persona::Phrase;
use persona::diary::{self, DiaryError, DiaryKey};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use uuid::Uuid;
use zip::write::SimpleFileOptions;

const FIXTURE_ID: &str = "23733333-b081-4b50-8b41-f3cd301a42d4";

fn fixture(name: &str) -> std::path::PathBuf {
    common::shared().join("fixtures/reference-diary").join(name)
}

fn fixture_phrase() -> Phrase {
    Phrase::parse(&std::fs::read_to_string(fixture("phrase.txt")).unwrap())
}

/// Encrypts arbitrary bytes as a diary of `id`, deriving the key independently of the crate.
fn encrypt_as_diary(plain: &[u8], id: Uuid, phrase: &Phrase) -> String {
    let mut raw = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        phrase.as_str().as_bytes(),
        id.to_string().as_bytes(),
        480_000,
        &mut raw,
    );
    let key = base64::engine::general_purpose::URL_SAFE.encode(raw);
    fernet::Fernet::new(&key).unwrap().encrypt(plain)
}

#[test]
fn the_original_diary_restores_every_file_byte_for_byte() {
    let token = std::fs::read(fixture(&format!("{FIXTURE_ID}.diary"))).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("home");
    diary::restore(
        &token,
        FIXTURE_ID.parse().unwrap(),
        &fixture_phrase(),
        &dest,
    )
    .unwrap();

    let manifest = std::fs::read_to_string(fixture("home.sha256")).unwrap();
    let mut listed = Vec::new();
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, rel) = line.split_once("  ").unwrap();
        let bytes =
            std::fs::read(dest.join(rel)).unwrap_or_else(|e| panic!("{rel} not restored: {e}"));
        assert_eq!(hex(&Sha256::digest(&bytes)), hash, "{rel} differs");
        listed.push(rel.to_string());
    }
    let mut restored: Vec<String> = common::tree(&dest)
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .collect();
    listed.sort();
    restored.sort();
    assert_eq!(restored, listed, "restored files are exactly the manifest");
    assert_eq!(
        common::listing(tmp.path()),
        ["home"],
        "no staging folder is left"
    );
}

#[test]
fn the_original_diary_opens_with_a_carelessly_typed_phrase() {
    let token = std::fs::read(fixture(&format!("{FIXTURE_ID}.diary"))).unwrap();
    let typed = std::fs::read_to_string(fixture("phrase.txt")).unwrap();
    let careless = format!("  {}  ", typed.trim().to_uppercase().replace(' ', "   "));
    let tmp = tempfile::tempdir().unwrap();
    diary::restore(
        &token,
        FIXTURE_ID.parse().unwrap(),
        &Phrase::parse(&careless),
        &tmp.path().join("home"),
    )
    .unwrap();
    assert!(tmp.path().join("home/config.json").is_file());
}

#[test]
fn a_written_diary_restores_her_whole_home() {
    let tmp = tempfile::tempdir().unwrap();
    let home = common::sample_home(tmp.path());
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let diary_dir = tmp.path().join("diary").join(id.to_string());

    let path = diary::write(&diary_dir, &home, id, &phrase).unwrap();
    assert_eq!(path, diary_dir.join(format!("{id}.diary")));
    assert_eq!(diary::latest(&diary_dir, id), Some(path.clone()));
    let token = std::fs::read(&path).unwrap();
    assert!(
        token.starts_with(b"gAAAAA"),
        "a Fernet token, version byte 0x80"
    );
    assert!(!token.ends_with(b"\n"));

    let dest = tmp.path().join("restored");
    diary::restore(&token, id, &phrase, &dest).unwrap();
    assert_eq!(common::tree(&dest), common::tree(&home));
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_left_out_and_the_diary_still_written() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let home = common::sample_home(tmp.path());
    let expected = common::tree(&home);
    let odd = home.join(std::ffi::OsStr::from_bytes(b"download-\xff.bin"));
    if std::fs::write(&odd, b"x").is_err() {
        return; // a file system that refuses such names cannot hold one either
    }
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let path = diary::write(&tmp.path().join("diary"), &home, id, &phrase).unwrap();
    let dest = tmp.path().join("restored");
    diary::restore(&std::fs::read(path).unwrap(), id, &phrase, &dest).unwrap();
    assert_eq!(common::tree(&dest), expected, "everything else is in it");
}

#[test]
fn restored_files_are_private_to_her_owner() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let home = common::sample_home(tmp.path());
    let key = DiaryKey::derive(&Phrase::generate(), Uuid::new_v4());
    let token = diary::seal(&home, &key).unwrap();
    let dest = tmp.path().join("restored");
    diary::restore_with(token.as_bytes(), &key, &dest, diary::MAX_HOME_BYTES).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dest.join("config.json")), 0o600);
    assert_eq!(mode(&dest), 0o700);
}

/// Restoring `token` must fail with an error matching `expected`, leaving `parent` as it was.
fn refused(token: &[u8], id: Uuid, phrase: &Phrase, expected: fn(&DiaryError) -> bool) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("witness"), b"untouched").unwrap();
    let err = diary::restore(token, id, phrase, &tmp.path().join("home")).unwrap_err();
    assert!(expected(&err), "unexpected error: {err:?}");
    assert_eq!(
        common::listing(tmp.path()),
        ["witness"],
        "nothing left on disk"
    );
}

fn unreadable(e: &DiaryError) -> bool {
    matches!(e, DiaryError::Unreadable)
}

fn unsafe_entry(e: &DiaryError) -> bool {
    matches!(e, DiaryError::Unsafe(_))
}

#[test]
fn a_wrong_phrase_is_unreadable() {
    let token = std::fs::read(fixture(&format!("{FIXTURE_ID}.diary"))).unwrap();
    let wrong = Phrase::parse(&fixture_phrase().as_str().replacen("cycle", "cactus", 1));
    refused(&token, FIXTURE_ID.parse().unwrap(), &wrong, unreadable);
}

#[test]
fn a_renamed_diary_is_unreadable() {
    let token = std::fs::read(fixture(&format!("{FIXTURE_ID}.diary"))).unwrap();
    refused(&token, Uuid::new_v4(), &fixture_phrase(), unreadable);
}

#[test]
fn a_damaged_diary_is_unreadable() {
    let token = std::fs::read(fixture(&format!("{FIXTURE_ID}.diary"))).unwrap();
    let id: Uuid = FIXTURE_ID.parse().unwrap();
    let key = DiaryKey::derive(&fixture_phrase(), id);
    let assert_unreadable = |bad: &[u8]| {
        let tmp = tempfile::tempdir().unwrap();
        let err = diary::restore_with(bad, &key, &tmp.path().join("home"), diary::MAX_HOME_BYTES)
            .unwrap_err();
        assert!(unreadable(&err), "unexpected error: {err:?}");
        assert!(common::listing(tmp.path()).is_empty());
    };
    // (Dropping only the trailing `=` leaves the same bytes, so that is not damage.)
    for cut in [0, 1, 57, token.len() / 2, token.len() - 4, token.len() - 2] {
        assert_unreadable(&token[..cut]);
    }
    for at in [0, 10, 30, token.len() / 2, token.len() - 10] {
        let mut flipped = token.clone();
        flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
        assert_unreadable(&flipped);
    }
    assert_unreadable(b"not a diary at all!");
    assert_unreadable(&[0xff, 0xfe, 0x80, 0x00]);
    // A correct token over something that is not a ZIP.
    assert_unreadable(encrypt_as_diary(b"plain text, no zip", id, &fixture_phrase()).as_bytes());
}

fn zip_of(build: impl FnOnce(&mut zip::ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("config.json", SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"{}").unwrap();
    zip.add_directory("history/", SimpleFileOptions::default())
        .unwrap();
    zip.start_file("history/today.md", SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"hello").unwrap();
    build(&mut zip);
    zip.finish().unwrap().into_inner()
}

#[test]
fn entries_escaping_her_home_are_refused_and_leave_nothing() {
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let tmp = tempfile::tempdir().unwrap();
    let absolute = tmp.path().join("evil");
    let file = |name: String| {
        move |z: &mut zip::ZipWriter<Cursor<Vec<u8>>>| {
            z.start_file(name, SimpleFileOptions::default()).unwrap();
            z.write_all(b"owned").unwrap();
        }
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("parent", zip_of(file("../evil".into()))),
        ("nested parent", zip_of(file("history/../../evil".into()))),
        ("absolute", zip_of(file(absolute.to_str().unwrap().into()))),
        ("backslash", zip_of(file("..\\evil".into()))),
        ("drive", zip_of(file("C:/evil".into()))),
        (
            "symlink",
            zip_of(|z| {
                z.add_symlink("notes.md", "/etc/passwd", SimpleFileOptions::default())
                    .unwrap()
            }),
        ),
    ];
    for (what, zip) in cases {
        let token = encrypt_as_diary(&zip, id, &phrase);
        let jail = tmp.path().join("jail");
        std::fs::create_dir(&jail).unwrap();
        let err = diary::restore(token.as_bytes(), id, &phrase, &jail.join("home")).unwrap_err();
        assert!(unsafe_entry(&err), "{what}: unexpected error {err:?}");
        assert!(
            common::listing(&jail).is_empty(),
            "{what}: left {:?}",
            common::listing(&jail)
        );
        assert_eq!(
            common::listing(tmp.path()),
            ["jail"],
            "{what}: wrote outside her home"
        );
        std::fs::remove_dir(&jail).unwrap();
    }
}

#[test]
fn a_zip_bomb_stops_at_the_limit_and_leaves_nothing() {
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let zip = zip_of(|z| {
        z.start_file("big.bin", SimpleFileOptions::default())
            .unwrap();
        z.write_all(&vec![0u8; 4 * 1024 * 1024]).unwrap();
    });
    assert!(zip.len() < 64 * 1024, "deflate squeezes zeros");
    let token = encrypt_as_diary(&zip, id, &phrase);
    let key = DiaryKey::derive(&phrase, id);
    let tmp = tempfile::tempdir().unwrap();
    let err = diary::restore_with(
        token.as_bytes(),
        &key,
        &tmp.path().join("home"),
        1024 * 1024,
    )
    .unwrap_err();
    assert!(
        matches!(err, DiaryError::TooLarge { limit: 1048576 }),
        "{err:?}"
    );
    assert!(common::listing(tmp.path()).is_empty());
    // Under a generous limit the same diary restores.
    diary::restore_with(
        token.as_bytes(),
        &key,
        &tmp.path().join("home"),
        8 * 1024 * 1024,
    )
    .unwrap();
    assert_eq!(
        std::fs::metadata(tmp.path().join("home/big.bin"))
            .unwrap()
            .len(),
        4 * 1024 * 1024
    );
}

#[test]
fn restore_never_replaces_an_existing_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let home = common::sample_home(tmp.path());
    let key = DiaryKey::derive(&Phrase::generate(), Uuid::new_v4());
    let token = diary::seal(&home, &key).unwrap();
    let before = common::tree(&home);
    let err =
        diary::restore_with(token.as_bytes(), &key, &home, diary::MAX_HOME_BYTES).unwrap_err();
    assert!(
        matches!(err, DiaryError::Io(ref e) if e.kind() == std::io::ErrorKind::AlreadyExists),
        "{err:?}"
    );
    assert_eq!(common::tree(&home), before);
    assert_eq!(common::listing(tmp.path()), ["home"]);
}

#[test]
fn a_bad_night_keeps_the_last_good_diary() {
    let tmp = tempfile::tempdir().unwrap();
    let home = common::sample_home(tmp.path());
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let diary_dir = tmp.path().join("diary");
    let good = common::tree(&home);
    diary::write_at(
        &diary_dir,
        &home,
        id,
        &phrase,
        datetime!(2026-06-03 00:00 UTC),
    )
    .unwrap();

    // Her home is damaged during the day, and the same day's sleep seals the damage.
    std::fs::write(home.join("memory.json"), b"").unwrap();
    std::fs::remove_dir_all(home.join("history")).unwrap();
    diary::write_at(
        &diary_dir,
        &home,
        id,
        &phrase,
        datetime!(2026-06-03 15:30 UTC),
    )
    .unwrap();

    let nights = diary::nights(&diary_dir);
    assert_eq!(nights.len(), 2);
    let dest = tmp.path().join("recovered");
    diary::restore(&std::fs::read(&nights[0]).unwrap(), id, &phrase, &dest).unwrap();
    assert_eq!(
        common::tree(&dest),
        good,
        "the earlier diary still holds the good home"
    );
    assert_eq!(
        std::fs::read(diary::latest(&diary_dir, id).unwrap()).unwrap(),
        std::fs::read(&nights[1]).unwrap(),
        "the latest diary is the newest night"
    );
}

#[test]
fn a_failed_write_leaves_the_previous_diary_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let home = common::sample_home(tmp.path());
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let diary_dir = tmp.path().join("diary");
    let latest = diary::write_at(
        &diary_dir,
        &home,
        id,
        &phrase,
        datetime!(2026-06-03 00:00 UTC),
    )
    .unwrap();
    let before = std::fs::read(&latest).unwrap();
    assert!(
        diary::write_at(
            &diary_dir,
            &tmp.path().join("gone"),
            id,
            &phrase,
            datetime!(2026-06-04 00:00 UTC)
        )
        .is_err()
    );
    assert_eq!(std::fs::read(&latest).unwrap(), before);
    assert_eq!(diary::nights(&diary_dir).len(), 1);
    assert_eq!(
        common::listing(&diary_dir),
        [format!("{id}.diary"), "nights".to_string()],
        "no temp file left"
    );
}

#[test]
fn retention_keeps_one_diary_a_day_for_a_month_and_the_newest_few() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("notes.md"), b"x").unwrap();
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    let diary_dir = tmp.path().join("diary");
    let nights_dir = diary_dir.join("nights");
    std::fs::create_dir_all(&nights_dir).unwrap();
    let name = |t: time::OffsetDateTime| {
        let f = time::macros::format_description!("[year]-[month]-[day]T[hour]-[minute]-[second]Z");
        format!("{}.diary", t.format(f).unwrap())
    };
    // Forty earlier days with two nights each (placed directly: the KDF makes real writes slow),
    // then three real writes on the forty-first day, each of which prunes.
    let start = datetime!(2026-01-01 00:00 UTC);
    for day in 0..40 {
        for hour in [0, 12] {
            let t = start + time::Duration::days(day) + time::Duration::hours(hour);
            std::fs::write(nights_dir.join(name(t)), b"older").unwrap();
        }
    }
    std::fs::write(nights_dir.join("notes.txt"), b"not a night").unwrap();
    let today = start + time::Duration::days(40);
    for minute in 0..3 {
        diary::write_at(
            &diary_dir,
            &home,
            id,
            &phrase,
            today + time::Duration::minutes(minute),
        )
        .unwrap();
    }

    let kept: Vec<String> = diary::nights(&diary_dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    let mut expected: Vec<String> = (11..40)
        .map(|d| name(start + time::Duration::days(d) + time::Duration::hours(12)))
        .collect();
    expected.push(name(start + time::Duration::days(39)));
    expected.extend((0..3).map(|m| name(today + time::Duration::minutes(m))));
    expected.sort();
    assert_eq!(
        kept, expected,
        "the newest of 30 days, and the 5 newest overall"
    );
    assert!(
        nights_dir.join("notes.txt").exists(),
        "foreign files are left alone"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_duplicate_entry_is_refused_and_leaves_nothing() {
    let id = Uuid::new_v4();
    let phrase = Phrase::generate();
    // The writer refuses duplicate names, so write a same-length stand-in and rename it in
    // both its local header and its central directory entry.
    let mut zip = zip_of(|z| {
        z.start_file("config.jsoX", SimpleFileOptions::default())
            .unwrap();
        z.write_all(br#"{"name": "intruder"}"#).unwrap();
    });
    let (from, to) = (b"config.jsoX", b"config.json");
    let mut renamed = 0;
    for at in 0..=zip.len() - from.len() {
        if &zip[at..at + from.len()] == from {
            zip[at..at + to.len()].copy_from_slice(to);
            renamed += 1;
        }
    }
    assert_eq!(renamed, 2, "local header and central directory");
    let token = encrypt_as_diary(&zip, id, &phrase);
    let tmp = tempfile::tempdir().unwrap();
    let err = diary::restore(token.as_bytes(), id, &phrase, &tmp.path().join("home")).unwrap_err();
    assert!(unsafe_entry(&err), "unexpected error {err:?}");
    assert!(common::listing(tmp.path()).is_empty());
}
