//! Request validation. Bodies are read as JSON values and checked field by field so every
//! refusal can name the field it is about.

use super::ApiError;
use crate::clock;
use crate::service::ObservationInput;
use identity::{InitialConfig, Mode, Modes, Observation};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub type Object = Map<String, Value>;

pub fn body(bytes: &[u8]) -> Result<Object, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Object::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid("body", "must be a JSON object")),
        Err(e) => Err(ApiError::invalid("body", format!("is not valid JSON: {e}"))),
    }
}

fn present<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

pub fn string<'a>(obj: &'a Object, key: &str, field: &str) -> Result<Option<&'a str>, ApiError> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(field, "must be a string")),
    }
}

pub fn number(obj: &Object, key: &str, field: &str) -> Result<Option<f64>, ApiError> {
    match present(obj, key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(field, "must be a number")),
    }
}

pub fn boolean(obj: &Object, key: &str, field: &str) -> Result<Option<bool>, ApiError> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid(field, "must be true or false")),
    }
}

fn object<'a>(obj: &'a Object, key: &str, field: &str) -> Result<Option<&'a Object>, ApiError> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(ApiError::invalid(field, "must be an object")),
    }
}

pub fn initial_config(obj: &Object) -> Result<Option<InitialConfig>, ApiError> {
    let Some(cfg) = object(obj, "initial_config", "initial_config")? else {
        return Ok(None);
    };
    let mut modes = Modes::ZERO;
    if let Some(ms) = object(cfg, "mode_strengths", "initial_config.mode_strengths")? {
        for (key, value) in ms {
            let field = format!("initial_config.mode_strengths.{key}");
            let mode = Mode::parse(key)
                .ok_or_else(|| ApiError::invalid(&field, "is not one of the seven modes"))?;
            let v = value
                .as_f64()
                .ok_or_else(|| ApiError::invalid(&field, "must be a number"))?;
            modes.set(mode, v);
        }
    }
    let energy = number(cfg, "energy_level", "initial_config.energy_level")?
        .unwrap_or(identity::engine::DEFAULT_ENERGY);
    InitialConfig::new(modes, energy)
        .map(Some)
        .map_err(|e| ApiError::invalid(e.field(), e.to_string()))
}

/// One observation; `prefix` names its place in a batch (`observations[3].`).
pub fn observation(obj: &Object, prefix: &str) -> Result<ObservationInput, ApiError> {
    let f = |name: &str| format!("{prefix}{name}");
    let mode_name = string(obj, "mode_target", &f("mode_target"))?
        .ok_or_else(|| ApiError::invalid(f("mode_target"), "is required"))?;
    let mode = Mode::parse(mode_name).ok_or_else(|| {
        ApiError::invalid(
            f("mode_target"),
            format!("{mode_name:?} is not one of the seven modes"),
        )
    })?;
    let signal = number(obj, "signal_strength", &f("signal_strength"))?
        .ok_or_else(|| ApiError::invalid(f("signal_strength"), "is required"))?;
    let confidence = number(obj, "confidence", &f("confidence"))?.unwrap_or(1.0);
    let observation = Observation::new(mode, signal, confidence)
        .map_err(|e| ApiError::invalid(format!("{prefix}{}", e.field()), e.to_string()))?;
    let context = match present(obj, "context") {
        None => Value::Null,
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(ApiError::invalid(f("context"), "must be an object")),
    };
    let timestamp =
        match string(obj, "timestamp", &f("timestamp"))? {
            None => None,
            Some(t) => Some(clock::parse(t).ok_or_else(|| {
                ApiError::invalid(f("timestamp"), "must be an ISO-8601 date-time")
            })?),
        };
    Ok(ObservationInput {
        observation,
        context,
        timestamp,
    })
}

pub fn observations(obj: &Object) -> Result<Vec<ObservationInput>, ApiError> {
    let list = match present(obj, "observations") {
        None => return Err(ApiError::invalid("observations", "is required")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(ApiError::invalid("observations", "must be an array")),
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(o) => observation(o, &format!("observations[{i}].")),
            _ => Err(ApiError::invalid(
                format!("observations[{i}]"),
                "must be an object",
            )),
        })
        .collect()
}

/// An integer query parameter in `[min, max]`, or the default when absent.
pub fn query_int(
    q: &HashMap<String, String>,
    key: &str,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match q.get(key) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                key,
                format!("must be an integer from {min} to {max}"),
            )),
        },
    }
}

pub fn query_bool(q: &HashMap<String, String>, key: &str) -> Result<Option<bool>, ApiError> {
    match q.get(key).map(|s| s.to_ascii_lowercase()) {
        None => Ok(None),
        Some(s) if s == "true" || s == "1" => Ok(Some(true)),
        Some(s) if s == "false" || s == "0" => Ok(Some(false)),
        Some(_) => Err(ApiError::invalid(key, "must be true or false")),
    }
}

/// Test answers: `question_id` as `"q3"` or `3`, and either `selected_option_id`
/// (`"q3_c"` or `"c"`) or `score` (1–4 on the agreement scale).
pub fn answers(obj: &Object) -> Result<Vec<(u32, u8)>, ApiError> {
    let list = match present(obj, "responses") {
        None => return Err(ApiError::invalid("responses", "is required")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(ApiError::invalid("responses", "must be an array")),
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let field = format!("responses[{i}]");
            let o = v
                .as_object()
                .ok_or_else(|| ApiError::invalid(&field, "must be an object"))?;
            let id = match present(o, "question_id") {
                Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                Some(Value::String(s)) => s.strip_prefix('q').unwrap_or(s).parse().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("{field}.question_id"),
                    "must be a question id such as \"q1\" or 1",
                )
            })?;
            let choice = if let Some(opt) = string(
                o,
                "selected_option_id",
                &format!("{field}.selected_option_id"),
            )? {
                let letter = opt.rsplit('_').next().unwrap_or(opt);
                match letter {
                    "a" => 0,
                    "b" => 1,
                    "c" => 2,
                    "d" => 3,
                    _ => {
                        return Err(ApiError::invalid(
                            format!("{field}.selected_option_id"),
                            "must name option a, b, c or d",
                        ));
                    }
                }
            } else {
                match number(o, "score", &format!("{field}.score"))? {
                    Some(s) if [1.0, 2.0, 3.0, 4.0].contains(&s) => s as u8 - 1,
                    _ => {
                        return Err(ApiError::invalid(
                            format!("{field}.selected_option_id"),
                            "is required (or give score 1-4)",
                        ));
                    }
                }
            };
            Ok((id, choice))
        })
        .collect()
}
