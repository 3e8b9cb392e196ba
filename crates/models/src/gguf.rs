//! Reads the header of a GGUF file: its version, the few metadata values the daemon needs
//! (name, architecture, trained context, chat template) and enough of the tensor table to tell a
//! whole file from a truncated one. No weights are read, so checking a multi-gigabyte model costs
//! a few megabytes of I/O at most.
//!
//! Every length in the header comes from the file, so every read is bounded: a corrupt or hostile
//! file gives a [`GgufError`], never an allocation of its choosing.

use std::io::{self, BufReader, Read, Seek};
use std::path::Path;

/// The four bytes every GGUF file starts with.
pub const MAGIC: &[u8; 4] = b"GGUF";

/// Longest metadata key accepted; real keys are a few dozen bytes.
const MAX_KEY: u64 = 64 * 1024;
/// Longest string value kept or skipped; chat templates are tens of kilobytes.
const MAX_STRING: u64 = 16 * 1024 * 1024;
/// Most metadata entries; real files have a few dozen.
const MAX_KV: u64 = 1 << 20;
/// Most elements in one metadata array (a tokenizer's vocabulary is a few hundred thousand).
const MAX_ARRAY: u64 = 1 << 26;
/// Most tensors; large models have a few thousand.
const MAX_TENSORS: u64 = 1 << 20;
/// GGML tensors have at most four dimensions.
const MAX_DIMS: u32 = 4;
/// Default alignment of the tensor data section when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;

/// What was wrong with a file that was supposed to be a GGUF model.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("not a GGUF file (it does not start with the GGUF magic bytes)")]
    NotGguf,
    #[error("unsupported GGUF version {0} (versions 1 to 3 are read)")]
    Version(u32),
    #[error("the GGUF file is truncated ({0})")]
    Truncated(String),
    #[error("the GGUF header is corrupt: {0}")]
    Corrupt(String),
    #[error("could not read the GGUF file: {0}")]
    Io(#[from] io::Error),
}

/// The parts of a GGUF header the daemon uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub tensor_count: u64,
    /// `general.architecture`, e.g. `llama`.
    pub architecture: Option<String>,
    /// `general.name`, the model's own name for itself.
    pub name: Option<String>,
    /// `<architecture>.context_length`: the context the model was trained with.
    pub context_length: Option<u64>,
    /// `tokenizer.chat_template`: the Jinja template its chat turns are formatted with.
    pub chat_template: Option<String>,
    /// The number of bytes the file must have to hold every tensor the header lists.
    pub expected_len: u64,
}

/// Reads and checks the header of the GGUF file at `path`, including that the file is long
/// enough for the tensors it declares.
pub fn read_header(path: &Path) -> Result<Header, GgufError> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = Reader {
        inner: BufReader::with_capacity(64 * 1024, file),
        wide: true,
    };
    let header = reader.header()?;
    if len < header.expected_len {
        return Err(GgufError::Truncated(format!(
            "its tensors need {} bytes, the file has {len}",
            header.expected_len
        )));
    }
    Ok(header)
}

struct Reader<R> {
    inner: R,
    /// Version 1 stored counts and string lengths as u32; later versions as u64.
    wide: bool,
}

/// A metadata value, kept only when it is one the daemon reads.
enum Value {
    Str(String),
    Uint(u64),
    Other,
}

