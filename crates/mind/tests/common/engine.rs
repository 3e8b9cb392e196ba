//! Her identity engine for tests and benches: the pure `identity` crate over instances kept in
//! memory, so mind is tested against the real engine without the daemon's hosting layer.

use std::collections::BTreeMap;
use std::sync::Mutex;

use identity::{InitialConfig, State};
use mind::{Identity, IdentityError, Observed, Pending};

#[derive(Default)]
pub struct Engine {
    instances: Mutex<BTreeMap<String, State>>,
}

impl Engine {
    fn with<R>(&self, instance: &str, f: impl FnOnce(&mut State) -> R) -> Result<R, IdentityError> {
        let mut all = self.instances.lock().unwrap();
        let state = all
            .get_mut(instance)
            .ok_or_else(|| IdentityError::Missing(instance.to_string()))?;
        Ok(f(state))
    }

    /// Deletes an instance, as `DELETE /instances/{id}` does.
    pub fn delete(&self, instance: &str) -> bool {
        self.instances.lock().unwrap().remove(instance).is_some()
    }

    pub fn exists(&self, instance: &str) -> bool {
        self.instances.lock().unwrap().contains_key(instance)
    }
}

impl Identity for Engine {
    fn create<'a>(&'a self, _name: &'a str, _description: &'a str) -> Pending<'a, String> {
        Box::pin(async move {
            let id = uuid::Uuid::new_v4().to_string();
            self.instances
                .lock()
                .unwrap()
                .insert(id.clone(), State::new(&InitialConfig::default()));
            Ok(id)
        })
    }

    fn contract<'a>(&'a self, instance: &'a str) -> Pending<'a, identity::Contract> {
        Box::pin(async move { self.with(instance, |s| identity::contract(s)) })
    }

    fn observe<'a>(&'a self, instance: &'a str, batch: Vec<Observed>) -> Pending<'a, ()> {
        Box::pin(async move {
            self.with(instance, |s| {
                for o in &batch {
                    *s = identity::step(s, &o.observation);
                }
            })
        })
    }
}
