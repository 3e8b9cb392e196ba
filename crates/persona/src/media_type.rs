//! The one table from a file's name to its media type, for every crate that needs it (her
//! senses classifying an attachment, the media route serving a file, the organs describing an
//! image): `mime_guess`'s table, with `application/octet-stream` for a name it does not know.

/// What a file whose type is unknown is served as.
pub const UNKNOWN: &str = "application/octet-stream";

/// The media type a file name's extension stands for (`cat.PNG` → `image/png`), or
/// [`UNKNOWN`].
pub fn of_name(name: &str) -> &'static str {
    mime_guess::from_path(name).first_raw().unwrap_or(UNKNOWN)
}

/// The `Content-Type` to serve a file under: its media type, with `charset=utf-8` for text
/// (her files are written as UTF-8).
pub fn content_type(name: &str) -> String {
    let mime = of_name(name);
    if mime.starts_with("text/") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_their_media_types_whatever_the_case() {
        assert_eq!(of_name("cat.PNG"), "image/png");
        assert_eq!(of_name("a.jpeg"), "image/jpeg");
        assert_eq!(of_name("b.webp"), "image/webp");
        assert_eq!(of_name("c.pdf"), "application/pdf");
        assert_eq!(of_name("d.json"), "application/json");
        assert_eq!(of_name("no-extension"), UNKNOWN);
        assert_eq!(content_type("notes.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type("song.mp3"), "audio/mpeg");
    }
}
