//! Preparing an organ before she is created or updated: the engine answers, the key is good,
//! the model exists (pulled into the local engine when missing). Only listing calls are made,
//! and a local model in her library has only its GGUF header read, so no tokens are spent.

use persona::{Organ, OrganSlot, Provider};
use uuid::Uuid;

use crate::endpoints::given;
use crate::providers::{self, Embedded, ollama};
use crate::wire::Call;
use crate::{Endpoints, OrganError, OrganRequest};

/// Checks and completes organs against the real engines.
#[derive(Clone, Debug)]
pub struct Preparer {
    http: reqwest::Client,
    endpoints: Endpoints,
    embedded: Option<Embedded>,
}

impl Preparer {
    /// `http` should come from [`crate::http_client`] (bounded connect time).
    pub fn new(http: reqwest::Client, endpoints: Endpoints) -> Self {
        Preparer {
            http,
            endpoints,
            embedded: None,
        }
    }

    /// Local models in `embedded`'s library are prepared for the embedded engine instead of
    /// Ollama (the daemon always sets this; without it every local model is Ollama's).
    pub fn with_embedded(mut self, embedded: Embedded) -> Self {
        self.embedded = Some(embedded);
        self
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Her models folder and engine, when local models may run embedded.
    pub fn embedded(&self) -> Option<&Embedded> {
        self.embedded.as_ref()
    }

    /// Whether `organ` is a local model in her library (so runs embedded).
    pub async fn is_embedded(&self, organ: &Organ) -> bool {
        match &self.embedded {
            Some(embedded) if organ.provider.is_none() => {
                embedded.find(&organ.name).await.is_some()
            }
            _ => false,
        }
    }

    /// Turns what a person asked for into an organ that works: provider parsed, URL defaulted
    /// and trimmed, the model checked (and pulled, for the local engine).
    pub async fn prepare(&self, slot: OrganSlot, req: &OrganRequest) -> Result<Organ, OrganError> {
        let organ = slot.as_str();
        let provider = Provider::parse(req.provider.as_deref())
            .map_err(|message| OrganError::UnknownProvider { organ, message })?;
        let url = given(&req.url)
            .unwrap_or(self.endpoints.url_for(provider))
            .trim_end_matches('/')
            .to_string();
        let model = given(&req.model);
        let key = given(&req.api_key);
        let call = Call {
            organ,
            provider,
            url: &url,
            key,
        };
        let Some(p) = provider else {
            let name = self.prepare_local(slot, &call, model).await?;
            return Ok(Organ {
                name,
                provider: None,
                api_key: None,
                url,
            });
        };
        let model = model.ok_or(OrganError::ModelRequired { organ })?;
        let key = key.ok_or(OrganError::KeyRequired {
            organ,
            provider: p.as_str(),
        })?;
        if !providers::has_model(p, &call, &self.http, model).await? {
            return Err(OrganError::UnknownModel {
                organ,
                model: model.to_string(),
                provider: p.as_str(),
            });
        }
        Ok(Organ {
            name: providers::model_name(p, model).to_string(),
            provider: Some(p),
            api_key: Some(key.to_string()),
            url,
        })
    }

    /// A local model: from her library when it is there, else from Ollama. With a library,
    /// a model found in neither is one error naming both places.
    async fn prepare_local(
        &self,
        slot: OrganSlot,
        call: &Call<'_>,
        model: Option<&str>,
    ) -> Result<String, OrganError> {
        let (Some(embedded), Some(model)) = (&self.embedded, model) else {
            return ollama::prepare(call, &self.http, model).await;
        };
        if let Some(found) = embedded.find(model).await {
            embedded.prepare(slot, model, found).await?;
            return Ok(model.to_string());
        }
        ollama::prepare(call, &self.http, Some(model))
            .await
            .map_err(|e| match e {
                OrganError::Unreachable { reason, .. } | OrganError::PullFailed { reason, .. } => {
                    OrganError::NotFound {
                        organ: call.organ,
                        model: model.to_string(),
                        models: embedded.models_dir().display().to_string(),
                        url: call.url.to_string(),
                        reason,
                    }
                }
                other => other,
            })
    }

    /// Registers her Mind in the local engine as `eternego-<id>`, built from `base`, so her
    /// model has her own name there. Returns the organ she thinks with from now on. A model
    /// that runs embedded needs no registration: she thinks with it under its own name.
    pub async fn register_mind(&self, persona_id: Uuid, base: &Organ) -> Result<Organ, OrganError> {
        let organ = OrganSlot::Thinking.as_str();
        if base.provider.is_some() {
            return Err(OrganError::Unsupported {
                organ,
                provider: crate::wire::provider_name(base.provider),
                what: "register a local model",
            });
        }
        if self.is_embedded(base).await {
            return Ok(base.clone());
        }
        let url = base.url.trim_end_matches('/');
        let call = Call {
            organ,
            provider: None,
            url,
            key: None,
        };
        let name = format!("eternego-{persona_id}");
        ollama::register(&call, &self.http, &name, &base.name).await?;
        tracing::info!(model = %name, base = %base.name, "registered her Mind with the local engine");
        Ok(Organ {
            name,
            provider: None,
            api_key: None,
            url: url.to_string(),
        })
    }

    /// Removes her Mind's wrapper model. A model already gone counts as removed; a cloud or
    /// embedded Mind has none.
    pub async fn unregister_mind(&self, organ: &Organ) -> Result<(), OrganError> {
        if organ.provider.is_some() || self.is_embedded(organ).await {
            return Ok(());
        }
        let call = Call {
            organ: OrganSlot::Thinking.as_str(),
            provider: None,
            url: organ.url.trim_end_matches('/'),
            key: None,
        };
        ollama::delete(&call, &self.http, &organ.name).await
    }
}
