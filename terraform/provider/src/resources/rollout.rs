//! `fjord_rollout`: `/v1/rollouts`. A create waits until the rollout has
//! succeeded (every wave done); `paused` pauses and resumes it. The API
//! keeps rollouts as history and has no delete: destroying one pauses it
//! if it still runs and forgets it.

use async_trait::async_trait;
use fjord_api::Rollout;
use http::Method;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics, Resource};

use super::crud::{self, checked, stored};
use super::rollout_state::{RolloutState, check, wait_for_rollout};
use super::{Meta, Private};
use crate::client::{Answer, Client, Headers};
use crate::diagnostic::add_error;
use crate::error::Result;
use crate::plan::{differs, idempotency_key, known, replace_if};
use crate::provider::Shared;
use crate::schema::{computed, optional_computed, required, schema};
use crate::timeouts::{self, Phase};

const ATTRIBUTES: &[&str] = &[
    "target_version",
    "waves",
    "max_in_flight",
    "paused",
    "timeouts",
];

#[derive(Debug)]
pub(crate) struct RolloutResource {
    shared: Shared,
}

impl RolloutResource {
    pub(crate) fn new(shared: &Shared) -> Self {
        Self {
            shared: shared.clone(),
        }
    }

    /// POSTs `pause` or `resume`.
    async fn transition(
        &self,
        client: &Client,
        id: &str,
        action: &str,
        etag: Option<&str>,
    ) -> Result<Answer<Rollout>> {
        let headers = Headers {
            idempotency_key: None,
            if_match: etag,
        };
        client
            .send::<(), Rollout>(
                Method::POST,
                &format!("/v1/rollouts/{id}/{action}"),
                None,
                headers,
            )
            .await
    }
}

