//! Parsing of the raw (still percent-encoded) paths and queries LinkedIn clients send.
//!
//! Nothing here decodes a whole path or query before splitting it: structure is found on the raw
//! text first (`&` between parameters, `,` between Rest.li list items, `(`/`)` nesting), and only
//! the leaf values are percent-decoded afterwards.

use std::borrow::Cow;

/// Deepest `(`…`)` nesting accepted in a Rest.li value; deeper input is rejected, never recursed.
const MAX_NESTING: usize = 32;

/// The query parameters of a raw query string, in order, with decoded names and values
/// (`application/x-www-form-urlencoded` rules: `+` is a space, `%XX` is a byte).
pub(crate) fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of parameter `name` in already-parsed pairs.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The raw (undecoded) value of query parameter `name`.
pub(crate) fn raw_param<'a>(raw_query: &'a str, name: &str) -> Option<&'a str> {
    raw_query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// Percent-decodes one value (no `+` handling: path segments keep `+`).
pub(crate) fn decode(raw: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
}

/// Splits `s` on `sep` at parenthesis depth zero. `None` when parentheses are unbalanced or nested
/// deeper than [`MAX_NESTING`].
pub(crate) fn split_top_level(s: &str, sep: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return None;
                }
            }
            ')' => depth = depth.checked_sub(1)?,
            c if c == sep && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// Strips one pair of enclosing parentheses: `(x)` → `x`.
fn strip_parens(s: &str) -> Option<&str> {
    s.strip_prefix('(')?.strip_suffix(')')
}

/// A Rest.li 2.0 compound key `(campaign:urn%3Ali%3A…,conversion:urn%3Alla%3A…)` as decoded
/// `(name, value)` pairs, in order.
pub(crate) fn compound_key(raw: &str) -> Option<Vec<(String, String)>> {
    let inner = strip_parens(raw)?;
    split_top_level(inner, ',')?
        .into_iter()
        .map(|part| {
            let (name, value) = part.split_once(':')?;
            Some((decode(name).into_owned(), decode(value).into_owned()))
        })
        .collect()
}

/// The items of a Rest.li 2.0 `List(a,b,…)`, raw.
pub(crate) fn restli_list(raw: &str) -> Option<Vec<&str>> {
    let inner = raw.strip_prefix("List(")?.strip_suffix(')')?;
    if inner.is_empty() {
        return Some(Vec::new());
    }
    split_top_level(inner, ',')
}

/// A Rest.li 1.0 association key `account=urn:li:…&user=urn:li:…` as decoded pairs.
pub(crate) fn association_key(raw: &str) -> Option<Vec<(String, String)>> {
    raw.split('&')
        .map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((decode(k).into_owned(), decode(v).into_owned()))
        })
        .collect()
}

/// The status values of a campaign search `(status:(values:List(ACTIVE,DRAFT)))`.
/// `Ok(None)` when the search has no status criterion; `Err(())` when it is malformed.
pub(crate) fn search_statuses(search: &str) -> Result<Option<Vec<String>>, ()> {
    let inner = strip_parens(search).ok_or(())?;
    for criterion in split_top_level(inner, ',').ok_or(())? {
        let (field, value) = criterion.split_once(':').ok_or(())?;
        if field != "status" {
            continue;
        }
        let values = strip_parens(value).ok_or(())?;
        let (kind, list) = values.split_once(':').ok_or(())?;
        if kind != "values" {
            return Err(());
        }
        let items = restli_list(list).ok_or(())?;
        return Ok(Some(
            items.into_iter().map(|s| decode(s).into_owned()).collect(),
        ));
    }
    Ok(None)
}

/// The numeric id at the end of a URN (`urn:li:sponsoredAccount:123` → `123`) or a bare id.
pub(crate) fn urn_id(value: &str) -> &str {
    value.rsplit(':').next().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_key_decodes_leaf_values_only() {
        let key = "(campaign:urn%3Ali%3AsponsoredCampaign%3A7,conversion:urn%3Alla%3AllaPartnerConversion%3A9)";
        let pairs = compound_key(key).expect("valid key");
        assert_eq!(
            pairs,
            vec![
                ("campaign".into(), "urn:li:sponsoredCampaign:7".into()),
                ("conversion".into(), "urn:lla:llaPartnerConversion:9".into()),
            ]
        );
        assert!(compound_key("campaign:1").is_none());
    }

    #[test]
    fn list_items_split_at_top_level() {
        let raw = "List((a:1,b:2),(a:3,b:4))";
        assert_eq!(restli_list(raw), Some(vec!["(a:1,b:2)", "(a:3,b:4)"]));
        assert_eq!(restli_list("List()"), Some(vec![]));
        assert_eq!(restli_list("List((a:1)"), None);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(split_top_level(&deep, ',').is_none());
    }

    #[test]
    fn campaign_search_statuses() {
        assert_eq!(
            search_statuses("(status:(values:List(ACTIVE,DRAFT)))"),
            Ok(Some(vec!["ACTIVE".to_string(), "DRAFT".to_string()]))
        );
        assert_eq!(search_statuses("(name:(values:List(x)))"), Ok(None));
        assert_eq!(search_statuses("status:ACTIVE"), Err(()));
    }

    #[test]
    fn association_key_and_query_values() {
        let key = association_key("account=urn:li:sponsoredAccount:5&user=urn:li:person:abc")
            .expect("valid key");
        assert_eq!(
            key[0],
            ("account".into(), "urn:li:sponsoredAccount:5".into())
        );
        assert_eq!(key[1], ("user".into(), "urn:li:person:abc".into()));
        let pairs = query_pairs("q=account&account=urn%3Ali%3AsponsoredAccount%3A5&s=a+b");
        assert_eq!(param(&pairs, "account"), Some("urn:li:sponsoredAccount:5"));
        assert_eq!(param(&pairs, "s"), Some("a b"));
        assert_eq!(raw_param("ids=List(x)&y=1", "ids"), Some("List(x)"));
        assert_eq!(urn_id("urn:li:sponsoredAccount:77"), "77");
        assert_eq!(urn_id("77"), "77");
    }
}
