//! `fjord_rollout`: `/v1/rollouts`. A create waits until the rollout has
//! succeeded (every wave done); `paused` pauses and resumes it. The API
//! keeps rollouts as history and has no delete: destroying one pauses it
//! if it still runs and forgets it.

use fjord_api::Rollout;
use http::Method;
use tf_provider::schema::{AttributeType, Schema};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use super::rest::{Apply, Kind, Rest, RestResource, Stored};
use super::rollout_state::{RolloutState, check, wait_for_rollout};
use crate::client::{Answer, Client, Headers};
use crate::diagnostic::warning;
use crate::error::Result;
use crate::plan::{differs, known, replace_if};
use crate::schema::{computed, optional_computed, required, schema};
use crate::timeouts::{self, Phase};

const ATTRIBUTES: &[&str] = &[
    "target_version",
    "waves",
    "max_in_flight",
    "paused",
    "timeouts",
];

/// POSTs `pause` or `resume`.
async fn transition(
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

/// The `fjord_rollout` resource.
pub(crate) type RolloutResource = Rest<RolloutState>;

impl RestResource for RolloutState {
    type Api = Rollout;
    const KIND: Kind = Kind::new("/v1/rollouts", "rollout", ATTRIBUTES);

    fn read(rollout: Rollout, prior: Self) -> Option<Self> {
        Some(Self::from_api(rollout, &prior))
    }

    fn check(&self) -> std::result::Result<(), String> {
        check(self)
    }

    fn plan_create(&mut self) {
        self.state = Value::Unknown;
        self.halted_reason = Value::Unknown;
        if self.paused.is_null() {
            self.paused = Value::Value(false);
        }
    }

    fn replaced(prior: &Self, proposed: &Self, replace: &mut Vec<AttributePath>) {
        replace_if(
            replace,
            "target_version",
            &prior.target_version,
            &proposed.target_version,
        );
        replace_if(replace, "waves", &prior.waves, &proposed.waves);
        replace_if(
            replace,
            "max_in_flight",
            &prior.max_in_flight,
            &proposed.max_in_flight,
        );
    }

    /// Pausing or resuming moves the rollout's state.
    fn plan_update(
        _diags: &mut Diagnostics,
        prior: &Self,
        proposed: &mut Self,
        _replace: &[AttributePath],
    ) -> Option<()> {
        if differs(&prior.paused, &proposed.paused) {
            proposed.state = Value::Unknown;
            proposed.halted_reason = Value::Unknown;
        }
        Some(())
    }

    fn id(&mut self) -> &mut Value<String> {
        &mut self.id
    }

    async fn create(mut apply: Apply<'_, Self>, planned: Self) -> Stored<Self> {
        let body = apply.checked(planned.create_body())?;
        let created = apply
            .create_as::<_, Rollout>("cannot start the rollout", &body)
            .await?;
        let id = created.body.rollout_id.to_string();
        let mut answer = created;
        let outcome = if matches!(planned.paused, Value::Value(true)) {
            let etag = answer.etag.clone();
            transition(apply.client, &id, "pause", etag.as_deref()).await
        } else {
            let timeout =
                timeouts::of(&planned.timeouts, Phase::Create).unwrap_or(timeouts::DEFAULT);
            wait_for_rollout(apply.client, &id, timeout).await
        };
        match outcome {
            Ok(latest) => answer = latest,
            // The rollout exists: keep it in the state (tainted) with the error.
            Err(error) => apply.error("the rollout did not succeed", &error),
        }
        Some(apply.stored(answer, |rollout| Self::from_api(rollout, &planned)))
    }

    /// Only `paused` changes in place: pause, or resume and wait until the
    /// rollout has succeeded.
    async fn update(mut apply: Apply<'_, Self>, prior: Self, planned: Self) -> Stored<Self> {
        if !differs(&prior.paused, &planned.paused) {
            let mut state = planned;
            state.state = prior.state;
            state.halted_reason = prior.halted_reason;
            return Some((state, apply.private));
        }
        let id = known(&prior.id)?.to_owned();
        let etag = apply.private.as_ref().and_then(|p| p.etag.clone());
        let pause = matches!(planned.paused, Value::Value(true));
        let action = if pause { "pause" } else { "resume" };
        let mut answer = match transition(apply.client, &id, action, etag.as_deref()).await {
            Ok(answer) => answer,
            Err(error) => {
                apply.error(&format!("cannot {action} the rollout"), &error);
                return None;
            }
        };
        if !pause {
            let timeout =
                timeouts::of(&planned.timeouts, Phase::Update).unwrap_or(timeouts::DEFAULT);
            match wait_for_rollout(apply.client, &id, timeout).await {
                Ok(latest) => answer = latest,
                Err(error) => apply.error("the rollout did not succeed", &error),
            }
        }
        Some(apply.stored(answer, |rollout| Self::from_api(rollout, &planned)))
    }

    /// The API keeps rollouts as history: pause a running one and forget it.
    async fn destroy(mut apply: Apply<'_, Self>, prior: Self) -> Option<()> {
        let id = known(&prior.id)?.to_owned();
        let current = match apply
            .client
            .find::<Rollout>(&format!("/v1/rollouts/{id}"))
            .await
        {
            Ok(Some(answer)) => answer,
            Ok(None) => return Some(()),
            Err(error) => {
                apply.error("cannot read the rollout", &error);
                return None;
            }
        };
        if current.body.state == "running"
            && let Err(error) =
                transition(apply.client, &id, "pause", current.etag.as_deref()).await
        {
            apply.error("cannot pause the rollout", &error);
            return None;
        }
        warning(
            apply.diags,
            "the rollout stays in the API's history",
            format!(
                "rollout {id} is {} and no longer managed by Terraform; rollouts cannot be deleted",
                current.body.state
            ),
        );
        Some(())
    }

    fn schema() -> Schema {
        schema(
            "Moves clusters to one release, wave after wave. Creating it waits until every cluster has rolled (the rollout `succeeded`); a halt fails the apply with its reason. Destroying it pauses it if it still runs; the API keeps rollouts as history.",
            vec![
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
                ("id", computed(AttributeType::String, "The rollout's id.")),
            ],
        )
    }
}
