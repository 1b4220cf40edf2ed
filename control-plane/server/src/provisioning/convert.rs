//! Between the API's types, the stored rows and the provisioner's types.

use fjord_api::{
    Checklist, ChecklistItem, EnvironmentNetwork, NetworkResources, NetworkSettings, NetworkSubnet,
    ProvisioningStep,
};
use fjord_provisioner::{Check, CheckStatus, Network, NetworkSpec, Ownership, VpcSpec};
use fjord_store::environment::EnvironmentRow;
use fjord_store::provisioning::{ChecklistRow, NetworkRow, StepRow};

use crate::error::AppError;

/// The default block of a VPC Fjord creates.
const DEFAULT_VPC_CIDR: &str = "10.64.0.0/16";

/// The stored settings of a network row.
pub(crate) fn settings_of(row: &NetworkRow) -> Result<NetworkSettings, AppError> {
    serde_json::from_value(row.settings.0.clone())
        .map_err(|error| AppError::Internal(anyhow::Error::new(error)))
}

/// The network of an environment nobody has set one for yet: it exists with
/// the environment, in state `unconfigured`, so a client reading it right
/// after creating the environment sees a state rather than a 404.
pub(crate) fn unconfigured_network(environment: &EnvironmentRow) -> EnvironmentNetwork {
    EnvironmentNetwork {
        environment_id: environment.environment_id,
        settings: None,
        state: UNCONFIGURED.to_owned(),
        message: None,
        operation_id: None,
        resources: None,
        steps: Vec::new(),
        revision: 0,
        updated_at: environment.created_at,
    }
}

/// The state of a network without settings.
pub(crate) const UNCONFIGURED: &str = "unconfigured";

/// What the provisioner is asked for.
pub(crate) fn spec(environment: &EnvironmentRow, settings: &NetworkSettings) -> NetworkSpec {
    let vpc = match &settings.vpc_id {
        Some(vpc_id) => VpcSpec::Adopt {
            vpc_id: vpc_id.clone(),
            subnet_ids: settings.subnet_ids.clone(),
        },
        None => VpcSpec::Create {
            cidr: settings
                .vpc_cidr
                .clone()
                .unwrap_or_else(|| DEFAULT_VPC_CIDR.to_owned()),
        },
    };
    NetworkSpec {
        environment_id: environment.environment_id,
        environment_name: environment.name.clone(),
        zone_count: u8::try_from(settings.zone_count).unwrap_or(0),
        broker_count: u16::try_from(settings.broker_count).unwrap_or(0),
        vpc,
    }
}

/// The settings a checklist uses when none were given: a new VPC over
/// three zones for three brokers.
pub(crate) fn default_settings() -> NetworkSettings {
    NetworkSettings {
        zone_count: 3,
        broker_count: 3,
        vpc_cidr: None,
        vpc_id: None,
        subnet_ids: Vec::new(),
    }
}

fn ownership(ownership: Ownership) -> String {
    ownership.tag_value().to_owned()
}

/// The API form of a finished run's network.
pub(crate) fn resources(network: &Network) -> Option<NetworkResources> {
    let vpc = network.vpc.as_ref()?;
    Some(NetworkResources {
        vpc_id: vpc.id.clone(),
        vpc_ownership: ownership(vpc.ownership),
        vpc_cidr: network.vpc_cidr.clone().unwrap_or_default(),
        subnets: network
            .subnets
            .iter()
            .map(|subnet| NetworkSubnet {
                subnet_id: subnet.id.clone(),
                zone: subnet.zone.clone(),
                cidr: subnet.cidr.clone(),
                ownership: ownership(subnet.ownership),
            })
            .collect(),
        security_group_id: network.security_group.as_ref()?.id.clone(),
    })
}

pub(crate) fn network_to_api(
    row: NetworkRow,
    steps: Vec<StepRow>,
) -> Result<EnvironmentNetwork, AppError> {
    let settings = settings_of(&row)?;
    let resources = row
        .resources
        .map(|json| serde_json::from_value(json.0))
        .transpose()
        .map_err(|error| AppError::Internal(anyhow::Error::new(error)))?;
    Ok(EnvironmentNetwork {
        environment_id: row.environment_id,
        settings: Some(settings),
        state: row.state,
        message: row.message,
        operation_id: row.job_id,
        resources,
        steps: steps
            .into_iter()
            .map(|step| ProvisioningStep {
                step: step.step,
                outcome: step.outcome,
                message: step.message,
                aws_code: step.aws_code,
                created_at: step.created_at,
            })
            .collect(),
        revision: row.revision,
        updated_at: row.updated_at,
    })
}

pub(crate) fn check_to_api(check: &Check) -> ChecklistItem {
    ChecklistItem {
        name: check.name.clone(),
        status: match check.status {
            CheckStatus::Pending => "pending",
            CheckStatus::Ok => "ok",
            CheckStatus::Failed => "failed",
        }
        .to_owned(),
        message: check.message.clone(),
        aws_code: check.aws_code.clone(),
    }
}

pub(crate) fn checklist_to_api(row: ChecklistRow) -> Result<Checklist, AppError> {
    let checks = serde_json::from_value(row.checks.0)
        .map_err(|error| AppError::Internal(anyhow::Error::new(error)))?;
    Ok(Checklist {
        environment_id: row.environment_id,
        state: row.state,
        operation_id: row.job_id,
        checks,
        updated_at: row.updated_at,
    })
}
