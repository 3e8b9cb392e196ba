//! Her words shown as her Mind writes them. Her replies are `say` fields of the JSON her Mind
//! answers with (`{"decision": [{"say": "…"}, …]}`, or `{"say": "…"}` when she is asked for a
//! reply), so while the answer streams in, [`SaidWords`] picks the decoded text of each `say`
//! string out of the partial JSON, and a [`Drafter`] puts it in her outbox as drafts.
//!
//! A draft is not yet said: the message is said once the whole answer is read and acted on.
//! When an answer is not acted on (it was not the JSON asked for and is asked again, it was cut
//! off, or the beat was interrupted) its drafts are withdrawn. [`Echo`] reconciles drafts with
//! what she then says, for a reader that can only append (a streamed completion).

use crate::outbox::{Outbox, Spoken};

/// A piece of a `say` value, decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drafted {
    /// A new message begins with these words.
    Begun(String),
    /// More words of the message begun last.
    More(String),
}

/// Where the reader is in a JSON container.
enum Container {
    /// In an object; `key` when the next string is a key.
    Object {
        key: bool,
    },
    Array,
}

/// The string being read.
enum Reading {
    Key(String),
    /// A `say` value; `begun` once its first non-blank character was shown.
    Say {
        begun: bool,
    },
    Other,
}

/// Reads streamed text for the `say` strings of its first JSON object, as [`crate::cycle`]
/// acts on them: leading and trailing blanks dropped, empty ones skipped. Text before the
/// object (prose, a code fence, a `<think>` block) and after it is ignored.
#[derive(Default)]
pub(crate) struct SaidWords {
    stack: Vec<Container>,
    reading: Option<Reading>,
    /// The key of the value being read.
    key: Option<String>,
    /// After a backslash in a string; the hex digits of a `\u` escape.
    escape: Option<String>,
    /// A `\u` high surrogate waiting for its low half.
    high: Option<u32>,
    /// Blanks inside a `say` value, shown only if more words follow.
    blanks: String,
    /// The last characters outside the object, to see `<think>` and `</think>`.
    tail: String,
    thinking: bool,
    done: bool,
}

impl SaidWords {
    /// Reads the next piece of the answer.
    pub(crate) fn feed(&mut self, text: &str) -> Vec<Drafted> {
        let mut out = Vec::new();
        for c in text.chars() {
            if self.done {
                break;
            }
            if let Some(words) = self.next(c) {
                match (out.last_mut(), words) {
                    (Some(Drafted::Begun(w) | Drafted::More(w)), Drafted::More(more)) => {
                        w.push_str(&more)
                    }
                    (_, words) => out.push(words),
                }
            }
        }
        out
    }

    fn next(&mut self, c: char) -> Option<Drafted> {
        if self.reading.is_some() {
            return self.in_string(c);
        }
        if self.stack.is_empty() {
            self.outside(c);
            return None;
        }
        match c {
            '"' => {
                let reading = match self.stack.last() {
                    Some(Container::Object { key: true }) => Reading::Key(String::new()),
                    Some(Container::Object { key: false })
                        if self.key.as_deref() == Some("say") =>
                    {
                        Reading::Say { begun: false }
                    }
                    _ => Reading::Other,
                };
                self.reading = Some(reading);
            }
            '{' => self.stack.push(Container::Object { key: true }),
            '[' => self.stack.push(Container::Array),
            '}' | ']' => {
                self.stack.pop();
                self.done = self.stack.is_empty();
            }
            ':' => self.expect_key(false),
            ',' => self.expect_key(true),
            _ => {}
        }
        None
    }

    fn expect_key(&mut self, key: bool) {
        if let Some(Container::Object { key: k }) = self.stack.last_mut() {
            *k = key;
        }
    }

    /// Text before the object: only `{` (outside a `<think>` block) matters.
    fn outside(&mut self, c: char) {
        self.tail.push(c);
        if self.tail.len() > 16 {
            let cut = self.tail.len() - 8;
            let cut = (cut..self.tail.len())
                .find(|&i| self.tail.is_char_boundary(i))
                .unwrap_or(cut);
            self.tail.drain(..cut);
        }
        if self.thinking {
            self.thinking = !self.tail.ends_with("</think>");
        } else if self.tail.ends_with("<think>") {
            self.thinking = true;
        } else if c == '{' {
            self.stack.push(Container::Object { key: true });
        }
    }

    fn in_string(&mut self, c: char) -> Option<Drafted> {
        let decoded = match self.escape.as_mut() {
            None if c == '\\' => {
                self.escape = Some(String::new());
                return None;
            }
            None if c == '"' => {
                if let Some(Reading::Key(key)) = self.reading.take() {
                    self.key = Some(key);
                }
                self.blanks.clear();
                return None;
            }
            None => Some(c),
            Some(hex) if hex.is_empty() && c != 'u' => {
                self.escape = None;
                Some(match c {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    other => other,
                })
            }
            Some(hex) => {
                // `u` and four hex digits.
                hex.push(c);
                if hex.len() < 5 {
                    return None;
                }
                let code = u32::from_str_radix(&hex[1..], 16).unwrap_or(0xFFFD);
                self.escape = None;
                self.unicode(code)
            }
        }?;
        self.character(decoded)
    }

    /// A `\uXXXX` escape, joining surrogate pairs.
    fn unicode(&mut self, code: u32) -> Option<char> {
        if (0xD800..0xDC00).contains(&code) {
            self.high = Some(code);
            return None;
        }
        let code = match self.high.take() {
            Some(high) if (0xDC00..0xE000).contains(&code) => {
                0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
            }
            _ => code,
        };
        Some(char::from_u32(code).unwrap_or('\u{FFFD}'))
    }