#[async_trait]
impl Resource for RolloutResource {
    type State<'a> = RolloutState;
    type PrivateState<'a> = Option<Private>;
    type ProviderMetaState<'a> = Meta;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Moves clusters to one release, wave after wave. Creating it waits until every cluster has rolled (the rollout `succeeded`); a halt fails the apply with its reason. Destroying it pauses it if it still runs; the API keeps rollouts as history.",
            vec![
                ("id", computed(AttributeType::String, "The rollout's id.")),
                (
                    "target_version",
                    required(
                        AttributeType::String,
                        "A release version. Changing it starts a new rollout.",
                    ),
                ),
                (
                    "waves",
                    required(
                        AttributeType::List(Box::new(AttributeType::List(Box::new(
                            AttributeType::String,
                        )))),
                        "Cluster ids per wave, canaries first: 1 to 20 waves, each cluster once. Changing it starts a new rollout.",
                    ),
                ),
                (
                    "max_in_flight",
                    required(
                        AttributeType::Number,
                        "1 to 100 clusters changing at once. Changing it starts a new rollout.",
                    ),
                ),
                (
                    "paused",
                    optional_computed(
                        AttributeType::Bool,
                        "Pause (true) or resume (false) the rollout. Default false.",
                    ),
                ),
                (
                    "state",
                    computed(
                        AttributeType::String,
                        "`running`, `paused`, `halted` or `succeeded`.",
                    ),
                ),
                (
                    "halted_reason",
                    computed(AttributeType::String, "Why the rollout halted."),
                ),
                ("timeouts", timeouts::attribute()),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        checked(diags, check(&config), ATTRIBUTES)
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let client = self.shared.client(diags)?;
        let id = known(&state.id)?.to_owned();
        let path = format!("/v1/rollouts/{id}");
        crud::read::<Rollout, _>(
            client,
            diags,
            &path,
            "cannot read the rollout",
            ATTRIBUTES,
            private,
            |rollout| Some(RolloutState::from_api(rollout, &state)),
        )
        .await
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        checked(diags, check(&proposed), ATTRIBUTES)?;
        proposed.id = Value::Unknown;
        proposed.state = Value::Unknown;
        proposed.halted_reason = Value::Unknown;
        if proposed.paused.is_null() {
            proposed.paused = Value::Value(false);
        }
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
        checked(diags, check(&proposed), ATTRIBUTES)?;
        let mut replace = Vec::new();
        replace_if(
            &mut replace,
            "target_version",
            &prior.target_version,
            &proposed.target_version,
        );
        replace_if(&mut replace, "waves", &prior.waves, &proposed.waves);
        replace_if(
            &mut replace,
            "max_in_flight",
            &prior.max_in_flight,
            &proposed.max_in_flight,
        );
        if differs(&prior.paused, &proposed.paused) {
            proposed.state = Value::Unknown;
            proposed.halted_reason = Value::Unknown;
        }
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
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
        let client = self.shared.client(diags)?;
        let body = checked(diags, planned.create_body(), ATTRIBUTES)?;
        let created = crud::create::<_, Rollout>(
            client,
            diags,
            "/v1/rollouts",
            &body,
            &private,
            "cannot start the rollout",
            ATTRIBUTES,
        )
        .await?;
        let id = created.body.rollout_id.to_string();
        let mut answer = created;
        let outcome = if matches!(planned.paused, Value::Value(true)) {
            let etag = answer.etag.clone();
            self.transition(client, &id, "pause", etag.as_deref()).await
        } else {
            let timeout =
                timeouts::of(&planned.timeouts, Phase::Create).unwrap_or(timeouts::DEFAULT);
            wait_for_rollout(client, &id, timeout).await
        };
        match outcome {
            Ok(latest) => answer = latest,
            // The rollout exists: keep it in the state (tainted) with the error.
            Err(error) => add_error(diags, "the rollout did not succeed", &error, ATTRIBUTES),
        }
        Some(stored(private, answer, |rollout| {
            RolloutState::from_api(rollout, &planned)
        }))
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
        let client = self.shared.client(diags)?;
        if !differs(&prior.paused, &planned.paused) {
            let mut state = planned;
            state.state = prior.state;
            state.halted_reason = prior.halted_reason;
            return Some((state, private));
        }
        let id = known(&prior.id)?.to_owned();
        let etag = private.as_ref().and_then(|p| p.etag.clone());
        let pause = matches!(planned.paused, Value::Value(true));
        let action = if pause { "pause" } else { "resume" };
        let mut answer = match self.transition(client, &id, action, etag.as_deref()).await {
            Ok(answer) => answer,
            Err(error) => {
                add_error(
                    diags,
                    &format!("cannot {action} the rollout"),
                    &error,
                    ATTRIBUTES,
                );
                return None;
            }
        };
        if !pause {
            let timeout =
                timeouts::of(&planned.timeouts, Phase::Update).unwrap_or(timeouts::DEFAULT);
            match wait_for_rollout(client, &id, timeout).await {
                Ok(latest) => answer = latest,
                Err(error) => add_error(diags, "the rollout did not succeed", &error, ATTRIBUTES),
            }
        }
        Some(stored(private, answer, |rollout| {
            RolloutState::from_api(rollout, &planned)
        }))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let client = self.shared.client(diags)?;
        let id = known(&prior.id)?.to_owned();
        let current = match client.find::<Rollout>(&format!("/v1/rollouts/{id}")).await {
            Ok(Some(answer)) => answer,
            Ok(None) => return Some(()),
            Err(error) => {
                add_error(diags, "cannot read the rollout", &error, ATTRIBUTES);
                return None;
            }
        };
        if current.body.state == "running"
            && let Err(error) = self
                .transition(client, &id, "pause", current.etag.as_deref())
                .await
        {
            add_error(diags, "cannot pause the rollout", &error, ATTRIBUTES);
            return None;
        }
        crate::diagnostic::warning(
            diags,
            "the rollout stays in the API's history",
            format!(
                "rollout {id} is {} and no longer managed by Terraform; rollouts cannot be deleted",
                current.body.state
            ),
        );
        Some(())
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let state = RolloutState {
            id: Value::Value(id),
            ..Default::default()
        };
        crud::import(self, diags, state, "no such rollout").await
    }
}
