//! Fernet, read from a file in two passes so a diary is never held whole in memory: the first
//! pass checks the HMAC-SHA256 over the whole token, the second decrypts AES-128-CBC a buffer at
//! a time into the caller's writer. Nothing is decrypted before the whole token is verified.
//!
//! The token is what the original (Python's `cryptography`) and the `fernet` crate write:
//! base64url of `0x80 | timestamp (8, big-endian) | IV (16) | ciphertext | HMAC (32)`, the HMAC
//! keyed by the first half of the 32-byte key, AES by the second. It is read as `fernet` reads
//! it: surrounding whitespace and trailing `=` ignored, strict base64 otherwise.

use std::io::{self, Read, Seek, SeekFrom, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::read::DecoderReader;
use cbc::cipher::generic_array::GenericArray;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::DiaryError;

/// Version byte, timestamp and IV.
const HEADER: usize = 1 + 8 + 16;
const TAG: usize = 32;
const BLOCK: usize = 16;
/// Bytes decoded per read; a multiple of the AES block.
const CHUNK: usize = 64 * 1024;
/// `fernet`'s allowed clock skew. The original never checks a diary's age, so "now" is a time
/// no token reaches (as with `decrypt_at_time(.., u64::MAX / 2)`); only a timestamp beyond it
/// plus the skew is refused, as `fernet` refuses it.
const LATEST_TIMESTAMP: u64 = u64::MAX / 2 + 60;

/// Verifies the token read from `token` with `key` (signing half, then encryption half) and
/// writes its plaintext to `out`. Every failure of the token itself is `Unreadable`.
pub(super) fn open<R: Read + Seek>(
    key: &[u8; 32],
    token: &mut R,
    out: &mut impl Write,
) -> Result<(), DiaryError> {
    let (start, end) = span(token)?;
    let body = verify(&key[..16], token, start, end)?;
    decrypt(&key[16..], token, start, end, body, out)
}

/// Base64 decode errors are the token's fault; anything else is the disk's.
fn unreadable(e: io::Error) -> DiaryError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => DiaryError::Unreadable,
        _ => DiaryError::Io(e),
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The token's bytes: without leading and trailing whitespace, then without trailing `=`.
fn span<R: Read + Seek>(token: &mut R) -> io::Result<(u64, u64)> {
    let len = token.seek(SeekFrom::End(0))?;
    token.seek(SeekFrom::Start(0))?;
    let mut buf = [0u8; 4096];
    let mut start = 0u64;
    'lead: while start < len {
        let n = token.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for b in &buf[..n] {
            if !is_space(*b) {
                break 'lead;
            }
            start += 1;
        }
    }
    let mut end = len;
    for strip in [is_space as fn(u8) -> bool, |b| b == b'='] {
        'trail: while end > start {
            let from = end.saturating_sub(buf.len() as u64).max(start);
            let n = (end - from) as usize;
            token.seek(SeekFrom::Start(from))?;
            token.read_exact(&mut buf[..n])?;
            for b in buf[..n].iter().rev() {
                if !strip(*b) {
                    break 'trail;
                }
                end -= 1;
            }
        }
    }
    Ok((start, end))
}

/// A base64 decoder over `token[start..end]`.
fn decoded<R: Read + Seek>(
    token: &mut R,
    start: u64,
    end: u64,
) -> io::Result<DecoderReader<'static, base64::engine::GeneralPurpose, io::Take<&mut R>>> {
    token.seek(SeekFrom::Start(start))?;
    Ok(DecoderReader::new(
        token.take(end - start),
        &URL_SAFE_NO_PAD,
    ))
}

/// Pass one: checks the version and the HMAC over everything before the tag; returns the
/// ciphertext's length.
fn verify<R: Read + Seek>(
    signing: &[u8],
    token: &mut R,
    start: u64,
    end: u64,
) -> Result<u64, DiaryError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing).expect("HMAC takes any key length");
    let mut input = decoded(token, start, end)?;
    let mut header = [0u8; HEADER];
    input.read_exact(&mut header).map_err(unreadable)?;
    let timestamp = u64::from_be_bytes(header[1..9].try_into().expect("eight bytes"));
    if header[0] != 0x80 || timestamp > LATEST_TIMESTAMP {
        return Err(DiaryError::Unreadable);
    }
    mac.update(&header);
    // The last TAG bytes read so far are held back: only at the end is it known which are the tag.
    let mut buf = vec![0u8; CHUNK + TAG];
    let mut held = 0;
    let mut body = 0u64;
    loop {
        let n = input.read(&mut buf[held..]).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        held += n;
        if held > TAG {
            let done = held - TAG;
            mac.update(&buf[..done]);
            body += done as u64;
            buf.copy_within(done..held, 0);
            held = TAG;
        }
    }
    if held < TAG || body == 0 || !body.is_multiple_of(BLOCK as u64) {
        return Err(DiaryError::Unreadable);
    }
    mac.verify_slice(&buf[..TAG])
        .map_err(|_| DiaryError::Unreadable)?;
    Ok(body)
}

/// Pass two: decrypts the `body` bytes of ciphertext into `out`, removing the PKCS#7 padding
/// from the last block.
fn decrypt<R: Read + Seek>(
    encryption: &[u8],
    token: &mut R,
    start: u64,
    end: u64,
    body: u64,
    out: &mut impl Write,
) -> Result<(), DiaryError> {
    let mut input = decoded(token, start, end)?;
    let mut header = [0u8; HEADER];
    input.read_exact(&mut header).map_err(unreadable)?;
    let mut aes = cbc::Decryptor::<aes::Aes128>::new_from_slices(encryption, &header[9..])
        .expect("16-byte key and IV");
    let mut buf = vec![0u8; CHUNK];
    let mut left = body;
    while left > 0 {
        let n = CHUNK.min(usize::try_from(left).unwrap_or(CHUNK));
        input.read_exact(&mut buf[..n]).map_err(unreadable)?;
        for block in buf[..n].chunks_exact_mut(BLOCK) {
            aes.decrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        left -= n as u64;
        let keep = if left == 0 { unpadded(&buf[..n])? } else { n };
        out.write_all(&buf[..keep])?;
    }
    Ok(())
}

/// The length of the last chunk without its PKCS#7 padding.
fn unpadded(last: &[u8]) -> Result<usize, DiaryError> {
    let pad = *last.last().ok_or(DiaryError::Unreadable)? as usize;
    if pad == 0 || pad > BLOCK || last[last.len() - pad..].iter().any(|b| *b as usize != pad) {
        return Err(DiaryError::Unreadable);
    }
    Ok(last.len() - pad)
}
