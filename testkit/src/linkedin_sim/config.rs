//! Simulator configuration: seed data, tokens, timing of token propagation and segment
//! readiness, and the fault rules. Every type here is (de)serialisable so the `linkedin-sim`
//! binary can read the same configuration from a JSON file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::FaultRule;

/// Everything a [`LinkedInSim`](super::LinkedInSim) starts from.
///
/// `SimConfig::default()` is a ready-to-use account: access token `sim-access-token`, refresh
/// token `sim-refresh-token`, OAuth clients `sim-client-id`/`sim-client-secret` and
/// `sim-conv-client-id`/`sim-conv-client-secret`, ad accounts `512345678` and `587654321`,
/// three conversion rules (`9001` enabled, `9002` disabled, `9003` insight tag), three
/// campaigns, and the DMP segments `li_test_audience` and `li_company_audience` (one USER and one
/// COMPANY segment each) — the same world the golden cases in `conformance/linkedin` were
/// recorded against. In JSON every field is optional (missing fields take these defaults).
///
/// ```
/// use std::time::Duration;
/// use actions_testkit::linkedin_sim::{Lag, SimConfig};
///
/// let config = SimConfig {
///     seed: 42,
///     now_ms: Some(1_793_491_200_000),
///     token_propagation: Lag::requests(2),
///     segment_readiness: Lag::duration(Duration::from_millis(300)),
///     ..SimConfig::default()
/// };
/// assert_eq!(config.access_tokens, ["sim-access-token"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of every random choice (generated ids, error-rate faults). Same seed + same request
    /// sequence ⇒ same responses.
    pub seed: u64,
    /// Fixed "now" (epoch milliseconds) for the 90-day `conversionHappenedAt` check; `None` uses
    /// the system clock.
    pub now_ms: Option<i64>,
    /// Access tokens that are valid from the start (not subject to propagation).
    pub access_tokens: Vec<String>,
    /// Refresh tokens the token endpoint accepts.
    pub refresh_tokens: Vec<String>,
    /// Access tokens that answer 401 / `65601` (revoked) forever.
    pub revoked_access_tokens: Vec<String>,
    /// Access tokens that answer 401 / `65602` (expired) forever.
    pub expired_access_tokens: Vec<String>,
    /// Refresh tokens the token endpoint rejects with `invalid_grant`.
    pub revoked_refresh_tokens: Vec<String>,
    /// OAuth clients (id + secret) the token endpoint accepts.
    pub clients: Vec<OAuthClient>,
    /// How long an access token issued by the token endpoint keeps answering 401 / `65601`
    /// before it works ("not propagated yet").
    pub token_propagation: Lag,
    /// How long a DMP segment created through the API answers member updates with 404.
    pub segment_readiness: Lag,
    /// Also require `LinkedIn-Version` (6 digits) on every `/rest` route and
    /// `X-Restli-Protocol-Version: 2.0.0` on the Conversions and company routes.
    pub strict_headers: bool,
    /// Who `/rest/me` says the token belongs to.
    pub profile: Profile,
    /// Ad accounts (`/rest/adAccounts?q=search`).
    pub ad_accounts: Vec<AdAccount>,
    /// Roles of people on ad accounts (`/rest/adAccountUsers/...`).
    pub ad_account_users: Vec<AdAccountUser>,
    /// Campaigns (`/rest/adAccounts/{id}/adCampaigns`).
    pub campaigns: Vec<Campaign>,
    /// Conversion rules that exist from the start.
    pub conversion_rules: Vec<ConversionRule>,
    /// DMP segments that exist (and are ready) from the start.
    pub segments: Vec<DmpSegment>,
    /// Fault rules, evaluated in order for every request (see [`FaultRule`]).
    pub faults: Vec<FaultRule>,
    /// Largest request body accepted; bigger bodies answer 413.
    pub max_body_bytes: usize,
    /// Most requests kept in [`SimState::requests`](super::SimState::requests) (older ones are
    /// dropped first); default 100 000. Long soaks set it low: the bodies are kept too.
    pub max_recorded_requests: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        let account_a = "512345678".to_string();
        let account_b = "587654321".to_string();
        let profile = Profile::default();
        Self {
            seed: 0,
            now_ms: None,
            access_tokens: vec!["sim-access-token".into()],
            refresh_tokens: vec!["sim-refresh-token".into()],
            revoked_access_tokens: Vec::new(),
            expired_access_tokens: Vec::new(),
            revoked_refresh_tokens: Vec::new(),
            clients: vec![
                OAuthClient::new("sim-client-id", "sim-client-secret"),
                OAuthClient::new("sim-conv-client-id", "sim-conv-client-secret"),
            ],
            token_propagation: Lag::NONE,
            segment_readiness: Lag::NONE,
            strict_headers: false,
            ad_accounts: vec![
                AdAccount::new(&account_a, "Sim Ad Account A"),
                AdAccount::new(&account_b, "Sim Ad Account B"),
            ],
            ad_account_users: vec![
                AdAccountUser {
                    account_id: account_a.clone(),
                    person_id: profile.id.clone(),
                    role: "ACCOUNT_BILLING_ADMIN".into(),
                },
                AdAccountUser {
                    account_id: account_b.clone(),
                    person_id: profile.id.clone(),
                    role: "VIEWER".into(),
                },
            ],
            profile,
            campaigns: vec![
                Campaign::new("700000001", &account_a, "Sim Campaign 1", "ACTIVE"),
                Campaign::new("700000002", &account_a, "Sim Campaign 2", "DRAFT"),
                Campaign::new("700000003", &account_a, "Sim Campaign 3", "ARCHIVED"),
            ],
            conversion_rules: vec![
                ConversionRule::new("9001", &account_a, "Purchase rule", "PURCHASE"),
                ConversionRule {
                    enabled: false,
                    ..ConversionRule::new("9002", &account_a, "Disabled rule", "LEAD")
                },
                ConversionRule {
                    conversion_method: "INSIGHT_TAG".into(),
                    ..ConversionRule::new("9003", &account_a, "Insight tag rule", "SIGN_UP")
                },
            ],
            segments: vec![
                DmpSegment::new(546109929, &account_a, "li_test_audience", SegmentType::User),
                DmpSegment::new(
                    728116877,
                    &account_a,
                    "li_test_audience",
                    SegmentType::Company,
                ),
                DmpSegment::new(
                    403746736,
                    &account_a,
                    "li_company_audience",
                    SegmentType::User,
                ),
                DmpSegment::new(
                    244437226,
                    &account_a,
                    "li_company_audience",
                    SegmentType::Company,
                ),
            ],
            faults: Vec::new(),
            max_body_bytes: 16 * 1024 * 1024,
            max_recorded_requests: super::state::MAX_RECORDED_REQUESTS,
        }
    }
}

