//! Classification of a request (method + raw path + `X-RestLi-Method`) into a [`RouteKind`].

use std::fmt;

use http::Method;
use serde::{Deserialize, Serialize};

/// Every endpoint the simulator serves. Fault rules can select requests by kind
/// (in JSON: the snake_case name, e.g. `"conversion_events_batch_create"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// `POST /oauth/v2/accessToken` (www.linkedin.com).
    #[serde(rename = "oauth_token")]
    OAuthToken,
    /// `GET /rest/me`.
    Me,
    /// `GET /rest/adAccountUsers/account=…&user=…` (Rest.li 1.0 key).
    AdAccountUser,
    /// `GET /rest/adAccounts?q=search`.
    AdAccountsSearch,
    /// `GET /rest/adAccounts/{id}/adCampaigns?q=search&search=…`.
    AdCampaignsSearch,
    /// `GET /rest/conversions?q=account&account=…`.
    ConversionsList,
    /// `GET /rest/conversions/{id}?account=…`.
    ConversionGet,
    /// `POST /rest/conversions`.
    ConversionCreate,
    /// `POST /rest/conversions/{id}?account=…` with `X-RestLi-Method: PARTIAL_UPDATE`.
    ConversionUpdate,
    /// `PUT /rest/campaignConversions/(campaign:…,conversion:…)`.
    CampaignConversionPut,
    /// `PUT /rest/campaignConversions?ids=List(…)`.
    CampaignConversionsBatchPut,
    /// `GET /rest/dmpSegments?q=account&…`.
    DmpSegmentsLookup,
    /// `POST /rest/dmpSegments`.
    DmpSegmentCreate,
    /// `POST /rest/dmpSegments/{id}/users` (BATCH_CREATE).
    DmpSegmentUsers,
    /// `POST /rest/dmpSegments/{id}/companies` (BATCH_CREATE).
    DmpSegmentCompanies,
    /// `POST /rest/conversionEvents` (one event).
    ConversionEventCreate,
    /// `POST /rest/conversionEvents` with `X-RestLi-Method: BATCH_CREATE`.
    ConversionEventsBatchCreate,
    /// Anything else (answered 404).
    Unknown,
}

impl RouteKind {
    /// All kinds, in declaration order.
    pub const ALL: [RouteKind; 18] = [
        RouteKind::OAuthToken,
        RouteKind::Me,
        RouteKind::AdAccountUser,
        RouteKind::AdAccountsSearch,
        RouteKind::AdCampaignsSearch,
        RouteKind::ConversionsList,
        RouteKind::ConversionGet,
        RouteKind::ConversionCreate,
        RouteKind::ConversionUpdate,
        RouteKind::CampaignConversionPut,
        RouteKind::CampaignConversionsBatchPut,
        RouteKind::DmpSegmentsLookup,
        RouteKind::DmpSegmentCreate,
        RouteKind::DmpSegmentUsers,
        RouteKind::DmpSegmentCompanies,
        RouteKind::ConversionEventCreate,
        RouteKind::ConversionEventsBatchCreate,
        RouteKind::Unknown,
    ];

    /// The snake_case name used in JSON and in route selectors.
    pub fn name(self) -> &'static str {
        match self {
            RouteKind::OAuthToken => "oauth_token",
            RouteKind::Me => "me",
            RouteKind::AdAccountUser => "ad_account_user",
            RouteKind::AdAccountsSearch => "ad_accounts_search",
            RouteKind::AdCampaignsSearch => "ad_campaigns_search",
            RouteKind::ConversionsList => "conversions_list",
            RouteKind::ConversionGet => "conversion_get",
            RouteKind::ConversionCreate => "conversion_create",
            RouteKind::ConversionUpdate => "conversion_update",
            RouteKind::CampaignConversionPut => "campaign_conversion_put",
            RouteKind::CampaignConversionsBatchPut => "campaign_conversions_batch_put",
            RouteKind::DmpSegmentsLookup => "dmp_segments_lookup",
            RouteKind::DmpSegmentCreate => "dmp_segment_create",
            RouteKind::DmpSegmentUsers => "dmp_segment_users",
            RouteKind::DmpSegmentCompanies => "dmp_segment_companies",
            RouteKind::ConversionEventCreate => "conversion_event_create",
            RouteKind::ConversionEventsBatchCreate => "conversion_events_batch_create",
            RouteKind::Unknown => "unknown",
        }
    }

    /// The kind with this snake_case name.
    pub fn from_name(name: &str) -> Option<Self> {
        RouteKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Routes of the Conversions API family (they expect `X-Restli-Protocol-Version: 2.0.0`).
    pub(crate) fn is_conversions_family(self) -> bool {
        matches!(
            self,
            RouteKind::AdAccountsSearch
                | RouteKind::AdCampaignsSearch
                | RouteKind::ConversionsList
                | RouteKind::ConversionGet
                | RouteKind::ConversionCreate
                | RouteKind::ConversionUpdate
                | RouteKind::CampaignConversionPut
                | RouteKind::CampaignConversionsBatchPut
                | RouteKind::ConversionEventCreate
                | RouteKind::ConversionEventsBatchCreate
        )
    }
}

