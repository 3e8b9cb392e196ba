//! Reading Hugging Face's names and headers: which file holds a quantisation, ETags, SHA-256
//! digests, and a repository path made safe for a URL.

/// What the repository's file list says of one file.
#[derive(Clone, Default)]
pub(super) struct Listed {
    pub(super) size: Option<u64>,
    pub(super) sha256: Option<String>,
}

/// What a `HEAD` of the file's resolve URL says.
pub(super) struct Head {
    pub(super) etag: Option<String>,
    pub(super) linked_sha256: Option<String>,
    pub(super) size: Option<u64>,
}

/// Whether `file` is the GGUF for `quant`: its name, before `.gguf`, ends with the
/// quantisation after a `-` or `.` (`Model-Q4_K_M.gguf`, `model.q8_0.gguf`).
pub(super) fn has_quant(file: &str, quant: &str) -> bool {
    let stem = file.to_ascii_lowercase();
    let stem = stem.strip_suffix(".gguf").unwrap_or(&stem);
    let stem = stem.rsplit('/').next().unwrap_or(stem);
    let quant = quant.to_ascii_lowercase();
    stem.strip_suffix(&quant)
        .is_some_and(|before| before.ends_with(['-', '.']))
}

pub(super) fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

pub(super) fn unquote(etag: &str) -> String {
    etag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

/// Percent-encodes what a repository file path may contain beyond URL-safe characters,
/// keeping its `/`.
pub(super) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantisations_match_the_end_of_the_file_name() {
        assert!(has_quant("SmolLM2-135M-Instruct-Q4_K_M.gguf", "q4_k_m"));
        assert!(has_quant("model.Q8_0.gguf", "Q8_0"));
        assert!(!has_quant("model-Q4_K_M.gguf", "K_M"));
        assert!(!has_quant("model-Q4_K_S.gguf", "Q4_K_M"));
    }
}
