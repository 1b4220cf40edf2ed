//! Principals, as Kafka writes them (`User:alice`), and the principal of a
//! client certificate: `User:` and the subject's distinguished name in
//! RFC 2253 form, most specific attribute first, as Kafka's default
//! `ssl.principal.mapping.rules` produce it.

use std::fmt;

use super::der::{self, DerError, Reader};

/// Who a connection acts as.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    /// `User` for every principal Kafka clients authenticate as.
    pub kind: String,
    pub name: String,
}

impl Principal {
    /// The principal of an unauthenticated connection.
    pub fn anonymous() -> Self {
        Self::user("ANONYMOUS")
    }

    pub fn user(name: impl Into<String>) -> Self {
        Self {
            kind: "User".to_owned(),
            name: name.into(),
        }
    }

    /// `TYPE:NAME`, as Kafka writes principals in `super.users` and ACLs.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, name) = text.trim().split_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            kind: kind.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The principal of a client certificate (DER), from its subject.
    pub fn from_certificate(certificate: &[u8]) -> Result<Self, DerError> {
        Ok(Self::user(subject_distinguished_name(certificate)?))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.kind, self.name)
    }
}

/// The subject of a DER certificate as an RFC 2253 string.
pub fn subject_distinguished_name(certificate: &[u8]) -> Result<String, DerError> {
    let certificate = Reader::new(certificate).expect(der::SEQUENCE)?;
    let tbs = Reader::new(certificate.content).expect(der::SEQUENCE)?;
    let mut fields = Reader::new(tbs.content);
    if fields.peek_tag() == Some(der::CONTEXT_0) {
        fields.any()?;
    }
    fields.expect(der::INTEGER)?; // serial number
    fields.expect(der::SEQUENCE)?; // signature algorithm
    fields.expect(der::SEQUENCE)?; // issuer
    fields.expect(der::SEQUENCE)?; // validity
    let subject = fields.expect(der::SEQUENCE)?;
    distinguished_name(subject.content)
}

/// A Name's RDN sequence (content bytes) as RFC 2253: the RDNs in reverse
/// order, joined by `,`; the attributes of one RDN joined by `+`.
fn distinguished_name(name: &[u8]) -> Result<String, DerError> {
    let mut relative_names = Vec::new();
    let mut reader = Reader::new(name);
    while !reader.is_empty() {
        let set = reader.expect(der::SET)?;
        let mut attributes = Vec::new();
        let mut members = Reader::new(set.content);
        while !members.is_empty() {
            let pair = members.expect(der::SEQUENCE)?;
            let mut parts = Reader::new(pair.content);
            let oid = der::object_identifier(parts.expect(der::OBJECT_IDENTIFIER)?.content)?;
            let value = parts.any()?;
            attributes.push(attribute(&oid, value));
        }
        relative_names.push(attributes.join("+"));
    }
    relative_names.reverse();
    Ok(relative_names.join(","))
}

/// `TYPE=value`: a keyword for the types RFC 2253 (and Java, which Kafka
/// uses) name, else the dotted OID with the value's DER in hex.
fn attribute(oid: &str, value: der::Element<'_>) -> String {
    let keyword = match oid {
        "2.5.4.3" => Some("CN"),
        "2.5.4.6" => Some("C"),
        "2.5.4.7" => Some("L"),
        "2.5.4.8" => Some("ST"),
        "2.5.4.9" => Some("STREET"),
        "2.5.4.10" => Some("O"),
        "2.5.4.11" => Some("OU"),
        "0.9.2342.19200300.100.1.25" => Some("DC"),
        "0.9.2342.19200300.100.1.1" => Some("UID"),
        _ => None,
    };
    match (keyword, string_value(value)) {
        (Some(keyword), Some(text)) => format!("{keyword}={}", escape(&text)),
        (keyword, _) => format!("{}=#{}", keyword.unwrap_or(oid), hex(value.encoded)),
    }
}

/// The text of a directory string, if `value` is one.
fn string_value(value: der::Element<'_>) -> Option<String> {
    match value.tag {
        // UTF8String, PrintableString, IA5String, TeletexString (as Latin-1
        // is what it holds in practice), VisibleString.
        0x0c | 0x13 | 0x16 | 0x1a => String::from_utf8(value.content.to_vec()).ok(),
        0x14 => Some(value.content.iter().map(|&byte| char::from(byte)).collect()),
        // BMPString: UTF-16 big-endian.
        0x1e => {
            if !value.content.len().is_multiple_of(2) {
                return None;
            }
            let units = value
                .content
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// RFC 2253 §2.4 escaping.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let last = text.chars().count().saturating_sub(1);
    for (index, character) in text.chars().enumerate() {
        let special = matches!(character, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (index == 0 && matches!(character, '#' | ' '))
            || (index == last && character == ' ');
        if special {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair};

    use super::*;

    fn certificate(subject: &[(DnType, &str)]) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::new()).expect("no names to parse");
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        let key = KeyPair::generate().expect("a key");
        params.self_signed(&key).expect("signs").der().to_vec()
    }

    #[test]
    fn a_client_certificate_maps_to_its_subject_most_specific_first() {
        let der = certificate(&[
            (DnType::CountryName, "NO"),
            (DnType::OrganizationName, "Acme"),
            (DnType::OrganizationalUnitName, "payments"),
            (DnType::CommonName, "orders-writer"),
        ]);
        assert_eq!(
            Principal::from_certificate(&der).unwrap().to_string(),
            "User:CN=orders-writer,OU=payments,O=Acme,C=NO"
        );
    }

    #[test]
    fn special_characters_in_values_are_escaped() {
        let der = certificate(&[(DnType::CommonName, "#team, \"a\"+b;")]);
        assert_eq!(
            subject_distinguished_name(&der).unwrap(),
            r#"CN=\#team\, \"a\"\+b\;"#
        );
    }

    #[test]
    fn unnamed_attribute_types_are_written_as_oid_and_hex() {
        let der = certificate(&[
            (DnType::CustomDnType(vec![1, 2, 3, 4]), "x"),
            (DnType::CommonName, "svc"),
        ]);
        let name = subject_distinguished_name(&der).unwrap();
        assert!(name.starts_with("CN=svc,1.2.3.4=#"), "{name}");
    }

    #[test]
    fn garbage_and_truncated_certificates_are_errors_not_panics() {
        let der = certificate(&[(DnType::CommonName, "svc")]);
        for cut in 0..der.len() {
            let _ = subject_distinguished_name(&der[..cut]);
        }
        assert!(subject_distinguished_name(&[]).is_err());
        assert!(subject_distinguished_name(&[0x30, 0x03, 0x30, 0x01, 0xff]).is_err());
        let mut flipped = der.clone();
        for index in 0..flipped.len() {
            flipped[index] ^= 0x55;
            let _ = subject_distinguished_name(&flipped);
            flipped[index] ^= 0x55;
        }
    }

    #[test]
    fn the_anonymous_principal_is_kafkas() {
        assert_eq!(Principal::anonymous().to_string(), "User:ANONYMOUS");
    }
}
