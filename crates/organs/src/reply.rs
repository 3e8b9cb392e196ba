//! What a model said, cleaned: reasoning removed, and the JSON she was asked for found even
//! when a small model wraps it in prose or fences.

use serde_json::Value;

/// One answer from a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The spoken text with any `<think>…</think>` reasoning removed. When the structured
    /// answer came through a tool call this holds whatever prose came with it (often empty).
    pub text: String,
    /// The structured answer, when a schema was asked for and a JSON object was found. `None`
    /// means the model answered in prose, or was cut off: the caller may retry, then speak `text`.
    pub json: Option<Value>,
    /// The model stopped at its length limit, not at the end of its answer. A cut structured
    /// answer is never read: what would parse from it is a fragment (an inner object), not the
    /// answer asked for.
    pub cut_off: bool,
    /// The tokens the provider says this answer took, zero where it says nothing.
    pub usage: Usage,
}

/// Tokens one answer (or several, summed) took, as the provider counted them: what it read
/// (the whole prompt, cached parts included) and what it wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.prompt += other.prompt;
        self.completion += other.completion;
    }
}

impl Usage {
    /// What was taken after `earlier`, a reading of the same running count.
    pub fn since(self, earlier: Usage) -> Usage {
        Usage {
            prompt: self.prompt.saturating_sub(earlier.prompt),
            completion: self.completion.saturating_sub(earlier.completion),
        }
    }

    pub fn total(self) -> u64 {
        self.prompt + self.completion
    }

    /// A count read from a provider's answer: a missing or non-numeric field counts as zero.
    pub(crate) fn read(answer: &Value, prompt: &[&str], completion: &[&str]) -> Usage {
        let sum = |pointers: &[&str]| {
            pointers
                .iter()
                .filter_map(|p| answer.pointer(p).and_then(Value::as_u64))
                .sum()
        };
        Usage {
            prompt: sum(prompt),
            completion: sum(completion),
        }
    }
}

/// Removes reasoning blocks. An unclosed `<think>` hides everything after it; a lone
/// `</think>` (templates that open the block in the prompt) hides everything before it.
pub fn strip_think(text: &str) -> String {
    let mut rest = text;
    if let Some(close) = rest.find("</think>")
        && !rest[..close].contains("<think>")
    {
        rest = &rest[close + "</think>".len()..];
    }
    let mut out = String::with_capacity(rest.len());
    while let Some(open) = rest.find("<think>") {
        out.push_str(&rest[..open]);
        match rest[open..].find("</think>") {
            Some(close) => rest = &rest[open + close + "</think>".len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// The first balanced `{…}` in `text` that parses as a JSON object.
pub fn extract_json(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(offset) = text[start..].find('{') {
        let open = start + offset;
        if let Some(end) = balanced_end(&bytes[open..])
            && let Ok(value @ Value::Object(_)) =
                serde_json::from_str::<Value>(&text[open..open + end])
        {
            return Some(value);
        }
        start = open + 1;
    }
    None
}

/// Length of the object starting at `bytes[0] == b'{'`, counting braces outside strings.
fn balanced_end(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Builds the reply from the model's text and, when the provider returned structure directly
/// (a tool call), that structure.
pub(crate) fn finish(
    raw: &str,
    structured: Option<Value>,
    wanted: bool,
    cut_off: bool,
    usage: Usage,
) -> Reply {
    let text = strip_think(raw);
    let json = if wanted && !cut_off {
        structured
            .filter(Value::is_object)
            .or_else(|| extract_json(&text))
    } else {
        None
    };
    Reply {
        text,
        json,
        cut_off,
        usage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn think_blocks_are_removed() {
        assert_eq!(strip_think("<think>hmm</think>Hello"), "Hello");
        assert_eq!(strip_think("a<think>x</think>b<think>y</think>c"), "abc");
        assert_eq!(strip_think("reasoning</think>\nAnswer"), "Answer");
        assert_eq!(strip_think("Answer<think>never closed"), "Answer");
        assert_eq!(strip_think("plain"), "plain");
    }

    #[test]
    fn first_balanced_object_is_found_in_prose() {
        assert_eq!(
            extract_json("Sure! ```json\n{\"a\": {\"b\": \"}\"}}\n``` done"),
            Some(json!({"a": {"b": "}"}}))
        );
        assert_eq!(extract_json("{broken {\"ok\": 1}"), Some(json!({"ok": 1})));
        assert_eq!(
            extract_json("[1,2] and {\"x\": \"\\\"{\"}"),
            Some(json!({"x": "\"{"}))
        );
        assert_eq!(extract_json("no json here"), None);
        assert_eq!(extract_json("{\"unterminated\": 1"), None);
    }

    #[test]
    fn a_cut_off_answer_yields_no_fragment_as_json() {
        let cut =
            r#"{"decision": [{"tools.load_instruction": {"intention": "x"}}, {"say": "and th"#;
        assert_eq!(
            extract_json(cut),
            Some(json!({"tools.load_instruction": {"intention": "x"}})),
            "a fragment that reads as one decision"
        );
        let reply = finish(cut, None, true, true, Usage::default());
        assert_eq!((reply.json, reply.cut_off), (None, true));
        assert_eq!(
            finish("{\"a\": 1}", None, true, false, Usage::default()).json,
            Some(json!({"a": 1}))
        );
    }
}