impl fmt::Display for RouteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A classified request: its kind and the raw path key (segment id, rule id, Rest.li key, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route<'a> {
    pub(crate) kind: RouteKind,
    pub(crate) key: &'a str,
}

/// Classifies on the raw path: nothing is percent-decoded here.
pub(crate) fn classify<'a>(
    method: &Method,
    path: &'a str,
    restli_method: Option<&str>,
) -> Route<'a> {
    let route = |kind, key| Route { kind, key };
    let unknown = route(RouteKind::Unknown, "");
    if path == "/oauth/v2/accessToken" {
        return if *method == Method::POST {
            route(RouteKind::OAuthToken, "")
        } else {
            unknown
        };
    }
    let Some(rest) = path.strip_prefix("/rest/") else {
        return unknown;
    };
    let (resource, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let is_batch = restli_method.is_some_and(|m| m.eq_ignore_ascii_case("BATCH_CREATE"));
    let m = method;
    match (resource, tail) {
        ("me", "") if *m == Method::GET => route(RouteKind::Me, ""),
        ("adAccountUsers", key) if *m == Method::GET && !key.is_empty() => {
            route(RouteKind::AdAccountUser, key)
        }
        ("adAccounts", "") if *m == Method::GET => route(RouteKind::AdAccountsSearch, ""),
        ("adAccounts", tail) if *m == Method::GET => match tail.split_once('/') {
            Some((id, "adCampaigns")) if !id.is_empty() => route(RouteKind::AdCampaignsSearch, id),
            _ => unknown,
        },
        ("conversions", "") if *m == Method::GET => route(RouteKind::ConversionsList, ""),
        ("conversions", "") if *m == Method::POST => route(RouteKind::ConversionCreate, ""),
        ("conversions", id) if !id.contains('/') && *m == Method::GET => {
            route(RouteKind::ConversionGet, id)
        }
        ("conversions", id) if !id.contains('/') && *m == Method::POST => {
            route(RouteKind::ConversionUpdate, id)
        }
        ("campaignConversions", "") if *m == Method::PUT => {
            route(RouteKind::CampaignConversionsBatchPut, "")
        }
        ("campaignConversions", key) if *m == Method::PUT && !key.contains('/') => {
            route(RouteKind::CampaignConversionPut, key)
        }
        ("dmpSegments", "") if *m == Method::GET => route(RouteKind::DmpSegmentsLookup, ""),
        ("dmpSegments", "") if *m == Method::POST => route(RouteKind::DmpSegmentCreate, ""),
        ("dmpSegments", tail) if *m == Method::POST => match tail.split_once('/') {
            Some((id, "users")) if !id.is_empty() => route(RouteKind::DmpSegmentUsers, id),
            Some((id, "companies")) if !id.is_empty() => route(RouteKind::DmpSegmentCompanies, id),
            _ => unknown,
        },
        ("conversionEvents", "") if *m == Method::POST && is_batch => {
            route(RouteKind::ConversionEventsBatchCreate, "")
        }
        ("conversionEvents", "") if *m == Method::POST => {
            route(RouteKind::ConversionEventCreate, "")
        }
        _ => unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_paths_classify_without_decoding() {
        let key = "(campaign:urn%3Ali%3AsponsoredCampaign%3A1,conversion:urn%3Alla%3AllaPartnerConversion%3A2)";
        let path = format!("/rest/campaignConversions/{key}");
        let r = classify(&Method::PUT, &path, None);
        assert_eq!(
            r,
            Route {
                kind: RouteKind::CampaignConversionPut,
                key
            }
        );
        let r = classify(
            &Method::GET,
            "/rest/adAccountUsers/account=urn:li:sponsoredAccount:5&user=urn:li:person:x",
            None,
        );
        assert_eq!(r.kind, RouteKind::AdAccountUser);
        assert_eq!(
            r.key,
            "account=urn:li:sponsoredAccount:5&user=urn:li:person:x"
        );
    }

    #[test]
    fn conversion_events_split_on_restli_method() {
        let single = classify(&Method::POST, "/rest/conversionEvents", None);
        let batch = classify(
            &Method::POST,
            "/rest/conversionEvents",
            Some("batch_create"),
        );
        assert_eq!(single.kind, RouteKind::ConversionEventCreate);
        assert_eq!(batch.kind, RouteKind::ConversionEventsBatchCreate);
    }

    #[test]
    fn wrong_method_or_shape_is_unknown() {
        assert_eq!(
            classify(&Method::GET, "/rest/conversionEvents", None).kind,
            RouteKind::Unknown
        );
        assert_eq!(
            classify(&Method::POST, "/rest/dmpSegments//users", None).kind,
            RouteKind::Unknown
        );
        assert_eq!(
            classify(&Method::GET, "/oauth/v2/accessToken", None).kind,
            RouteKind::Unknown
        );
        assert_eq!(
            classify(&Method::GET, "/elsewhere", None).kind,
            RouteKind::Unknown
        );
    }

    #[test]
    fn names_round_trip() {
        for kind in RouteKind::ALL {
            assert_eq!(RouteKind::from_name(kind.name()), Some(kind));
        }
    }
}
