//! Shorthands for the attribute schemas the resources declare.

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};

/// Set by the practitioner; a change replaces or updates, as the resource says.
pub(crate) fn required(attr_type: AttributeType, description: &str) -> Attribute {
    with(attr_type, AttributeConstraint::Required, description)
}

/// May be omitted; the server's value (or the provider's default) is kept.
pub(crate) fn optional_computed(attr_type: AttributeType, description: &str) -> Attribute {
    with(
        attr_type,
        AttributeConstraint::OptionalComputed,
        description,
    )
}

/// May be omitted and then stays null.
pub(crate) fn optional(attr_type: AttributeType, description: &str) -> Attribute {
    with(attr_type, AttributeConstraint::Optional, description)
}

/// Set by the server only.
pub(crate) fn computed(attr_type: AttributeType, description: &str) -> Attribute {
    with(attr_type, AttributeConstraint::Computed, description)
}

/// Hides the value in plans and logs.
pub(crate) fn sensitive(mut attribute: Attribute) -> Attribute {
    attribute.sensitive = true;
    attribute
}

fn with(attr_type: AttributeType, constraint: AttributeConstraint, description: &str) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(description),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

/// A map of strings, e.g. Kafka-style configuration.
pub(crate) fn string_map() -> AttributeType {
    AttributeType::Map(Box::new(AttributeType::String))
}

/// A resource's or data source's schema from its attributes.
pub(crate) fn schema(description: &str, attributes: Vec<(&str, Attribute)>) -> Schema {
    let attributes: HashMap<String, Attribute> = attributes
        .into_iter()
        .map(|(name, attribute)| (name.to_owned(), attribute))
        .collect();
    Schema {
        version: 0,
        block: Block {
            version: 0,
            attributes,
            blocks: HashMap::new(),
            description: Description::markdown(description),
            deprecated: false,
        },
    }
}