impl<R: Read + Seek> Reader<R> {
    fn header(&mut self) -> Result<Header, GgufError> {
        let mut magic = [0u8; 4];
        self.inner.read_exact(&mut magic).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                GgufError::NotGguf
            } else {
                GgufError::Io(e)
            }
        })?;
        if &magic != MAGIC {
            return Err(GgufError::NotGguf);
        }
        let version = self.u32("the version")?;
        if !(1..=3).contains(&version) {
            return Err(GgufError::Version(version));
        }
        self.wide = version >= 2;
        let tensor_count = self.count("the tensor count")?;
        if tensor_count > MAX_TENSORS {
            return Err(corrupt(format!("{tensor_count} tensors")));
        }
        let kv_count = self.count("the metadata count")?;
        if kv_count > MAX_KV {
            return Err(corrupt(format!("{kv_count} metadata entries")));
        }

        let mut header = Header {
            version,
            tensor_count,
            ..Header::default()
        };
        let mut contexts: Vec<(String, u64)> = Vec::new();
        let mut alignment = DEFAULT_ALIGNMENT;
        for _ in 0..kv_count {
            let key = self.string(MAX_KEY, "a metadata key")?;
            let kind = self.u32("a metadata type")?;
            let wanted = key == "general.architecture"
                || key == "general.name"
                || key == "general.alignment"
                || key == "tokenizer.chat_template"
                || key.ends_with(".context_length");
            match (self.value(kind, wanted, &key)?, key.as_str()) {
                (Value::Str(s), "general.architecture") => header.architecture = Some(s),
                (Value::Str(s), "general.name") => header.name = Some(s),
                (Value::Str(s), "tokenizer.chat_template") => header.chat_template = Some(s),
                (Value::Uint(n), "general.alignment") => {
                    if n == 0 || !n.is_power_of_two() {
                        return Err(corrupt(format!("general.alignment is {n}")));
                    }
                    alignment = n;
                }
                (Value::Uint(n), k) if k.ends_with(".context_length") => {
                    contexts.push((k.trim_end_matches(".context_length").to_string(), n));
                }
                _ => {}
            }
        }
        header.context_length = header
            .architecture
            .as_ref()
            .and_then(|arch| contexts.iter().find(|(a, _)| a == arch).map(|(_, n)| *n));

        // The tensor table: only the end of the furthest tensor matters, to catch truncation.
        let mut furthest: u64 = 0;
        for _ in 0..tensor_count {
            self.skip_string(MAX_KEY, "a tensor name")?;
            let dims = self.u32("a tensor's dimension count")?;
            if dims == 0 || dims > MAX_DIMS {
                return Err(corrupt(format!("a tensor with {dims} dimensions")));
            }
            let mut elements: u64 = 1;
            for _ in 0..dims {
                let d = self.u64("a tensor dimension")?;
                elements = elements
                    .checked_mul(d)
                    .ok_or_else(|| corrupt("a tensor's element count overflows".into()))?;
            }
            let ggml_type = self.u32("a tensor type")?;
            let offset = self.u64("a tensor offset")?;
            let bytes = tensor_bytes(ggml_type, elements).unwrap_or(1);
            let end = offset
                .checked_add(bytes)
                .ok_or_else(|| corrupt("a tensor offset overflows".into()))?;
            furthest = furthest.max(end);
        }
        let table_end = self.inner.stream_position()?;
        let data_start = table_end.div_ceil(alignment) * alignment;
        header.expected_len = if tensor_count == 0 {
            table_end
        } else {
            data_start
                .checked_add(furthest)
                .ok_or_else(|| corrupt("the tensor data overflows".into()))?
        };
        Ok(header)
    }

    fn value(&mut self, kind: u32, keep: bool, key: &str) -> Result<Value, GgufError> {
        let what = "a metadata value";
        Ok(match kind {
            0 | 1 | 7 => {
                self.skip(1, what)?;
                Value::Other
            }
            2 | 3 => {
                self.skip(2, what)?;
                Value::Other
            }
            4 => Value::Uint(u64::from(self.u32(what)?)),
            5 => {
                let n = i32::from_le_bytes(self.bytes::<4>(what)?);
                u64::try_from(n).map(Value::Uint).unwrap_or(Value::Other)
            }
            6 => {
                self.skip(4, what)?;
                Value::Other
            }
            10 => Value::Uint(self.u64(what)?),
            11 => {
                let n = i64::from_le_bytes(self.bytes::<8>(what)?);
                u64::try_from(n).map(Value::Uint).unwrap_or(Value::Other)
            }
            12 => {
                self.skip(8, what)?;
                Value::Other
            }
            8 if keep => Value::Str(self.string(MAX_STRING, key)?),
            8 => {
                self.skip_string(MAX_STRING, key)?;
                Value::Other
            }
            9 => {
                let item = self.u32("an array's element type")?;
                let n = self.count("an array's length")?;
                if n > MAX_ARRAY {
                    return Err(corrupt(format!("{key} has {n} elements")));
                }
                match fixed_size(item) {
                    Some(size) => self.skip(size * n, key)?,
                    None if item == 8 => {
                        for _ in 0..n {
                            self.skip_string(MAX_STRING, key)?;
                        }
                    }
                    // Arrays of arrays are allowed by the format but never used for metadata
                    // the daemon reads; they are walked like any other value.
                    None if item == 9 => {
                        for _ in 0..n {
                            self.value(9, false, key)?;
                        }
                    }
                    None => return Err(corrupt(format!("{key} has element type {item}"))),
                }
                Value::Other
            }
            other => return Err(corrupt(format!("{key} has value type {other}"))),
        })
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|e| eof(e, what))?;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes::<8>(what)?))
    }

    fn count(&mut self, what: &str) -> Result<u64, GgufError> {
        if self.wide {
            self.u64(what)
        } else {
            self.u32(what).map(u64::from)
        }
    }

    fn string(&mut self, max: u64, what: &str) -> Result<String, GgufError> {
        let len = self.count(what)?;
        if len > max {
            return Err(corrupt(format!("{what} is {len} bytes long")));
        }
        let mut buf = Vec::with_capacity(len as usize);
        (&mut self.inner)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(GgufError::Io)?;
        if buf.len() as u64 != len {
            return Err(GgufError::Truncated(format!("it ends inside {what}")));
        }
        String::from_utf8(buf).map_err(|_| corrupt(format!("{what} is not UTF-8")))
    }

    fn skip_string(&mut self, max: u64, what: &str) -> Result<(), GgufError> {
        let len = self.count(what)?;
        if len > max {
            return Err(corrupt(format!("{what} is {len} bytes long")));
        }
        self.skip(len, what)
    }

    /// Skips `n` bytes, failing as truncated when the file ends first.
    fn skip(&mut self, n: u64, what: &str) -> Result<(), GgufError> {
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if copied != n {
            return Err(GgufError::Truncated(format!("it ends inside {what}")));
        }
        Ok(())
    }
}

