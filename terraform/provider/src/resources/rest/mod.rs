//! What every resource is: one kind of object that the REST API keeps at
//! `PATH/{id}`. Validating, reading, planning, deleting and importing such
//! an object take the same steps whatever it is, so they are written once
//! ([`Rest`], the Terraform resource); a resource says only what differs,
//! in the [`RestResource`] impl of its state: where the API keeps it, its
//! schema and checks, how an answer becomes its state, what forces a
//! replacement, and how it is created, updated and destroyed.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use super::Private;

mod adapter;
mod apply;

pub(crate) use adapter::Rest;
pub(crate) use apply::Apply;

/// What a create or update leaves: the state and the private state to keep
/// beside it, or `None` when it failed (its diagnostics say why).
pub(crate) type Stored<S> = Option<(S, Option<Private>)>;

/// Where the API keeps a resource's objects and how messages name them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    /// The collection, e.g. `/v1/topics`: creates are POSTed there and each
    /// object lives at `path/{id}`.
    pub(crate) path: &'static str,
    /// What an object is called in messages ("cannot read the topic").
    pub(crate) noun: &'static str,
    /// The attributes a diagnostic may point at: those the configuration
    /// sets, which the API's messages name first.
    pub(crate) attributes: &'static [&'static str],
}

impl Kind {
    pub(crate) const fn new(
        path: &'static str,
        noun: &'static str,
        attributes: &'static [&'static str],
    ) -> Self {
        Self {
            path,
            noun,
            attributes,
        }
    }
}

/// The Terraform state of one kind of object in the REST API, and what
/// its resource does beyond the steps all of them share. A resource holds
/// nothing but the provider's client (which [`Rest`] keeps), so its state
/// type stands for the whole resource.
pub(crate) trait RestResource:
    Serialize + DeserializeOwned + Default + Send + Sync + Sized + 'static
{
    /// What the API answers when one object is read.
    type Api: DeserializeOwned + Send;

    /// Where the objects are and what they are called.
    const KIND: Kind;

    /// The resource's Terraform schema.
    fn schema() -> Schema;

    /// The `id` attribute: read to find the object, planned unknown before
    /// a create and set by an import.
    fn id(&mut self) -> &mut Value<String>;

    /// Checks what is known of a configuration the way the API will, so a
    /// mistake shows when planning rather than halfway through an apply.
    /// The message names the attribute first, like the API's.
    fn check(&self) -> Result<(), String>;

    /// The state of `object` as the API holds it, keeping from `prior` what
    /// the API does not (secrets only a create returned, provider-side
    /// settings); `None` when the object counts as gone.
    fn read(object: Self::Api, prior: Self) -> Option<Self>;

    /// Plans a create beyond the unknown id: the other computed attributes
    /// unknown, omitted optional ones at their server default.
    fn plan_create(&mut self);

    /// Adds to `replace` each attribute that the API cannot change in place
    /// and that the plan changes.
    fn replaced(prior: &Self, proposed: &Self, replace: &mut Vec<AttributePath>);

    /// The resource's own rules for an update's plan, once the
    /// configuration is checked and `replace` known: refusing a change, or
    /// planning unknown what the change will move. None by default.
    fn plan_update(
        _diags: &mut Diagnostics,
        _prior: &Self,
        _proposed: &mut Self,
        _replace: &[AttributePath],
    ) -> Option<()> {
        Some(())
    }

    /// Whether the object may be destroyed; always by default.
    fn plan_destroy(&self, _diags: &mut Diagnostics) -> Option<()> {
        Some(())
    }

    /// Creates the object Terraform planned.
    fn create(apply: Apply<'_, Self>, planned: Self) -> impl Future<Output = Stored<Self>> + Send;

    /// Changes the object from `prior` to `planned` in place.
    fn update(
        apply: Apply<'_, Self>,
        prior: Self,
        planned: Self,
    ) -> impl Future<Output = Stored<Self>> + Send;

    /// Removes the object; by default a conditional DELETE.
    fn destroy(apply: Apply<'_, Self>, prior: Self) -> impl Future<Output = Option<()>> + Send {
        async move {
            let mut prior = prior;
            apply.delete(prior.id()).await
        }
    }

    /// The error when an import finds nothing.
    fn missing() -> String {
        format!("no such {}", Self::KIND.noun)
    }
}
