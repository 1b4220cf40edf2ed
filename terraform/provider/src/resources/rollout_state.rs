//! The state of a `fjord_rollout`, its checks, and the wait for a rollout
//! to succeed.

use std::time::Duration;

use fjord_api::{Rollout, RolloutCreate, validate};
use serde::{Deserialize, Serialize};
use tf_provider::value::Value;

use crate::client::{Answer, Client};
use crate::error::{Error, Result};
use crate::plan::{Progress, int32, known, wait_until};
use crate::timeouts::{self, Phase, Timeouts};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RolloutState {
    #[serde(default)]
    pub(crate) id: Value<String>,
    #[serde(default)]
    pub(crate) target_version: Value<String>,
    /// Elements may be unknown while validating (ids of clusters not yet
    /// created), so every level is a `Value`.
    #[serde(default)]
    pub(crate) waves: Value<Vec<Value<Vec<Value<String>>>>>,
    #[serde(default)]
    pub(crate) max_in_flight: Value<i64>,
    #[serde(default)]
    pub(crate) paused: Value<bool>,
    #[serde(default)]
    pub(crate) state: Value<String>,
    #[serde(default)]
    pub(crate) halted_reason: Value<String>,
    #[serde(default)]
    pub(crate) timeouts: Value<Timeouts>,
}

impl RolloutState {
    pub(super) fn from_api(rollout: Rollout, local: &RolloutState) -> Self {
        let mut waves: Vec<Vec<String>> = Vec::new();
        for progress in &rollout.clusters {
            let wave = usize::try_from(progress.wave).unwrap_or_default();
            if waves.len() <= wave {
                waves.resize_with(wave + 1, Vec::new);
            }
            waves[wave].push(progress.cluster_id.to_string());
        }
        // The API lists a wave's clusters by id; keep the configuration's
        // order when the wave holds the same clusters, so it is no diff.
        if let Some(local_waves) = known_waves(&local.waves) {
            for (wave, local_wave) in waves.iter_mut().zip(&local_waves) {
                let mut sorted = local_wave.clone();
                sorted.sort();
                let mut ours = wave.clone();
                ours.sort();
                if sorted == ours {
                    wave.clone_from(local_wave);
                }
            }
        }
        Self {
            id: Value::Value(rollout.rollout_id.to_string()),
            target_version: Value::Value(rollout.target_version),
            waves: Value::Value(
                waves
                    .into_iter()
                    .map(|wave| Value::Value(wave.into_iter().map(Value::Value).collect()))
                    .collect(),
            ),
            max_in_flight: Value::Value(rollout.max_in_flight.into()),
            paused: Value::Value(rollout.state == "paused"),
            halted_reason: rollout.halted_reason.map_or(Value::Null, Value::Value),
            state: Value::Value(rollout.state),
            timeouts: local.timeouts.clone(),
        }
    }

    pub(super) fn create_body(&self) -> std::result::Result<RolloutCreate, String> {
        let Some(waves) = known_waves(&self.waves) else {
            return Err("waves must be known before the rollout is created".to_owned());
        };
        let waves = waves
            .iter()
            .map(|wave| {
                wave.iter()
                    .map(|id| {
                        id.parse()
                            .map_err(|_| format!("waves holds {id:?}, which is not a cluster id"))
                    })
                    .collect()
            })
            .collect::<std::result::Result<_, String>>()?;
        let body = RolloutCreate {
            target_version: known(&self.target_version).unwrap_or_default().to_owned(),
            waves,
            max_in_flight: int32("max_in_flight", &self.max_in_flight)?,
        };
        body.validate()?;
        Ok(body)
    }
}

pub(super) fn check(config: &RolloutState) -> std::result::Result<(), String> {
    if let Some(version) = known(&config.target_version) {
        validate::version("target_version", version)?;
    }
    if let Value::Value(max) = config.max_in_flight {
        validate::range("max_in_flight", max, 1, 100)?;
    }
    if let Value::Value(waves) = &config.waves {
        if waves.is_empty() || waves.len() > 20 {
            return Err(format!(
                "waves must hold 1 to 20 waves, got {}",
                waves.len()
            ));
        }
        if waves
            .iter()
            .any(|wave| matches!(wave, Value::Value(ids) if ids.is_empty()))
        {
            return Err("waves must not hold an empty wave".to_owned());
        }
    }
    timeouts::of(&config.timeouts, Phase::Create).map_err(|error| error.to_string())?;
    Ok(())
}

/// The waves when every id in them is known.
fn known_waves(waves: &Value<Vec<Value<Vec<Value<String>>>>>) -> Option<Vec<Vec<String>>> {
    let Value::Value(waves) = waves else {
        return None;
    };
    waves
        .iter()
        .map(|wave| match wave {
            Value::Value(ids) => ids.iter().map(|id| known(id).map(str::to_owned)).collect(),
            _ => None,
        })
        .collect()
}

/// Waits until the rollout has succeeded; a halt ends the wait with its
/// reason, a pause with a note that it will not finish by itself.
pub(super) async fn wait_for_rollout(
    client: &Client,
    id: &str,
    timeout: Duration,
) -> Result<Answer<Rollout>> {
    let path = format!("/v1/rollouts/{id}");
    let what = format!("rollout {id} to succeed");
    wait_until(&what, timeout, client.poll_interval, || async {
        let answer = client.get::<Rollout>(&path).await?;
        let rollout = &answer.body;
        match rollout.state.as_str() {
            "succeeded" => Ok(Progress::Done(answer)),
            "halted" | "paused" => Err(Error::Failed {
                what: format!("rollout {id}"),
                reason: format!(
                    "it is {}: {}",
                    rollout.state,
                    rollout
                        .halted_reason
                        .as_deref()
                        .unwrap_or("paused outside Terraform")
                ),
            }),
            _ => {
                let done = rollout
                    .clusters
                    .iter()
                    .filter(|c| c.state == "succeeded")
                    .count();
                Ok(Progress::Pending(format!(
                    "{}, {done} of {} clusters done",
                    rollout.state,
                    rollout.clusters.len()
                )))
            }
        }
    })
    .await
}