/// A delay before something new becomes effective: the first `requests` requests that touch it
/// are refused, and so are all requests until `duration` has passed since it was created. Both
/// conditions must be met before it works; [`Lag::NONE`] means "effective at once".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lag {
    /// Number of requests refused first.
    pub requests: u32,
    /// Time after creation during which requests are refused (JSON: milliseconds).
    #[serde(rename = "duration_ms", with = "duration_ms")]
    pub duration: Duration,
}

impl Lag {
    /// No lag at all.
    pub const NONE: Lag = Lag {
        requests: 0,
        duration: Duration::ZERO,
    };

    /// Refuse the first `n` requests.
    pub fn requests(n: u32) -> Self {
        Self {
            requests: n,
            duration: Duration::ZERO,
        }
    }

    /// Refuse requests for `d` after creation.
    pub fn duration(d: Duration) -> Self {
        Self {
            requests: 0,
            duration: d,
        }
    }
}

/// An OAuth application the token endpoint knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// `client_id` form field.
    pub client_id: String,
    /// `client_secret` form field.
    pub client_secret: String,
}

impl OAuthClient {
    /// A client with this id and secret.
    pub fn new(client_id: &str, client_secret: &str) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

/// The member `/rest/me` describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Person id (`urn:li:person:{id}`).
    pub id: String,
    /// `localizedFirstName`.
    pub first_name: String,
    /// `localizedLastName`.
    pub last_name: String,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            id: "simPerson01".into(),
            first_name: "Sim".into(),
            last_name: "Member".into(),
        }
    }
}

/// An ad account (`urn:li:sponsoredAccount:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdAccount {
    /// Numeric id, as a string.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Currency code.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// `ACTIVE`, `CANCELED`, ...
    #[serde(default = "default_active")]
    pub status: String,
}

fn default_currency() -> String {
    "USD".into()
}

fn default_active() -> String {
    "ACTIVE".into()
}

impl AdAccount {
    /// An active USD account.
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            currency: default_currency(),
            status: default_active(),
        }
    }
}

