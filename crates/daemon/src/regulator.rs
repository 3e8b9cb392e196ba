//! Her identity engine as her mind asks for it: `mind::Identity` over the instances this
//! daemon hosts. Mind never learns how instances are stored; it only needs an instance of its
//! own, its contract, and somewhere to send what happened.

use std::sync::Arc;

use instances::{InstancesError, ObservationInput, Service};
use mind::{Identity, IdentityError, Observed, Pending};

/// The daemon's hosted instances, serving the personas it runs.
pub struct Hosted(pub Arc<Service>);

fn error(e: InstancesError) -> IdentityError {
    match e {
        InstancesError::NotFound(id) => IdentityError::Missing(id),
        other => IdentityError::Failed(other.to_string()),
    }
}

impl Identity for Hosted {
    fn create<'a>(&'a self, name: &'a str, description: &'a str) -> Pending<'a, String> {
        Box::pin(async move {
            let view = self
                .0
                .create(name, description, None)
                .await
                .map_err(error)?;
            Ok(view.id)
        })
    }

    fn contract<'a>(&'a self, instance: &'a str) -> Pending<'a, identity::Contract> {
        Box::pin(async move { self.0.contract(instance).await.map_err(error) })
    }

    fn observe<'a>(&'a self, instance: &'a str, batch: Vec<Observed>) -> Pending<'a, ()> {
        Box::pin(async move {
            let inputs = batch
                .into_iter()
                .map(|o| ObservationInput {
                    observation: o.observation,
                    context: o.context,
                    timestamp: Some(o.at),
                })
                .collect();
            self.0
                .observe_batch(instance, inputs)
                .await
                .map(drop)
                .map_err(error)
        })
    }
}
