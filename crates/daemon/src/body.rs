//! Request extractors that answer bad input the way FastAPI does, so clients written against
//! the original keep working: a 422 whose `detail` lists every field error, and a 404 for a
//! persona id that is not a UUID (an id never becomes a path on disk unless it parses).

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{ApiError, FieldError};

/// The JSON type a body field must have.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Str,
    Bool,
    /// An organ object: `{"model": str, "provider"?: str, "url"?: str, "api_key"?: str}`.
    Organ,
    /// An object with these fields.
    Object(&'static [Field]),
}

#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

impl Field {
    pub const fn required(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: true,
        }
    }
    pub const fn optional(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: false,
        }
    }
}

/// A request body with a declared field list, checked before it is deserialised.
pub trait Validated: DeserializeOwned {
    const FIELDS: &'static [Field];
    /// Older names the original's clients still send, each with the field it now means
    /// (`(old, new)`). Renamed before checking, so errors name the field as declared.
    const ALIASES: &'static [(&'static str, &'static str)] = &[];
    /// Whether a top-level key that is neither a field nor an alias is a 422 (FastAPI's
    /// `extra_forbidden`) rather than ignored: for bodies where a dropped key would let a person
    /// believe she saved something.
    const CLOSED: bool = false;
}

/// Renames every alias present in `object` to its field. An alias sent together with the field
/// it stands for is an error: which of the two she meant cannot be known.
fn rename_aliases(
    aliases: &[(&str, &str)],
    object: &mut Map<String, Value>,
    loc: &[&str],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (old, new) in aliases {
        let Some(value) = object.remove(*old) else {
            continue;
        };
        if object.contains_key(*new) {
            let mut at = loc.to_vec();
            at.push(old);
            errors.push(FieldError::new(
                "value_error",
                &at,
                &format!("Value error, {old} is the older name of {new}; send only one of them"),
                value,
            ));
        } else {
            object.insert((*new).to_string(), value);
        }
    }
    errors
}

/// FastAPI's `extra_forbidden` for every key outside `fields`.
fn extra_keys(fields: &[Field], object: &Map<String, Value>, loc: &[&str]) -> Vec<FieldError> {
    object
        .iter()
        .filter(|(key, _)| !fields.iter().any(|f| f.name == key.as_str()))
        .map(|(key, value)| {
            let mut at = loc.to_vec();
            at.push(key);
            FieldError::new(
                "extra_forbidden",
                &at,
                "Extra inputs are not permitted",
                value.clone(),
            )
        })
        .collect()
}

const ORGAN_FIELDS: &[Field] = &[
    Field::required("model", Kind::Str),
    Field::optional("provider", Kind::Str),
    Field::optional("url", Kind::Str),
    Field::optional("api_key", Kind::Str),
];

/// Checks `object` against `fields`, normalising lax booleans in place, and returns every error.
pub fn check(fields: &[Field], object: &mut Map<String, Value>, loc: &[&str]) -> Vec<FieldError> {
    let whole = Value::Object(object.clone());
    let mut errors = Vec::new();
    for field in fields {
        let mut at: Vec<&str> = loc.to_vec();
        at.push(field.name);
        let value = object.get_mut(field.name);
        match value {
            None => {
                if field.required {
                    errors.push(FieldError::missing(&at, whole.clone()));
                }
            }
            Some(Value::Null) if !field.required => {}
            Some(v) => match field.kind {
                Kind::Str => {
                    if !v.is_string() {
                        errors.push(FieldError::new(
                            "string_type",
                            &at,
                            "Input should be a valid string",
                            v.clone(),
                        ));
                    }
                }
                Kind::Bool => match lax_bool(v) {
                    Some(b) => *v = Value::Bool(b),
                    None => errors.push(FieldError::new(
                        "bool_parsing",
                        &at,
                        "Input should be a valid boolean, unable to interpret input",
                        v.clone(),
                    )),
                },
                Kind::Organ | Kind::Object(_) => match v.as_object_mut() {
                    Some(inner) => {
                        let fields = match field.kind {
                            Kind::Object(fields) => fields,
                            _ => ORGAN_FIELDS,
                        };
                        errors.extend(check(fields, inner, &at))
                    }
                    None => errors.push(FieldError::new(
                        "model_attributes_type",
                        &at,
                        "Input should be a valid dictionary or object to extract fields from",
                        v.clone(),
                    )),
                },
            },
        }
    }
    errors
}

/// Pydantic's lax boolean: JSON booleans, 0/1, and the usual words.
fn lax_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
            "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A validated JSON body.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: Validated> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge("Request body is too large.".into())
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        Ok(Body(parse(&bytes)?))
    }
}

