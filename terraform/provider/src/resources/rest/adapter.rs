//! [`Rest`]: a [`RestResource`] as a Terraform resource. Each step below is
//! the same for every object the API keeps; the resource's own part is
//! called where it differs.

use std::marker::PhantomData;

use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::{Apply, RestResource};
use crate::diagnostic::error;
use crate::plan::{idempotency_key, known};
use crate::provider::Shared;
use crate::resources::crud::{self, checked};
use crate::resources::{Meta, Private};

/// The Terraform resource whose state is `R`, holding the provider's
/// client.
#[derive(Debug)]
pub(crate) struct Rest<R> {
    shared: Shared,
    kind: PhantomData<fn() -> R>,
}

impl<R: RestResource> Rest<R> {
    pub(crate) fn new(shared: &Shared) -> Self {
        Self {
            shared: shared.clone(),
            kind: PhantomData,
        }
    }

    /// What an apply step needs, or `None` (with an error) if the provider
    /// is not configured.
    fn apply<'a>(
        &'a self,
        diags: &'a mut Diagnostics,
        private: Option<Private>,
    ) -> Option<Apply<'a, R>> {
        let client = self.shared.client(diags)?;
        Some(Apply::new(client, diags, private))
    }
}

#[async_trait]
impl<R: RestResource> Resource for Rest<R> {
    type State<'a> = R;
    type PrivateState<'a> = Option<Private>;
    type ProviderMetaState<'a> = Meta;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(R::schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        checked(diags, config.check(), R::KIND.attributes)
    }

    /// Reads the object into the state; `None` when it is gone, so
    /// Terraform plans to create it again.
    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        mut state: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let client = self.shared.client(diags)?;
        let id = known(state.id())?.to_owned();
        let path = format!("{}/{id}", R::KIND.path);
        let what = format!("cannot read the {}", R::KIND.noun);
        let attributes = R::KIND.attributes;
        let to_state = |object| R::read(object, state);
        crud::read(client, diags, &path, &what, attributes, private, to_state).await
    }

    /// Plans the id unknown and a fresh `Idempotency-Key`, sent with every
    /// attempt of the create.
    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        checked(diags, proposed.check(), R::KIND.attributes)?;
        *proposed.id() = Value::Unknown;
        proposed.plan_create();
        Some((proposed, Some(Private::for_create(idempotency_key()))))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        mut proposed: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        checked(diags, proposed.check(), R::KIND.attributes)?;
        let mut replace = Vec::new();
        R::replaced(&prior, &proposed, &mut replace);
        R::plan_update(diags, &prior, &mut proposed, &replace)?;
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        prior.plan_destroy(diags)?;
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        R::create(self.apply(diags, private)?, planned).await
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        R::update(self.apply(diags, private)?, prior, planned).await
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        R::destroy(self.apply(diags, private)?, prior).await
    }

    /// Imports by reading a state that holds only the id.
    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut state = R::default();
        *state.id() = Value::Value(id);
        let found = self.read(diags, state, None, Value::Null).await;
        if found.is_none() && diags.errors.is_empty() {
            error(diags, R::missing(), "", None);
        }
        found
    }
}
