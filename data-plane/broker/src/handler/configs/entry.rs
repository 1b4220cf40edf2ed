//! One described config (topic or broker) as DescribeConfigs answers it:
//! its value, source, and synonyms, and how a broker setting's source is
//! found (a live setting changed through the admin API, or its static value).

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsSynonym,
};
use kafka_protocol::protocol::StrBytes;

use crate::live::{LiveKey, LiveSettings, LiveState, Source};
use crate::topic_config::{ConfigSource, ConfigType};

/// The source of a broker setting and its synonyms: a live setting changed
/// through the admin API is `DYNAMIC_BROKER_CONFIG`, then its static value.
pub(super) fn broker_sources(
    live: &LiveState,
    name: &str,
    flag: &str,
    value: &str,
) -> (ConfigSource, Vec<(String, String, ConfigSource)>) {
    let static_value = |startup: &LiveSettings, key: LiveKey| match startup.value(key) {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    };
    let dynamic = flag
        .strip_prefix("--")
        .and_then(LiveKey::from_name)
        .filter(|key| live.source(*key) == Source::Dynamic);
    match dynamic {
        Some(key) => (
            ConfigSource::DynamicBroker,
            vec![
                (
                    name.to_owned(),
                    value.to_owned(),
                    ConfigSource::DynamicBroker,
                ),
                (
                    name.to_owned(),
                    static_value(&live.startup, key),
                    ConfigSource::StaticBroker,
                ),
            ],
        ),
        None => (
            ConfigSource::StaticBroker,
            vec![(
                name.to_owned(),
                value.to_owned(),
                ConfigSource::StaticBroker,
            )],
        ),
    }
}

pub(super) fn strbytes(text: impl Into<String>) -> StrBytes {
    StrBytes::from_string(text.into())
}

/// One described config before filtering and encoding.
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) value: String,
    pub(super) source: ConfigSource,
    pub(super) read_only: bool,
    pub(super) config_type: ConfigType,
    pub(super) documentation: &'static str,
    pub(super) synonyms: Vec<(String, String, ConfigSource)>,
}

impl Entry {
    pub(super) fn encode(
        self,
        synonyms: bool,
        documentation: bool,
    ) -> DescribeConfigsResourceResult {
        let synonyms = if synonyms {
            self.synonyms
                .into_iter()
                .map(|(name, value, source)| {
                    DescribeConfigsSynonym::default()
                        .with_name(strbytes(name))
                        .with_value(Some(strbytes(value)))
                        .with_source(source as i8)
                })
                .collect()
        } else {
            Vec::new()
        };
        DescribeConfigsResourceResult::default()
            .with_name(strbytes(self.name))
            .with_value(Some(strbytes(self.value)))
            .with_read_only(self.read_only)
            .with_config_source(self.source as i8)
            .with_config_type(self.config_type as i8)
            .with_documentation(documentation.then(|| strbytes(self.documentation)))
            .with_synonyms(synonyms)
    }
}