/// Bytes of one element of a fixed-size metadata type.
fn fixed_size(kind: u32) -> Option<u64> {
    match kind {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// Bytes a tensor of `elements` elements takes for the GGML types whose block layout is
/// stable and well known. Other types give `None`, and the truncation check then only asks for
/// one byte of that tensor: a weaker check, never a false rejection.
fn tensor_bytes(ggml_type: u32, elements: u64) -> Option<u64> {
    let (block, size) = match ggml_type {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        30 => (1, 2),     // BF16
        _ => return None,
    };
    elements.div_ceil(block).checked_mul(size)
}

fn corrupt(what: String) -> GgufError {
    GgufError::Corrupt(what)
}

fn eof(e: io::Error, what: &str) -> GgufError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        GgufError::Truncated(format!("it ends inside {what}"))
    } else {
        GgufError::Io(e)
    }
}

/// Writes small GGUF files for tests, in this crate and in the crates that use it (the CLI, the
/// daemon and the fake Hugging Face server serve them).
pub mod synthetic {
    /// A version 3 GGUF with the given string metadata, an optional `<arch>.context_length`,
    /// and one F32 tensor of `floats` elements whose data follows the 32-byte aligned header.
    pub fn gguf(strings: &[(&str, &str)], context: Option<(&str, u32)>, floats: u64) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(super::MAGIC);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u64.to_le_bytes());
        let kvs = strings.len() as u64 + u64::from(context.is_some());
        out.extend_from_slice(&kvs.to_le_bytes());
        let string = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        for (k, v) in strings {
            string(&mut out, k);
            out.extend_from_slice(&8u32.to_le_bytes());
            string(&mut out, v);
        }
        if let Some((arch, n)) = context {
            string(&mut out, &format!("{arch}.context_length"));
            out.extend_from_slice(&4u32.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        string(&mut out, "weights");
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&floats.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        while out.len() % 32 != 0 {
            out.push(0);
        }
        for i in 0..floats {
            out.extend_from_slice(&(i as f32).to_le_bytes());
        }
        out
    }

    /// A small, complete model with a name, a llama architecture, a 2048-token context and a
    /// chat template.
    pub fn tiny_model(floats: u64) -> Vec<u8> {
        gguf(
            &[
                ("general.architecture", "llama"),
                ("general.name", "Tiny Test Model"),
                (
                    "tokenizer.chat_template",
                    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}",
                ),
            ],
            Some(("llama", 2048)),
            floats,
        )
    }
}
