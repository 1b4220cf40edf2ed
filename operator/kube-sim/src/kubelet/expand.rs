//! Kubernetes `$(VAR)` expansion of env values, `command` and `args`
//! (the rules of Kubernetes' `third_party/forked/golang/expansion`):
//!
//! - `$(NAME)` becomes NAME's value when NAME is defined, and stays
//!   `$(NAME)` verbatim when it is not;
//! - `$$` is an escaped `$`, so `$$(NAME)` yields the literal `$(NAME)`;
//! - a `$` before any other character, or an unterminated `$(`, is kept as
//!   written.
//!
//! Pure: the caller supplies the lookup.

/// Expands every `$(NAME)` in `input` with `lookup`.
pub fn expand<'a>(input: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.chars().next() {
            // A lone `$` at the very end stays as written.
            None => {
                out.push('$');
                rest = after;
            }
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('(') => match after.find(')') {
                Some(close) => {
                    let name = &after[1..close];
                    match lookup(name) {
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = &after[1..];
                }
            },
            Some(other) => {
                out.push('$');
                out.push(other);
                rest = &after[other.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<&'static str> {
        let vars = vars.to_vec();
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn a_defined_variable_is_replaced_by_its_value() {
        let lookup = with(&[("POD_IP", "127.1.2.3")]);
        assert_eq!(
            expand("--listen=$(POD_IP):9092", lookup),
            "--listen=127.1.2.3:9092"
        );
    }

    #[test]
    fn an_undefined_variable_stays_verbatim() {
        assert_eq!(expand("a $(MISSING) b", with(&[])), "a $(MISSING) b");
    }

    #[test]
    fn a_double_dollar_escapes_the_reference() {
        let lookup = with(&[("A", "x")]);
        assert_eq!(expand("$$(A) $$ $(A)", lookup), "$(A) $ x");
    }

    #[test]
    fn a_dollar_before_another_character_or_at_the_end_is_kept() {
        assert_eq!(expand("cost $5 and $", with(&[])), "cost $5 and $");
    }

    #[test]
    fn an_unterminated_reference_is_kept_and_later_ones_still_expand() {
        let lookup = with(&[("A", "x")]);
        assert_eq!(expand("$(A $(A)", lookup), "$(A $(A)");
        assert_eq!(expand("$(A", with(&[])), "$(A");
        assert_eq!(expand("$(A)$(A", with(&[("A", "x")])), "x$(A");
    }

    #[test]
    fn multibyte_text_around_references_survives() {
        let lookup = with(&[("N", "ø")]);
        assert_eq!(expand("fjörd-$(N)-$é", lookup), "fjörd-ø-$é");
    }
}
