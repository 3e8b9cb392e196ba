//! A Hugging Face model reference, `hf.co/OWNER/REPO[:QUANT]`: what a pull is asked for.

use super::PullError;
use crate::library;

/// `hf.co/OWNER/REPO[:QUANT]`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub owner: String,
    pub repo: String,
    pub quant: Option<String>,
}

impl Reference {
    /// Whether `name` is meant for Hugging Face (it starts with `hf.co/` or `huggingface.co/`),
    /// valid or not; anything else is an Ollama model name.
    pub fn is_hugging_face(name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        lower.starts_with("hf.co/") || lower.starts_with("huggingface.co/")
    }

    /// Parses a reference; owner and repository are Hugging Face identifiers (letters, digits,
    /// `-`, `_`, `.`, no `..`), the quantisation letters, digits and `_`.
    pub fn parse(name: &str) -> Result<Reference, PullError> {
        let bad = || PullError::Reference(name.to_string());
        let lower = name.to_ascii_lowercase();
        let rest = if lower.starts_with("hf.co/") {
            &name["hf.co/".len()..]
        } else if lower.starts_with("huggingface.co/") {
            &name["huggingface.co/".len()..]
        } else {
            return Err(bad());
        };
        let (path, quant) = match rest.split_once(':') {
            Some((path, quant)) => (path, Some(quant)),
            None => (rest, None),
        };
        let (owner, repo) = path.split_once('/').ok_or_else(bad)?;
        let ident = |s: &str| {
            !s.is_empty()
                && s.len() <= 96
                && !s.contains("..")
                && !s.starts_with('.')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !ident(owner) || !ident(repo) {
            return Err(bad());
        }
        let quant = match quant {
            None => None,
            Some(q)
                if !q.is_empty()
                    && q.len() <= 32
                    && q.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Some(q.to_string())
            }
            Some(_) => return Err(bad()),
        };
        Ok(Reference {
            owner: owner.to_string(),
            repo: repo.to_string(),
            quant,
        })
    }

    /// `OWNER/REPO`.
    pub fn repo_id(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// The canonical reference, `hf.co/OWNER/REPO[:QUANT]`, recorded as the model's origin.
    pub fn canonical(&self) -> String {
        match &self.quant {
            Some(q) => format!("hf.co/{}:{q}", self.repo_id()),
            None => format!("hf.co/{}", self.repo_id()),
        }
    }

    /// The model name a pull registers when none is given: the repository's name, lower case,
    /// without its `-GGUF` suffix.
    pub fn default_name(&self) -> String {
        library::default_name(&self.repo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = Reference::parse("hf.co/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q8_0").unwrap();
        assert_eq!(r.repo_id(), "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF");
        assert_eq!(r.quant.as_deref(), Some("Q8_0"));
        assert_eq!(r.default_name(), "smollm2-135m-instruct");
        for bad in [
            "hf.co/",
            "hf.co/owner",
            "hf.co/owner/",
            "hf.co/../repo",
            "hf.co/owner/repo/extra",
            "hf.co/owner/repo:Q4 K",
            "hf.co/owner/repo:",
            "llama3",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} parsed");
        }
        assert!(Reference::is_hugging_face("HF.co/a/b"));
        assert!(!Reference::is_hugging_face("llama3:8b"));
    }
}
