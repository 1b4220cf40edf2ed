//! Access to a customer's account: STS `AssumeRole` into the cloud
//! account's role with the external id the control plane generated, for a
//! short session that is re-assumed before it runs out. Credentials live in
//! memory for one job run; nothing long-lived of the customer's is kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use uuid::Uuid;

use crate::error::{AwsError, ErrorClass, Result};
use crate::retry::RetryPolicy;

/// The shortest session AWS grants; a job asks for no more.
pub const SESSION_DURATION: Duration = Duration::from_secs(15 * 60);
/// A session is re-assumed when less than this is left of it.
pub const SESSION_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Where AWS is and who the control plane is there.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// An endpoint for every AWS call (a local `moto_server`); `None` is
    /// AWS itself.
    pub endpoint_url: Option<String>,
    /// The control plane's own identity, the principal the customers'
    /// roles trust. Static: the SDK never probes an instance metadata
    /// service.
    pub credentials: Credentials,
    /// Plays the customers' trust policies where the endpoint cannot (moto);
    /// `None` against AWS.
    pub trust_emulation: Option<TrustEmulation>,
    /// How transient errors are retried within a step.
    pub retry: RetryPolicy,
}

impl CloudConfig {
    /// A config for a local `moto_server` at `endpoint_url`, with dummy
    /// credentials and trust policies emulated.
    pub fn moto(endpoint_url: impl Into<String>, trust_emulation: TrustEmulation) -> Self {
        Self {
            endpoint_url: Some(endpoint_url.into()),
            credentials: Credentials::new("testing", "testing", None, None, "fjord-static"),
            trust_emulation: Some(trust_emulation),
            retry: RetryPolicy::default(),
        }
    }
}

/// The customers' trust policies, played in front of an emulator that does
/// not evaluate them (moto accepts every `AssumeRole`). A role trusts the
/// control plane only with the external id recorded for it here; a role
/// with none recorded trusts nobody, unless `learn` is on (the local dev
/// stack), where the first external id seen for a role is recorded, as a
/// customer who copies the id into their trust policy would.
#[derive(Debug, Clone, Default)]
pub struct TrustEmulation {
    trusted: Arc<Mutex<HashMap<String, String>>>,
    learn: bool,
}

impl TrustEmulation {
    /// Emulation that trusts only what [`Self::trust`] recorded.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Emulation that records the first external id seen for each role.
    pub fn learning() -> Self {
        Self {
            trusted: Arc::default(),
            learn: true,
        }
    }

    /// Records that `role_arn`'s trust policy requires `external_id`.
    pub fn trust(&self, role_arn: &str, external_id: &str) {
        self.lock()
            .insert(role_arn.to_owned(), external_id.to_owned());
    }

    /// Forgets a role: it then refuses everyone (as a role whose trust
    /// policy was removed).
    pub fn distrust(&self, role_arn: &str) {
        self.lock().remove(role_arn);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A poisoned map is still a consistent map of strings.
        self.trusted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the role's emulated trust policy lets this call through.
    fn allows(&self, role_arn: &str, external_id: Option<&str>) -> bool {
        let mut trusted = self.lock();
        match (trusted.get(role_arn), external_id) {
            (Some(expected), Some(given)) => expected == given,
            (None, Some(given)) if self.learn => {
                trusted.insert(role_arn.to_owned(), given.to_owned());
                true
            }
            _ => false,
        }
    }
}

/// Whose role a job assumes, and for which job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTarget {
    pub organization_id: Uuid,
    pub job_id: Uuid,
    pub role_arn: String,
    pub external_id: String,
    /// The region of every EC2 call.
    pub region: String,
}

impl RoleTarget {
    /// `fjord-<organization id>-<last 25 hex digits of the job id>`: 64
    /// characters, the most AWS allows, naming the organization and the job
    /// in the customer's CloudTrail.
    pub fn session_name(&self) -> String {
        let job = self.job_id.simple().to_string();
        let name = format!(
            "fjord-{}-{}",
            self.organization_id.simple(),
            &job[job.len() - 25..]
        );
        assert!(
            name.len() <= 64,
            "a role session name has at most 64 characters"
        );
        name
    }
}

/// Credentials of one assumed-role session.
#[derive(Debug, Clone)]
pub struct Session {
    pub credentials: Credentials,
    pub expires_at: SystemTime,
}

/// A job's access to one customer account.
#[derive(Debug)]
pub struct Access {
    config: CloudConfig,
    target: RoleTarget,
    current: Option<(aws_sdk_ec2::Client, SystemTime)>,
    assumed: u32,
}

impl Access {
    pub fn new(config: CloudConfig, target: RoleTarget) -> Self {
        Self {
            config,
            target,
            current: None,
            assumed: 0,
        }
    }

    pub fn target(&self) -> &RoleTarget {
        &self.target
    }

    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    /// How many sessions this access has assumed so far.
    pub fn sessions_assumed(&self) -> u32 {
        self.assumed
    }