    fn character(&mut self, c: char) -> Option<Drafted> {
        match self.reading.as_mut()? {
            Reading::Key(key) => {
                key.push(c);
                None
            }
            Reading::Other => None,
            Reading::Say { begun } if !*begun => {
                if c.is_whitespace() {
                    return None;
                }
                *begun = true;
                Some(Drafted::Begun(c.to_string()))
            }
            Reading::Say { .. } if c.is_whitespace() => {
                self.blanks.push(c);
                None
            }
            Reading::Say { .. } => {
                let mut words = std::mem::take(&mut self.blanks);
                words.push(c);
                Some(Drafted::More(words))
            }
        }
    }
}

/// Drafts one answer's `say` words in her outbox as her Mind streams them.
pub(crate) struct Drafter<'a> {
    outbox: &'a Outbox,
    words: SaidWords,
    drafted: bool,
}

impl<'a> Drafter<'a> {
    pub(crate) fn new(outbox: &'a Outbox) -> Drafter<'a> {
        Drafter {
            outbox,
            words: SaidWords::default(),
            drafted: false,
        }
    }

    pub(crate) fn feed(&mut self, text: &str) {
        for drafted in self.words.feed(text) {
            self.drafted = true;
            match drafted {
                Drafted::Begun(words) => self.outbox.draft(Spoken::DraftStart, &words),
                Drafted::More(words) => self.outbox.draft(Spoken::Draft, &words),
            }
        }
    }

    /// The answer will not be acted on: what it drafted will not be said as drafted.
    pub(crate) fn withdraw(self) {
        if self.drafted {
            self.outbox.draft(Spoken::DraftWithdrawn, "");
        }
    }
}

/// One completion's text as a reader that can only append sees it: drafts as they come (a
/// blank line between messages), and of each message she says only what its drafts did not
/// already show. Withdrawn drafts stay shown (they cannot be taken back); what she says next
/// follows them.
#[derive(Default)]
pub(crate) struct Echo {
    shown: String,
    /// What she has said, joined as shown, withdrawn drafts counted as said.
    said: String,
}

impl Echo {
    /// The text to append for a draft line.
    pub(crate) fn draft(&mut self, kind: Spoken, words: &str) -> Option<String> {
        let text = match kind {
            Spoken::DraftStart if self.shown.is_empty() => words.to_string(),
            Spoken::DraftStart => format!("\n\n{words}"),
            Spoken::Draft => words.to_string(),
            Spoken::DraftWithdrawn => {
                self.said.clone_from(&self.shown);
                return None;
            }
            Spoken::Say | Spoken::Notify => return None,
        };
        self.shown.push_str(&text);
        Some(text)
    }

    /// The text to append once she says `words`, if her drafts did not show all of it.
    pub(crate) fn said(&mut self, words: &str) -> Option<String> {
        if !self.said.is_empty() {
            self.said.push_str("\n\n");
        }
        self.said.push_str(words);
        if self.shown.starts_with(&self.said) {
            return None;
        }
        let text = match self.said.strip_prefix(&self.shown) {
            Some(rest) => rest.to_string(),
            // Her drafts and her words parted: her words follow what was shown.
            None if self.shown.is_empty() => words.to_string(),
            None => format!("\n\n{words}"),
        };
        self.shown.push_str(&text);
        self.said.clone_from(&self.shown);
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drafts(pieces: &[&str]) -> Vec<Drafted> {
        let mut words = SaidWords::default();
        pieces.iter().flat_map(|p| words.feed(p)).collect()
    }

    #[test]
    fn say_values_are_decoded_as_they_stream() {
        let got = drafts(&[
            "<think>{\"say\": \"no\"}</think>```json\n{\"decision\": [{\"tools.x\": {\"say\": 1}}, {\"sa",
            "y\": \"  Hel",
            "lo, \\\"you\\\"\\n\\u00e9\\ud83d",
            "\\ude00 \"}, {\"say\": \"\"}, {\"say\": \"Two\"}]} {\"say\": \"after\"}",
        ]);
        assert_eq!(
            got,
            vec![
                Drafted::Begun("Hel".into()),
                Drafted::More("lo, \"you\"\né".into()),
                Drafted::More("😀".into()),
                Drafted::Begun("Two".into()),
            ]
        );
        assert_eq!(
            drafts(&["{\"say\":\"a b  \"}"]),
            vec![Drafted::Begun("a b".into())]
        );
        assert!(drafts(&["{\"not_say\": \"x\", \"y\": [\"say\", \"z\"]}"]).is_empty());
    }

    #[test]
    fn an_echo_shows_each_word_once() {
        let mut echo = Echo::default();
        let mut shown = String::new();
        let mut show = |t: Option<String>| shown.push_str(&t.unwrap_or_default());
        show(echo.draft(Spoken::DraftStart, "Hel"));
        show(echo.draft(Spoken::Draft, "lo"));
        show(echo.draft(Spoken::DraftStart, "Two"));
        show(echo.said("Hello"));
        show(echo.said("Two words"));
        // A withdrawn draft stays; the retry's words follow it once.
        show(echo.draft(Spoken::DraftStart, "Ab"));
        show(echo.draft(Spoken::DraftWithdrawn, ""));
        show(echo.draft(Spoken::DraftStart, "Cd"));
        show(echo.said("Cd"));
        // Words never drafted (a provider that does not stream) come whole.
        show(echo.said("Ef"));
        assert_eq!(shown, "Hello\n\nTwo words\n\nAb\n\nCd\n\nEf");
    }
}
