//! Read-only views: the release catalog and the organization's
//! environments. Both are one read of the API into a state; [`View`] is
//! the Terraform data source around that read, written once.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tf_provider::schema::Schema;
use tf_provider::{DataSource, Diagnostics, DynamicDataSource};

use crate::client::Client;
use crate::provider::Shared;
use crate::resources::Meta;

mod environments;
mod releases;

use environments::EnvironmentsDataSource;
use releases::ReleasesDataSource;

/// Every data source, by its name in Terraform (after `fjord_`).
pub(crate) fn all(shared: &Shared) -> HashMap<String, Box<dyn DynamicDataSource>> {
    let sources: [(&str, Box<dyn DynamicDataSource>); 2] = [
        ("releases", Box::new(ReleasesDataSource::new(shared))),
        (
            "environments",
            Box::new(EnvironmentsDataSource::new(shared)),
        ),
    ];
    sources
        .into_iter()
        .map(|(name, source)| (name.to_owned(), source))
        .collect()
}

/// The state of a data source: its schema and how it is read. A data
/// source holds nothing but the provider's client (which [`View`] keeps),
/// so its state type stands for the whole data source.
pub(crate) trait ReadOnly:
    Serialize + DeserializeOwned + Send + Sync + Sized + 'static
{
    /// The data source's Terraform schema.
    fn schema() -> Schema;

    /// Fills in `config` from the API, or `None` with the reason in
    /// `diags`.
    fn read(
        client: &Client,
        diags: &mut Diagnostics,
        config: Self,
    ) -> impl Future<Output = Option<Self>> + Send;
}

/// The Terraform data source whose state is `S`, holding the provider's
/// client.
#[derive(Debug)]
pub(crate) struct View<S> {
    shared: Shared,
    kind: PhantomData<fn() -> S>,
}

impl<S: ReadOnly> View<S> {
    pub(crate) fn new(shared: &Shared) -> Self {
        Self {
            shared: shared.clone(),
            kind: PhantomData,
        }
    }
}

#[async_trait]
impl<S: ReadOnly> DataSource for View<S> {
    type State<'a> = S;
    type ProviderMetaState<'a> = Meta;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(S::schema())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let client = self.shared.client(diags)?;
        S::read(client, diags, config).await
    }
}