/// Parses and validates a JSON body.
pub fn parse<T: Validated>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![FieldError::missing(
            &["body"],
            Value::Null,
        )]));
    }
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| {
        let position = offset(bytes, e.line(), e.column());
        ApiError::Validation(vec![FieldError {
            ctx: Some(json!({ "error": e.to_string() })),
            loc: vec![Value::from("body"), Value::from(position)],
            ..FieldError::new("json_invalid", &[], "JSON decode error", json!({}))
        }])
    })?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::Validation(vec![FieldError::new(
            "model_attributes_type",
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
            value,
        )]));
    };
    let mut errors = rename_aliases(T::ALIASES, object, &["body"]);
    if T::CLOSED {
        errors.extend(extra_keys(T::FIELDS, object, &["body"]));
    }
    errors.extend(check(T::FIELDS, object, &["body"]));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::Validation(vec![FieldError::new(
            "value_error",
            &["body"],
            &e.to_string(),
            Value::Null,
        )])
    })
}

/// Byte offset of a (1-based line, 1-based column) position, as FastAPI reports it.
fn offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut current = 1;
    for (i, b) in bytes.iter().enumerate() {
        if current == line {
            return (i + column.saturating_sub(1)).min(bytes.len());
        }
        if *b == b'\n' {
            current += 1;
        }
    }
    bytes.len()
}

/// The `{persona_id}` path parameter. Anything but a UUID is "Persona not found.".
pub struct PersonaId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PersonaId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::persona_not_found())?;
        parse_id(&raw)
            .map(PersonaId)
            .ok_or_else(ApiError::persona_not_found)
    }
}

/// Accepts only the canonical form (lower-case, hyphenated), so one persona has exactly one
/// spelling and a route never answers for an id her folder name does not match.
pub fn parse_id(raw: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(raw).ok()?;
    (id.hyphenated().to_string() == raw).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Probe {
        #[allow(dead_code)]
        name: String,
    }
    impl Validated for Probe {
        const FIELDS: &'static [Field] = &[
            Field::required("name", Kind::Str),
            Field::optional("flag", Kind::Bool),
        ];
    }

    fn detail(result: Result<Probe, ApiError>) -> Vec<FieldError> {
        match result {
            Err(ApiError::Validation(e)) => e,
            _ => panic!("expected a validation error"),
        }
    }

    #[test]
    fn missing_field_reports_the_whole_body_as_input() {
        let e = detail(parse::<Probe>(br#"{"other":1}"#));
        assert_eq!(e[0].kind, "missing");
        assert_eq!(e[0].loc, vec![json!("body"), json!("name")]);
        assert_eq!(e[0].input, json!({"other": 1}));
    }

    #[test]
    fn malformed_json_reports_its_position() {
        let e = detail(parse::<Probe>(b"{\"name\": }"));
        assert_eq!(e[0].kind, "json_invalid");
        assert_eq!(e[0].loc, vec![json!("body"), json!(9)]);
    }

    #[test]
    fn wrong_types_are_all_reported() {
        let e = detail(parse::<Probe>(br#"{"name": 3, "flag": "maybe"}"#));
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].kind, "string_type");
        assert_eq!(e[1].kind, "bool_parsing");
    }

    #[derive(serde::Deserialize)]
    struct Closed {
        #[allow(dead_code)]
        eye: Option<String>,
    }
    impl Validated for Closed {
        const FIELDS: &'static [Field] = &[Field::optional("eye", Kind::Str)];
        const ALIASES: &'static [(&'static str, &'static str)] = &[("vision", "eye")];
        const CLOSED: bool = true;
    }

    #[test]
    fn closed_bodies_name_every_unknown_key_and_accept_aliases() {
        assert!(parse::<Closed>(br#"{"vision": "v"}"#).is_ok());
        let e = match parse::<Closed>(br#"{"eye": "e", "nose": 1}"#) {
            Err(ApiError::Validation(e)) => e,
            _ => panic!("expected a validation error"),
        };
        assert_eq!(e[0].kind, "extra_forbidden");
        assert_eq!(e[0].loc, vec![json!("body"), json!("nose")]);
        assert_eq!(e[0].msg, "Extra inputs are not permitted");
        assert_eq!(e[0].input, json!(1));
        let both = match parse::<Closed>(br#"{"eye": "e", "vision": "v"}"#) {
            Err(ApiError::Validation(e)) => e,
            _ => panic!("expected a validation error"),
        };
        assert_eq!(both[0].loc, vec![json!("body"), json!("vision")]);
    }

    #[test]
    fn ids_must_be_canonical_uuids() {
        assert!(parse_id("6c17c83c-3158-450d-8e43-0e7efea717c1").is_some());
        assert!(parse_id("../../etc").is_none());
        assert!(parse_id("6c17c83c3158450d8e430e7efea717c1").is_none());
        assert!(parse_id("6C17C83C-3158-450D-8E43-0E7EFEA717C1").is_none());
        assert!(parse_id("6c17c83c-3158-450d-8e43-0e7efea717C1").is_none());
    }
}
