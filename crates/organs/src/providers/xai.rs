//! xAI: OpenAI's wire, with `json_object` and the schema spelled out in the prompt (the mode
//! the original relied on there).

use reqwest::{Method, RequestBuilder};

use super::{Defaults, openai};
use crate::chat::ChatRequest;
use crate::wire::Call;

pub(crate) const DEFAULTS: Defaults = Defaults {
    name: "xai",
    env: "XAI_BASE_URL",
    url: "https://api.x.ai",
};

pub(crate) use openai::{authorize, cut_off, has_model, read, usage};

pub(crate) fn chat(
    call: &Call<'_>,
    http: &reqwest::Client,
    model: &str,
    request: &ChatRequest,
) -> RequestBuilder {
    call.request(http, Method::POST, "/v1/chat/completions")
        .json(&openai::body(model, request, true))
}