    /// An EC2 client in the customer's account, re-assuming the role when
    /// the session has less than [`SESSION_REFRESH_MARGIN`] left.
    pub async fn ec2(&mut self) -> Result<aws_sdk_ec2::Client> {
        if let Some((client, expires_at)) = &self.current
            && SystemTime::now() + SESSION_REFRESH_MARGIN < *expires_at
        {
            return Ok(client.clone());
        }
        let session = self.assume(Some(&self.target.external_id.clone())).await?;
        self.assumed += 1;
        let client = ec2_client(&self.config, &self.target.region, session.credentials);
        self.current = Some((client.clone(), session.expires_at));
        Ok(client)
    }

    /// Assumes the role, with the given external id or none (the checklist
    /// checks that the role refuses a call without it).
    pub async fn assume(&self, external_id: Option<&str>) -> Result<Session> {
        const OPERATION: &str = "AssumeRole";
        if let Some(emulation) = &self.config.trust_emulation
            && !emulation.allows(&self.target.role_arn, external_id)
        {
            return Err(AwsError::new(
                OPERATION,
                "AccessDenied",
                format!(
                    "the role refused the control plane (its trust policy does not allow \
                     sts:AssumeRole on {} with this external id); emulated: the local AWS \
                     emulator does not evaluate trust policies",
                    self.target.role_arn
                ),
                ErrorClass::AccessDenied,
            )
            .into());
        }
        let sts = sts_client(&self.config, &self.target.region);
        let session_name = self.target.session_name();
        let duration = i32::try_from(SESSION_DURATION.as_secs()).unwrap_or(900);
        let (sts, session_name) = (&sts, session_name.as_str());
        let output = self
            .config
            .retry
            .run(false, || async move {
                sts.assume_role()
                    .role_arn(&self.target.role_arn)
                    .role_session_name(session_name)
                    .duration_seconds(duration)
                    .set_external_id(external_id.map(str::to_owned))
                    .send()
                    .await
                    .map_err(|error| AwsError::from_sdk(OPERATION, &error))
            })
            .await?;
        let credentials = output.credentials().ok_or(crate::Error::Missing {
            operation: OPERATION,
            what: "Credentials",
        })?;
        let expires_at = SystemTime::try_from(*credentials.expiration())
            .unwrap_or_else(|_| SystemTime::now() + SESSION_DURATION);
        tracing::info!(
            role_arn = self.target.role_arn,
            session_name,
            with_external_id = external_id.is_some(),
            "assumed the customer's role"
        );
        Ok(Session {
            credentials: Credentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_owned()),
                Some(expires_at),
                "fjord-assume-role",
            ),
            expires_at,
        })
    }
}

/// The one HTTPS client every SDK client shares (its connection pool too):
/// rustls on ring, the crypto provider the rest of Fjord uses.
fn https_client() -> aws_sdk_ec2::config::SharedHttpClient {
    static CLIENT: std::sync::LazyLock<aws_sdk_ec2::config::SharedHttpClient> =
        std::sync::LazyLock::new(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https()
        });
    CLIENT.clone()
}

/// An STS client as the control plane itself.
fn sts_client(config: &CloudConfig, region: &str) -> aws_sdk_sts::Client {
    let mut builder = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(region.to_owned()))
        .credentials_provider(config.credentials.clone())
        .http_client(https_client())
        // Retries are ours (crate::retry), classified by AWS error code.
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled());
    if let Some(url) = &config.endpoint_url {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_sts::Client::from_conf(builder.build())
}

/// An EC2 client with an assumed role's credentials.
pub fn ec2_client(
    config: &CloudConfig,
    region: &str,
    credentials: Credentials,
) -> aws_sdk_ec2::Client {
    let mut builder = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .http_client(https_client())
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled());
    if let Some(url) = &config.endpoint_url {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_ec2::Client::from_conf(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> RoleTarget {
        RoleTarget {
            organization_id: Uuid::now_v7(),
            job_id: Uuid::now_v7(),
            role_arn: "arn:aws:iam::111122223333:role/fjord".into(),
            external_id: "fjord-abc".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn the_session_name_names_organization_and_job_within_aws_limits() {
        let target = target();
        let name = target.session_name();
        assert_eq!(name.len(), 64);
        assert!(name.contains(&target.organization_id.simple().to_string()));
        assert!(
            target
                .job_id
                .simple()
                .to_string()
                .ends_with(&name[name.len() - 25..])
        );
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn the_emulated_trust_policy_requires_the_recorded_external_id() {
        let emulation = TrustEmulation::strict();
        let role = "arn:aws:iam::111122223333:role/fjord";
        assert!(
            !emulation.allows(role, Some("fjord-abc")),
            "no policy trusts nobody"
        );
        emulation.trust(role, "fjord-abc");
        assert!(emulation.allows(role, Some("fjord-abc")));
        assert!(!emulation.allows(role, Some("fjord-other")));
        assert!(!emulation.allows(role, None));
        let learning = TrustEmulation::learning();
        assert!(learning.allows(role, Some("fjord-first")));
        assert!(!learning.allows(role, Some("fjord-second")));
        assert!(!learning.allows(role, None));
    }
}