/// The role a person has on an ad account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdAccountUser {
    /// Ad account id.
    pub account_id: String,
    /// Person id.
    pub person_id: String,
    /// `ACCOUNT_BILLING_ADMIN`, `ACCOUNT_MANAGER`, `CAMPAIGN_MANAGER`, `CREATIVE_MANAGER` or `VIEWER`.
    pub role: String,
}

/// An ad campaign (`urn:li:sponsoredCampaign:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Numeric id, as a string.
    pub id: String,
    /// Owning ad account id.
    pub account_id: String,
    /// Display name.
    pub name: String,
    /// `ACTIVE`, `DRAFT`, `ARCHIVED`, ...
    pub status: String,
}

impl Campaign {
    /// A campaign with these fields.
    pub fn new(id: &str, account_id: &str, name: &str, status: &str) -> Self {
        Self {
            id: id.into(),
            account_id: account_id.into(),
            name: name.into(),
            status: status.into(),
        }
    }
}

/// A conversion rule (`urn:lla:llaPartnerConversion:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionRule {
    /// Id, as a string (rendered as a JSON string, like the recorded golden cases).
    pub id: String,
    /// Owning ad account id.
    pub account_id: String,
    /// Display name.
    pub name: String,
    /// `type`, e.g. `PURCHASE`.
    pub rule_type: String,
    /// `attributionType`, when set.
    #[serde(default)]
    pub attribution_type: Option<String>,
    /// `postClickAttributionWindowSize` (days).
    #[serde(default = "default_post_click")]
    pub post_click_window: u32,
    /// `viewThroughAttributionWindowSize` (days).
    #[serde(default = "default_view_through")]
    pub view_through_window: u32,
    /// `enabled`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `conversionMethod`, e.g. `CONVERSIONS_API`.
    #[serde(default = "default_method")]
    pub conversion_method: String,
}

fn default_post_click() -> u32 {
    30
}

fn default_view_through() -> u32 {
    7
}

fn default_true() -> bool {
    true
}

fn default_method() -> String {
    "CONVERSIONS_API".into()
}

impl ConversionRule {
    /// An enabled `CONVERSIONS_API` rule, last-touch-by-campaign, windows 30/7.
    pub fn new(id: &str, account_id: &str, name: &str, rule_type: &str) -> Self {
        Self {
            id: id.into(),
            account_id: account_id.into(),
            name: name.into(),
            rule_type: rule_type.into(),
            attribution_type: Some("LAST_TOUCH_BY_CAMPAIGN".into()),
            post_click_window: default_post_click(),
            view_through_window: default_view_through(),
            enabled: true,
            conversion_method: default_method(),
        }
    }
}

/// Whether a DMP segment holds members (people) or companies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SegmentType {
    /// `USER`: members are added through `/users`.
    User,
    /// `COMPANY`: members are added through `/companies`.
    Company,
}

impl SegmentType {
    /// The wire name (`USER` / `COMPANY`).
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentType::User => "USER",
            SegmentType::Company => "COMPANY",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "USER" => Some(SegmentType::User),
            "COMPANY" => Some(SegmentType::Company),
            _ => None,
        }
    }
}

/// A DMP segment: seeded in [`SimConfig::segments`] or created through `POST /rest/dmpSegments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DmpSegment {
    /// Numeric id (rendered as a JSON number).
    pub id: u64,
    /// Display name.
    pub name: String,
    /// USER or COMPANY.
    #[serde(rename = "type")]
    pub segment_type: SegmentType,
    /// Ad account id (bare, without the URN prefix).
    pub account_id: String,
    /// `sourceSegmentId`, when given.
    #[serde(default)]
    pub source_segment_id: Option<String>,
    /// `sourcePlatform`.
    #[serde(default = "default_platform")]
    pub source_platform: String,
    /// True when the segment was created through the API during the run.
    #[serde(default)]
    pub created_via_api: bool,
}

fn default_platform() -> String {
    "SEGMENT".into()
}

impl DmpSegment {
    /// A Segment-sourced segment whose name equals its `sourceSegmentId`.
    pub fn new(
        id: u64,
        account_id: &str,
        source_segment_id: &str,
        segment_type: SegmentType,
    ) -> Self {
        Self {
            id,
            name: source_segment_id.into(),
            segment_type,
            account_id: account_id.into(),
            source_segment_id: Some(source_segment_id.into()),
            source_platform: default_platform(),
            created_via_api: false,
        }
    }
}

/// `Duration` as integer milliseconds in JSON.
pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// `Option<Duration>` as integer milliseconds (or null) in JSON.
pub(crate) mod opt_duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|o| o.map(Duration::from_millis))
    }
}
