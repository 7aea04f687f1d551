//! The simulated API: one function per endpoint, each a pure step on [`Inner`].

use http::HeaderMap;
use rand::Rng;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::config::{ConversionRule, DmpSegment, SegmentType};
use super::response::{
    SimResponse, TokenError, error, input_error, not_found, oauth_error, segment_not_found,
    validation_failed_body,
};
use super::restli::{
    association_key, compound_key, decode, param, query_pairs, raw_param, restli_list,
    search_statuses, urn_id,
};
use super::routes::{Route, RouteKind};
use super::state::{
    CampaignConversion, Inner, IssuedToken, ReceivedConversion, RefreshRequest, SegmentEntry,
    TokenEntry, TokenStatus, still_lagging,
};

const ACCOUNT_URN: &str = "urn:li:sponsoredAccount:";
const PERSON_URN: &str = "urn:li:person:";
const CAMPAIGN_URN: &str = "urn:li:sponsoredCampaign:";
const CONVERSION_URN: &str = "urn:lla:llaPartnerConversion:";
const ORGANIZATION_URN: &str = "urn:li:organization:";
const NINETY_DAYS_MS: i64 = 90 * 24 * 60 * 60 * 1000;
/// Most elements one BATCH_CREATE may carry.
const MAX_BATCH: usize = 5000;

/// One request as the API handlers see it.
pub(crate) struct ApiRequest<'a> {
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) route: Route<'a>,
}

impl ApiRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn restli_method_is(&self, expected: &str) -> bool {
        self.header("x-restli-method")
            .is_some_and(|m| m.eq_ignore_ascii_case(expected))
    }

    fn json(&self) -> Result<Value, SimResponse> {
        serde_json::from_slice(self.body).map_err(|e| {
            error(
                400,
                "MALFORMED_REQUEST_BODY",
                &format!("Unable to parse the request body as JSON: {e}"),
            )
        })
    }
}

/// Answers one request that no fault intercepted.
pub(crate) fn handle(inner: &mut Inner, req: &ApiRequest<'_>, now: Instant) -> SimResponse {
    let kind = req.route.kind;
    if kind == RouteKind::OAuthToken {
        return oauth_token(inner, req, now);
    }
    if !req.path.starts_with("/rest/") {
        return not_found();
    }
    if let Err(resp) = authenticate(inner, req.headers, now) {
        return resp;
    }
    if inner.config.strict_headers
        && let Err(resp) = check_headers(kind, req)
    {
        return resp;
    }
    let result = match kind {
        RouteKind::Me => Ok(me(inner)),
        RouteKind::AdAccountUser => ad_account_user(inner, req),
        RouteKind::AdAccountsSearch => ad_accounts(inner, req),
        RouteKind::AdCampaignsSearch => ad_campaigns(inner, req),
        RouteKind::ConversionsList => conversions_list(inner, req),
        RouteKind::ConversionGet => conversion_get(inner, req),
        RouteKind::ConversionCreate => conversion_create(inner, req),
        RouteKind::ConversionUpdate => conversion_update(inner, req),
        RouteKind::CampaignConversionPut => campaign_conversion_put(inner, req),
        RouteKind::CampaignConversionsBatchPut => campaign_conversions_batch(inner, req),
        RouteKind::DmpSegmentsLookup => segments_lookup(inner, req, now),
        RouteKind::DmpSegmentCreate => segment_create(inner, req, now),
        RouteKind::DmpSegmentUsers => segment_members(inner, req, now, SegmentType::User),
        RouteKind::DmpSegmentCompanies => segment_members(inner, req, now, SegmentType::Company),
        RouteKind::ConversionEventCreate => conversion_event(inner, req),
        RouteKind::ConversionEventsBatchCreate => conversion_events_batch(inner, req),
        RouteKind::OAuthToken | RouteKind::Unknown => Ok(not_found()),
    };
    result.unwrap_or_else(|resp| resp)
}

// ---------------------------------------------------------------------------------------------
// OAuth and auth

fn oauth_token(inner: &mut Inner, req: &ApiRequest<'_>, now: Instant) -> SimResponse {
    let form: Vec<(String, String)> = form_urlencoded::parse(req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (resp, error_code) = token_decision(inner, &form, now);
    inner.refresh_requests.push(RefreshRequest {
        form,
        status: resp.status,
        error: error_code.map(str::to_owned),
    });
    resp
}

fn token_decision(
    inner: &mut Inner,
    form: &[(String, String)],
    now: Instant,
) -> (SimResponse, Option<&'static str>) {
    let get = |k: &str| param(form, k).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        (
            oauth_error(
                400,
                "invalid_request",
                &format!("A required parameter \"{name}\" is missing"),
            ),
            Some("invalid_request"),
        )
    };
    let Some(grant_type) = get("grant_type") else {
        return missing("grant_type");
    };
    if grant_type != "refresh_token" {
        return (
            oauth_error(
                400,
                "unsupported_grant_type",
                "The provided grant type is not supported",
            ),
            Some("unsupported_grant_type"),
        );
    }
    let Some(refresh_token) = get("refresh_token") else {
        return missing("refresh_token");
    };
    let Some(client_id) = get("client_id") else {
        return missing("client_id");
    };
    let Some(client_secret) = get("client_secret") else {
        return missing("client_secret");
    };
    let client_ok = inner
        .config
        .clients
        .iter()
        .any(|c| c.client_id == client_id && c.client_secret == client_secret);
    if !client_ok {
        return (
            oauth_error(401, "invalid_client", "Client authentication failed"),
            Some("invalid_client"),
        );
    }
    let known = inner
        .config
        .refresh_tokens
        .iter()
        .any(|t| t == refresh_token);
    if !known || inner.revoked_refresh_tokens.contains(refresh_token) {
        return (
            oauth_error(
                400,
                "invalid_grant",
                "The provided authorization grant or refresh token is invalid, expired or revoked.",
            ),
            Some("invalid_grant"),
        );
    }
    let access_token = inner.issue_access_token(now);
    inner.tokens_issued.push(IssuedToken {
        access_token: access_token.clone(),
        refresh_token: refresh_token.to_owned(),
        client_id: client_id.to_owned(),
    });
    let body = json!({
        "access_token": access_token,
        "expires_in": 5183999,
        "refresh_token": refresh_token,
        "refresh_token_expires_in": 31535960,
        "scope": "r_basicprofile,rw_ads,rw_conversions"
    });
    (SimResponse::json(200, &body), None)
}

impl Inner {
    /// Mints a new access token, subject to the configured propagation lag.
    pub(crate) fn issue_access_token(&mut self, now: Instant) -> String {
        let mut n = self.tokens_issued.len() + 1;
        let mut token = format!("refreshed-access-token-{n}");
        while self.access_tokens.contains_key(&token) {
            n += 1;
            token = format!("refreshed-access-token-{n}");
        }
        let lag = self.config.token_propagation;
        self.access_tokens.insert(
            token.clone(),
            TokenEntry::new(TokenStatus::Active, now, lag),
        );
        token
    }
}

fn authenticate(inner: &mut Inner, headers: &HeaderMap, now: Instant) -> Result<(), SimResponse> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(TokenError::Missing.response());
    };
    let value = value
        .to_str()
        .map_err(|_| TokenError::Invalid.response())?
        .trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        None if value.eq_ignore_ascii_case("bearer") => "",
        _ => return Err(TokenError::Invalid.response()),
    };
    if token.is_empty() {
        return Err(TokenError::Missing.response());
    }
    let Some(entry) = inner.access_tokens.get_mut(token) else {
        return Err(TokenError::Invalid.response());
    };
    match entry.status {
        TokenStatus::Revoked => Err(TokenError::Revoked.response()),
        TokenStatus::Expired => Err(TokenError::Expired.response()),
        TokenStatus::Active if still_lagging(&entry.lag, entry.created, entry.refused, now) => {
            entry.refused = entry.refused.saturating_add(1);
            Err(TokenError::Revoked.response())
        }
        TokenStatus::Active => Ok(()),
    }
}

fn check_headers(kind: RouteKind, req: &ApiRequest<'_>) -> Result<(), SimResponse> {
    let Some(version) = req.header("linkedin-version") else {
        return Err(error(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        ));
    };
    if version.len() != 6 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(
            426,
            "NONEXISTENT_VERSION",
            &format!("Requested version {version} is not active"),
        ));
    }
    let needs_restli2 = kind.is_conversions_family() || kind == RouteKind::DmpSegmentCompanies;
    if needs_restli2 && req.header("x-restli-protocol-version") != Some("2.0.0") {
        return Err(error(
            400,
            "ILLEGAL_ARGUMENT",
            "This resource requires the header X-Restli-Protocol-Version: 2.0.0",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Identity and accounts

fn me(inner: &Inner) -> SimResponse {
    let p = &inner.config.profile;
    SimResponse::json(
        200,
        &json!({"id": p.id, "localizedFirstName": p.first_name, "localizedLastName": p.last_name}),
    )
}

fn bad_request(message: &str) -> SimResponse {
    error(400, "ILLEGAL_ARGUMENT", message)
}

fn ad_account_user(inner: &Inner, req: &ApiRequest<'_>) -> Result<SimResponse, SimResponse> {
    let key =
        association_key(req.route.key).ok_or_else(|| bad_request("Invalid association key"))?;
    let account = param(&key, "account").and_then(|a| a.strip_prefix(ACCOUNT_URN));
    let user = param(&key, "user").and_then(|u| u.strip_prefix(PERSON_URN));
    let (Some(account), Some(user)) = (account, user) else {
        return Err(bad_request(
            "The key must be account=urn:li:sponsoredAccount:{id}&user=urn:li:person:{id}",
        ));
    };
    let found = inner
        .config
        .ad_account_users
        .iter()
        .find(|u| u.account_id == account && u.person_id == user)
        .ok_or_else(not_found)?;
    Ok(SimResponse::json(
        200,
        &json!({
            "account": format!("{ACCOUNT_URN}{account}"),
            "user": format!("{PERSON_URN}{user}"),
            "role": found.role,
        }),
    ))
}

fn require_q(pairs: &[(String, String)], expected: &str) -> Result<(), SimResponse> {
    match param(pairs, "q") {
        Some(q) if q == expected => Ok(()),
        _ => Err(bad_request(&format!(
            "Query parameter q must be '{expected}'"
        ))),
    }
}

fn paging(start: usize, count: usize, total: usize) -> Value {
    json!({"count": count, "links": [], "start": start, "total": total})
}

fn ad_accounts(inner: &Inner, req: &ApiRequest<'_>) -> Result<SimResponse, SimResponse> {
    require_q(&query_pairs(req.query), "search")?;
    let elements: Vec<Value> = inner
        .config
        .ad_accounts
        .iter()
        .map(|a| {
            json!({"id": a.id, "name": a.name, "currency": a.currency, "status": a.status, "type": "BUSINESS", "test": false})
        })
        .collect();
    let total = elements.len();
    Ok(SimResponse::json(
        200,
        &json!({"elements": elements, "paging": paging(0, 1000, total)}),
    ))
}

fn ad_campaigns(inner: &Inner, req: &ApiRequest<'_>) -> Result<SimResponse, SimResponse> {
    require_q(&query_pairs(req.query), "search")?;
    let account = decode(req.route.key);
    if !inner.config.ad_accounts.iter().any(|a| a.id == account) {
        return Err(not_found());
    }
    let statuses = match raw_param(req.query, "search") {
        None => None,
        Some(raw) => {
            search_statuses(&decode(raw)).map_err(|()| bad_request("Invalid search criteria"))?
        }
    };
    let elements: Vec<Value> = inner
        .config
        .campaigns
        .iter()
        .filter(|c| c.account_id == account)
        .filter(|c| statuses.as_ref().is_none_or(|s| s.contains(&c.status)))
        .map(|c| {
            json!({"id": c.id, "name": c.name, "status": c.status, "account": format!("{ACCOUNT_URN}{}", c.account_id)})
        })
        .collect();
    let total = elements.len();
    Ok(SimResponse::json(
        200,
        &json!({"elements": elements, "paging": {"start": 0, "count": 10, "links": [], "total": total}}),
    ))
}

// ---------------------------------------------------------------------------------------------
// Conversion rules and campaign associations

fn rule_json(rule: &ConversionRule) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(rule.id));
    m.insert("name".into(), json!(rule.name));
    m.insert("type".into(), json!(rule.rule_type));
    if let Some(a) = &rule.attribution_type {
        m.insert("attributionType".into(), json!(a));
    }
    m.insert(
        "postClickAttributionWindowSize".into(),
        json!(rule.post_click_window),
    );
    m.insert(
        "viewThroughAttributionWindowSize".into(),
        json!(rule.view_through_window),
    );
    m.insert(
        "account".into(),
        json!(format!("{ACCOUNT_URN}{}", rule.account_id)),
    );
    m.insert("conversionMethod".into(), json!(rule.conversion_method));
    m.insert("enabled".into(), json!(rule.enabled));
    Value::Object(m)
}

fn parse_usize(
    pairs: &[(String, String)],
    name: &str,
    default: usize,
) -> Result<usize, SimResponse> {
    match param(pairs, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| bad_request(&format!("Query parameter {name} must be a number"))),
    }
}

fn conversions_list(inner: &Inner, req: &ApiRequest<'_>) -> Result<SimResponse, SimResponse> {
    let pairs = query_pairs(req.query);
    require_q(&pairs, "account")?;
    let account = param(&pairs, "account")
        .map(urn_id)
        .ok_or_else(|| bad_request("Query parameter account is required"))?;
    let start = parse_usize(&pairs, "start", 0)?;
    let count = parse_usize(&pairs, "count", 10)?;
    let matching: Vec<&ConversionRule> = inner
        .rules
        .iter()
        .filter(|r| r.account_id == account)
        .collect();
    let elements: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(count)
        .map(|r| rule_json(r))
        .collect();
    Ok(SimResponse::json(
        200,
        &json!({"elements": elements, "paging": paging(start, count, matching.len())}),
    ))
}

fn find_rule_index(inner: &Inner, req: &ApiRequest<'_>) -> Result<usize, SimResponse> {
    let id = decode(req.route.key);
    let pairs = query_pairs(req.query);
    let account = param(&pairs, "account").map(urn_id);
    inner
        .rules
        .iter()
        .position(|r| r.id == id && account.is_none_or(|a| a == r.account_id))
        .ok_or_else(not_found)
}

fn conversion_get(inner: &Inner, req: &ApiRequest<'_>) -> Result<SimResponse, SimResponse> {
    let i = find_rule_index(inner, req)?;
    let rule = inner.rules.get(i).ok_or_else(not_found)?;
    Ok(SimResponse::json(200, &rule_json(rule)))
}

fn validation_error(status: u16, errors: Vec<Value>) -> SimResponse {
    SimResponse::json(status, &validation_failed_body(status, errors))
}

fn window_size(obj: &Map<String, Value>, key: &str, default: u32, errors: &mut Vec<Value>) -> u32 {
    match obj.get(key) {
        None => default,
        Some(v) => match v.as_u64() {
            Some(n @ (1 | 7 | 30 | 90)) => u32::try_from(n).unwrap_or(default),
            _ => {
                errors.push(input_error(
                    key,
                    "INVALID_VALUE_FOR_FIELD",
                    "Must be one of 1, 7, 30 or 90",
                ));
                default
            }
        },
    }
}

fn required_str<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    errors: &mut Vec<Value>,
) -> Option<&'v str> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        None | Some(Value::Null) => {
            errors.push(input_error(
                key,
                "REQUIRED_FIELD_MISSING",
                &format!("{key} is required"),
            ));
            None
        }
        Some(_) => {
            errors.push(input_error(
                key,
                "INVALID_VALUE_FOR_FIELD",
                &format!("{key} must be a non-empty string"),
            ));
            None
        }
    }
}

fn account_id_of(urn: &str) -> Option<&str> {
    urn.strip_prefix(ACCOUNT_URN)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

fn conversion_create(inner: &mut Inner, req: &ApiRequest<'_>) -> Result<SimResponse, SimResponse> {
    let body = req.json()?;
    let obj = body.as_object().ok_or_else(|| {
        validation_error(
            400,
            vec![input_error(
                "",
                "INVALID_VALUE_FOR_FIELD",
                "The body must be a JSON object",
            )],
        )
    })?;
    let mut errors = Vec::new();
    let name = required_str(obj, "name", &mut errors);
    let rule_type = required_str(obj, "type", &mut errors);
    let account = required_str(obj, "account", &mut errors);
    let account_id = account.and_then(|a| {
        let id = account_id_of(a);
        if id.is_none() {
            errors.push(input_error(
                "account",
                "INVALID_VALUE_FOR_FIELD",
                "account must be urn:li:sponsoredAccount:{id}",
            ));
        }
        id
    });
    let post_click = window_size(obj, "postClickAttributionWindowSize", 30, &mut errors);
    let view_through = window_size(obj, "viewThroughAttributionWindowSize", 7, &mut errors);
    let attribution = obj
        .get("attributionType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let method = obj
        .get("conversionMethod")
        .and_then(Value::as_str)
        .unwrap_or("CONVERSIONS_API")
        .to_owned();
    let (Some(name), Some(rule_type), Some(account_id), true) =
        (name, rule_type, account_id, errors.is_empty())
    else {
        return Err(validation_error(400, errors));
    };
    let id = inner.next_rule_id.to_string();
    inner.next_rule_id = inner.next_rule_id.saturating_add(1);
    let rule = ConversionRule {
        id: id.clone(),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        rule_type: rule_type.to_owned(),
        attribution_type: attribution,
        post_click_window: post_click,
        view_through_window: view_through,
        enabled: true,
        conversion_method: method,
    };
    let resp = SimResponse::json(201, &rule_json(&rule))
        .with_header("x-restli-id", id.clone())
        .with_header("x-linkedin-id", id);
    inner.rules.push(rule);
    Ok(resp)
}

fn conversion_update(inner: &mut Inner, req: &ApiRequest<'_>) -> Result<SimResponse, SimResponse> {
    if !req.restli_method_is("PARTIAL_UPDATE") {
        return Err(bad_request(
            "POST to an entity requires the header X-RestLi-Method: PARTIAL_UPDATE",
        ));
    }
    let i = find_rule_index(inner, req)?;
    let body = req.json()?;
    let set = body
        .get("patch")
        .and_then(|p| p.get("$set"))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            validation_error(
                400,
                vec![input_error(
                    "patch/$set",
                    "REQUIRED_FIELD_MISSING",
                    "The body must be {\"patch\":{\"$set\":{...}}}",
                )],
            )
        })?;
    let mut errors = Vec::new();
    let Some(current) = inner.rules.get(i) else {
        return Err(not_found());
    };
    let mut rule = current.clone();
    for (key, value) in set {
        let as_string = || value.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let ok = match key.as_str() {
            "name" => as_string().map(|s| rule.name = s).is_some(),
            "type" => as_string().map(|s| rule.rule_type = s).is_some(),
            "attributionType" => as_string()
                .map(|s| rule.attribution_type = Some(s))
                .is_some(),
            "enabled" => value.as_bool().map(|b| rule.enabled = b).is_some(),
            "postClickAttributionWindowSize" => {
                rule.post_click_window = window_size(set, key, rule.post_click_window, &mut errors);
                true
            }
            "viewThroughAttributionWindowSize" => {
                rule.view_through_window =
                    window_size(set, key, rule.view_through_window, &mut errors);
                true
            }
            _ => true,
        };
        if !ok {
            errors.push(input_error(
                key,
                "INVALID_VALUE_FOR_FIELD",
                &format!("Invalid value for {key}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(validation_error(400, errors));
    }
    if let Some(slot) = inner.rules.get_mut(i) {
        *slot = rule;
    }
    Ok(SimResponse::empty(204))
}

/// `(campaign id, rule id)` from a decoded compound key.
fn association_ids(raw_key: &str) -> Option<(String, String)> {
    let pairs = compound_key(raw_key)?;
    let campaign = param(&pairs, "campaign")?
        .strip_prefix(CAMPAIGN_URN)?
        .to_owned();
    let rule = param(&pairs, "conversion")?
        .strip_prefix(CONVERSION_URN)?
        .to_owned();
    (!campaign.is_empty() && !rule.is_empty()).then_some((campaign, rule))
}

/// Validates one association entity against its key and stores it. `Err((status, message))`.
fn associate(
    inner: &mut Inner,
    raw_key: &str,
    entity: Option<&Value>,
) -> Result<(), (u16, String)> {
    let (campaign, rule) = association_ids(raw_key).ok_or_else(|| {
        (400, format!("Invalid key {raw_key}: expected (campaign:urn:li:sponsoredCampaign:{{id}},conversion:urn:lla:llaPartnerConversion:{{id}})"))
    })?;
    let entity = entity.ok_or_else(|| (400, format!("No entity given for key {raw_key}")))?;
    let expected_campaign = format!("{CAMPAIGN_URN}{campaign}");
    let expected_rule = format!("{CONVERSION_URN}{rule}");
    if entity.get("campaign").and_then(Value::as_str) != Some(&expected_campaign)
        || entity.get("conversion").and_then(Value::as_str) != Some(&expected_rule)
    {
        return Err((
            400,
            "The entity's campaign and conversion must match its key".into(),
        ));
    }
    if !inner.config.campaigns.iter().any(|c| c.id == campaign) {
        return Err((404, format!("Campaign {campaign} not found")));
    }
    if !inner.rules.iter().any(|r| r.id == rule) {
        return Err((404, format!("Conversion rule {rule} not found")));
    }
    let assoc = CampaignConversion {
        campaign_id: campaign,
        rule_id: rule,
    };
    if !inner.campaign_conversions.contains(&assoc) {
        inner.campaign_conversions.push(assoc);
    }
    Ok(())
}

fn campaign_conversion_put(
    inner: &mut Inner,
    req: &ApiRequest<'_>,
) -> Result<SimResponse, SimResponse> {
    let body = req.json()?;
    associate(inner, req.route.key, Some(&body)).map_err(|(status, message)| {
        if status == 404 {
            not_found()
        } else {
            bad_request(&message)
        }
    })?;
    Ok(SimResponse::empty(204))
}

fn campaign_conversions_batch(
    inner: &mut Inner,
    req: &ApiRequest<'_>,
) -> Result<SimResponse, SimResponse> {
    let keys = raw_param(req.query, "ids")
        .and_then(restli_list)
        .ok_or_else(|| bad_request("Query parameter ids=List(...) is required"))?;
    let body = req.json()?;
    let entities = body
        .get("entities")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            validation_error(
                400,
                vec![input_error(
                    "entities",
                    "REQUIRED_FIELD_MISSING",
                    "entities is required",
                )],
            )
        })?;
    let mut results = Map::new();
    let mut errors = Map::new();
    for key in keys {
        let entity = entities.get(key).or_else(|| {
            let wanted = compound_key(key);
            entities
                .iter()
                .find(|(k, _)| wanted.is_some() && compound_key(k) == wanted)
                .map(|(_, v)| v)
        });
        match associate(inner, key, entity) {
            Ok(()) => {
                results.insert(key.to_owned(), json!({"status": 204}));
            }
            Err((status, message)) => {
                errors.insert(
                    key.to_owned(),
                    json!({"status": status, "message": message}),
                );
            }
        }
    }
    Ok(SimResponse::json(
        200,
        &json!({"results": results, "errors": errors}),
    ))
}

// ---------------------------------------------------------------------------------------------
// DMP segments

fn segment_json(entry: &SegmentEntry, now: Instant) -> Value {
    let s = &entry.segment;
    let ready = !still_lagging(&entry.lag, entry.created, entry.refused, now);
    let mut m = Map::new();
    m.insert("id".into(), json!(s.id));
    m.insert("name".into(), json!(s.name));
    m.insert("type".into(), json!(s.segment_type.as_str()));
    m.insert("sourcePlatform".into(), json!(s.source_platform));
    if let Some(src) = &s.source_segment_id {
        m.insert("sourceSegmentId".into(), json!(src));
    }
    m.insert(
        "account".into(),
        json!(format!("{ACCOUNT_URN}{}", s.account_id)),
    );
    m.insert(
        "destinations".into(),
        json!([{"destination": "LINKEDIN", "status": if ready { "READY" } else { "BUILDING" }}]),
    );
    Value::Object(m)
}

fn segments_lookup(
    inner: &Inner,
    req: &ApiRequest<'_>,
    now: Instant,
) -> Result<SimResponse, SimResponse> {
    let pairs = query_pairs(req.query);
    require_q(&pairs, "account")?;
    let account = param(&pairs, "account")
        .map(urn_id)
        .ok_or_else(|| bad_request("Query parameter account is required"))?;
    let source = param(&pairs, "sourceSegmentId");
    let platform = param(&pairs, "sourcePlatform");
    let elements: Vec<Value> = inner
        .segments
        .iter()
        .filter(|e| e.segment.account_id == account)
        .filter(|e| source.is_none_or(|s| e.segment.source_segment_id.as_deref() == Some(s)))
        .filter(|e| platform.is_none_or(|p| e.segment.source_platform == p))
        .map(|e| segment_json(e, now))
        .collect();
    let total = elements.len();
    Ok(SimResponse::json(
        200,
        &json!({"elements": elements, "paging": paging(0, 10, total)}),
    ))
}

fn segment_create(
    inner: &mut Inner,
    req: &ApiRequest<'_>,
    now: Instant,
) -> Result<SimResponse, SimResponse> {
    let body = req.json()?;
    let obj = body.as_object().ok_or_else(|| {
        validation_error(
            400,
            vec![input_error(
                "",
                "INVALID_VALUE_FOR_FIELD",
                "The body must be a JSON object",
            )],
        )
    })?;
    let mut errors = Vec::new();
    let name = required_str(obj, "name", &mut errors);
    let platform = required_str(obj, "sourcePlatform", &mut errors);
    let account = required_str(obj, "account", &mut errors).and_then(|a| {
        let id = account_id_of(a);
        if id.is_none() {
            errors.push(input_error(
                "account",
                "INVALID_VALUE_FOR_FIELD",
                "account must be urn:li:sponsoredAccount:{id}",
            ));
        }
        id
    });
    let segment_type = required_str(obj, "type", &mut errors).and_then(|t| {
        let parsed = SegmentType::parse(t);
        if parsed.is_none() {
            errors.push(input_error(
                "type",
                "INVALID_VALUE_FOR_FIELD",
                "type must be USER or COMPANY",
            ));
        }
        parsed
    });
    let source_segment_id = match obj.get("sourceSegmentId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(input_error(
                "sourceSegmentId",
                "INVALID_VALUE_FOR_FIELD",
                "sourceSegmentId must be a string",
            ));
            None
        }
    };
    let destinations_ok = obj
        .get("destinations")
        .and_then(Value::as_array)
        .is_some_and(|d| !d.is_empty());
    if !destinations_ok {
        errors.push(input_error(
            "destinations",
            "REQUIRED_FIELD_MISSING",
            "destinations must be a non-empty array",
        ));
    }
    let (Some(name), Some(platform), Some(account), Some(segment_type), true) =
        (name, platform, account, segment_type, errors.is_empty())
    else {
        return Err(validation_error(400, errors));
    };
    if let Some(src) = &source_segment_id
        && let Some(existing) = inner.segments.iter().find(|e| {
            e.segment.account_id == account
                && e.segment.segment_type == segment_type
                && e.segment.source_segment_id.as_deref() == Some(src.as_str())
        })
    {
        return Err(error(
            409,
            "CONFLICT",
            &format!(
                "A {} DMP segment with sourceSegmentId {src} already exists in this account (id {})",
                segment_type.as_str(),
                existing.segment.id
            ),
        ));
    }
    let id = new_segment_id(inner);
    inner.segments.push(SegmentEntry {
        segment: DmpSegment {
            id,
            name: name.to_owned(),
            segment_type,
            account_id: account.to_owned(),
            source_segment_id,
            source_platform: platform.to_owned(),
            created_via_api: true,
        },
        created: now,
        lag: inner.config.segment_readiness,
        refused: 0,
    });
    Ok(SimResponse::empty(201)
        .with_header("x-linkedin-id", id.to_string())
        .with_header("x-restli-id", id.to_string()))
}

/// A fresh 9-digit id from the seeded RNG.
fn new_segment_id(inner: &mut Inner) -> u64 {
    for _ in 0..64 {
        let id = inner.id_rng.random_range(100_000_000..1_000_000_000u64);
        if !inner.segments.iter().any(|e| e.segment.id == id) {
            return id;
        }
    }
    inner
        .segments
        .iter()
        .map(|e| e.segment.id)
        .max()
        .unwrap_or(0)
        .saturating_add(1)
}

fn element_error(status: u16, message: &str) -> Value {
    json!({"status": status, "error": {"message": message, "status": status}})
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MemberAction {
    Add,
    Remove,
}

fn member_action(el: &Map<String, Value>) -> Result<MemberAction, String> {
    match el.get("action").and_then(Value::as_str) {
        Some("ADD") => Ok(MemberAction::Add),
        Some("REMOVE") => Ok(MemberAction::Remove),
        _ => Err("Invalid action: must be ADD or REMOVE".into()),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Validates a `/users` element; `Ok((action, member key))`.
fn user_member(el: &Value) -> Result<(MemberAction, String), String> {
    const TYPES: [&str; 6] = [
        "SHA256_EMAIL",
        "SHA512_EMAIL",
        "GOOGLE_AID",
        "APPLE_IDFA",
        "ACXIOM_ID",
        "ORACLE_MOAT_ID",
    ];
    let el = el.as_object().ok_or("The element must be an object")?;
    let action = member_action(el)?;
    let ids = match el.get("userIds") {
        None => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err("userIds must be an array".into()),
    };
    let mut first = None;
    for id in ids {
        let id_type = id.get("idType").and_then(Value::as_str).unwrap_or("");
        let value = id.get("idValue").and_then(Value::as_str).unwrap_or("");
        if !TYPES.contains(&id_type) {
            return Err(format!("Invalid idType {id_type:?}"));
        }
        if value.is_empty() {
            return Err("idValue must be a non-empty string".into());
        }
        if id_type == "SHA256_EMAIL" && !is_sha256_hex(value) {
            return Err("SHA256_EMAIL idValue must be a SHA-256 hex digest".into());
        }
        first.get_or_insert_with(|| format!("{id_type}:{value}"));
    }
    let key = first.ok_or("At least one user id is required")?;
    Ok((action, key))
}

fn is_domain(s: &str) -> bool {
    s.contains('.')
        && !s.starts_with('.')
        && !s.ends_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Validates a `/companies` element; `Ok((action, member key))`.
fn company_member(el: &Value) -> Result<(MemberAction, String), String> {
    let el = el.as_object().ok_or("The element must be an object")?;
    let action = member_action(el)?;
    let domain = match el.get("companyWebsiteDomain") {
        None => None,
        Some(Value::String(d)) if is_domain(d) => Some(d.as_str()),
        Some(_) => return Err("Invalid company website domain".into()),
    };
    let urn = match el.get("organizationUrn") {
        None => None,
        Some(Value::String(u))
            if u.strip_prefix(ORGANIZATION_URN)
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Some(u.as_str())
        }
        Some(_) => return Err("Invalid organization urn".into()),
    };
    let key = urn
        .or(domain)
        .ok_or("At least one of companyWebsiteDomain or organizationUrn is required")?;
    Ok((action, key.to_owned()))
}

fn elements_of(body: &Value) -> Result<&Vec<Value>, SimResponse> {
    let elements = body
        .get("elements")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            validation_error(
                400,
                vec![input_error(
                    "elements",
                    "REQUIRED_FIELD_MISSING",
                    "elements must be an array",
                )],
            )
        })?;
    if elements.len() > MAX_BATCH {
        return Err(bad_request(&format!(
            "A batch may hold at most {MAX_BATCH} elements"
        )));
    }
    Ok(elements)
}

fn segment_members(
    inner: &mut Inner,
    req: &ApiRequest<'_>,
    now: Instant,
    expected: SegmentType,
) -> Result<SimResponse, SimResponse> {
    if !req.restli_method_is("BATCH_CREATE") {
        return Err(bad_request(
            "This resource requires the header X-RestLi-Method: BATCH_CREATE",
        ));
    }
    let raw_id = req.route.key;
    let id: u64 = raw_id.parse().map_err(|_| segment_not_found(raw_id))?;
    let entry = inner
        .segments
        .iter_mut()
        .find(|e| e.segment.id == id)
        .ok_or_else(|| segment_not_found(raw_id))?;
    if still_lagging(&entry.lag, entry.created, entry.refused, now) {
        entry.refused = entry.refused.saturating_add(1);
        return Err(segment_not_found(raw_id));
    }
    if entry.segment.segment_type != expected {
        return Err(bad_request(&format!(
            "DMP segment {id} is a {} segment",
            entry.segment.segment_type.as_str()
        )));
    }
    let body = req.json()?;
    let elements = elements_of(&body)?;
    let members = inner.members.entry(id).or_default();
    let counts = inner.dedup.members.entry(id).or_default();
    let statuses: Vec<Value> = elements
        .iter()
        .map(|el| {
            let parsed = match expected {
                SegmentType::User => user_member(el),
                SegmentType::Company => company_member(el),
            };
            match parsed {
                Ok((action, key)) => {
                    let delivered = counts.entry(key.clone()).or_default();
                    match action {
                        MemberAction::Add => {
                            members.adds += 1;
                            delivered.adds += 1;
                            members.current.insert(key);
                        }
                        MemberAction::Remove => {
                            members.removes += 1;
                            delivered.removes += 1;
                            members.current.remove(&key);
                        }
                    }
                    json!({"status": 201})
                }
                Err(message) => {
                    members.rejected += 1;
                    element_error(400, &message)
                }
            }
        })
        .collect();
    Ok(SimResponse::json(200, &json!({"elements": statuses})))
}

// ---------------------------------------------------------------------------------------------
// Conversion events

/// Why a conversion element was refused: its status and LinkedIn's error body.
struct Refusal {
    status: u16,
    body: Value,
}

impl Refusal {
    fn invalid(field: &str, code: &str, description: &str) -> Self {
        Self {
            status: 400,
            body: validation_failed_body(400, vec![input_error(field, code, description)]),
        }
    }

    fn message(&self) -> String {
        self.body
            .pointer("/errorDetails/inputErrors/0/description")
            .or_else(|| self.body.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("Invalid conversion event")
            .to_owned()
    }
}

struct AcceptedConversion {
    rule_id: String,
    event_id: Option<String>,
    happened_at: i64,
}

fn validate_conversion(
    inner: &Inner,
    el: &Value,
    now_ms: i64,
) -> Result<AcceptedConversion, Refusal> {
    const ID_TYPES: [&str; 5] = [
        "SHA256_EMAIL",
        "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
        "AXCIOM_ID",
        "ACXIOM_ID",
        "ORACLE_MOAT_ID",
    ];
    let obj = el.as_object().ok_or_else(|| {
        Refusal::invalid(
            "",
            "INVALID_VALUE_FOR_FIELD",
            "The conversion event must be a JSON object",
        )
    })?;
    let conversion = match obj.get("conversion") {
        None => {
            return Err(Refusal::invalid(
                "conversion",
                "REQUIRED_FIELD_MISSING",
                "conversion is required",
            ));
        }
        Some(v) => v.as_str().unwrap_or(""),
    };
    let rule_id = conversion
        .strip_prefix(CONVERSION_URN)
        .filter(|id| inner.rules.iter().any(|r| r.id == *id))
        .ok_or_else(|| Refusal {
            status: 400,
            body: json!({"status": 400, "serviceErrorCode": 100, "code": "INVALID_CONVERSION_RULE", "message": "Invalid conversion rule ID"}),
        })?;
    let happened_at = match obj.get("conversionHappenedAt") {
        None => {
            return Err(Refusal::invalid(
                "conversionHappenedAt",
                "REQUIRED_FIELD_MISSING",
                "conversionHappenedAt is required",
            ));
        }
        Some(v) => v.as_i64().ok_or_else(|| {
            Refusal::invalid(
                "conversionHappenedAt",
                "INVALID_VALUE_FOR_FIELD",
                "conversionHappenedAt must be epoch milliseconds",
            )
        })?,
    };
    if happened_at < now_ms.saturating_sub(NINETY_DAYS_MS) {
        return Err(Refusal::invalid(
            "conversionHappenedAt",
            "FIELD_VALUE_TOO_LOW",
            "conversionHappenedAt must be within the past 90 days",
        ));
    }
    if let Some(value) = obj.get("conversionValue") {
        let currency_ok = value
            .get("currencyCode")
            .and_then(Value::as_str)
            .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()));
        if !currency_ok {
            return Err(Refusal::invalid(
                "conversionValue/currencyCode",
                "INVALID_VALUE_FOR_FIELD",
                "currencyCode must be an ISO 4217 code",
            ));
        }
        let amount_ok = value
            .get("amount")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<f64>().ok())
            .is_some_and(f64::is_finite);
        if !amount_ok {
            return Err(Refusal::invalid(
                "conversionValue/amount",
                "INVALID_VALUE_FOR_FIELD",
                "amount must be a decimal number in a string",
            ));
        }
    }
    let event_id = match obj.get("eventId") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(Refusal::invalid(
                "eventId",
                "INVALID_VALUE_FOR_FIELD",
                "eventId must be a string",
            ));
        }
    };
    let user = obj.get("user").and_then(Value::as_object);
    let ids = user.and_then(|u| u.get("userIds"));
    let ids = match ids {
        None => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => {
            return Err(Refusal::invalid(
                "user/userIds",
                "INVALID_VALUE_FOR_FIELD",
                "userIds must be an array",
            ));
        }
    };
    for (i, id) in ids.iter().enumerate() {
        let id_type = id.get("idType").and_then(Value::as_str).unwrap_or("");
        let value = id.get("idValue").and_then(Value::as_str).unwrap_or("");
        if !ID_TYPES.contains(&id_type) {
            return Err(Refusal::invalid(
                &format!("user/userIds/{i}/idType"),
                "INVALID_VALUE_FOR_FIELD",
                "Unknown idType",
            ));
        }
        if value.is_empty() || (id_type == "SHA256_EMAIL" && !is_sha256_hex(value)) {
            return Err(Refusal::invalid(
                &format!("user/userIds/{i}/idValue"),
                "INVALID_VALUE_FOR_FIELD",
                "Invalid idValue",
            ));
        }
    }
    let user_info = user.and_then(|u| u.get("userInfo"));
    if let Some(info) = user_info {
        for field in ["firstName", "lastName"] {
            if info
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(Refusal::invalid(
                    &format!("user/userInfo/{field}"),
                    "REQUIRED_FIELD_MISSING",
                    &format!("{field} is required in userInfo"),
                ));
            }
        }
    }
    if ids.is_empty() && user_info.is_none() {
        return Err(Refusal {
            status: 422,
            body: validation_failed_body(
                422,
                vec![input_error(
                    "user/userIds",
                    "REQUIRED_FIELD_MISSING",
                    "At least one user id or userInfo is required",
                )],
            ),
        });
    }
    Ok(AcceptedConversion {
        rule_id: rule_id.to_owned(),
        event_id,
        happened_at,
    })
}

fn accept_conversion(
    inner: &mut Inner,
    accepted: AcceptedConversion,
    element: &Value,
    batch: bool,
) {
    if let Some(id) = &accepted.event_id {
        *inner.dedup.conversion_events.entry(id.clone()).or_default() += 1;
    }
    inner.conversion_events.push(ReceivedConversion {
        rule_id: accepted.rule_id,
        event_id: accepted.event_id,
        conversion_happened_at: accepted.happened_at,
        batch,
        element: element.clone(),
    });
}

fn conversion_event(inner: &mut Inner, req: &ApiRequest<'_>) -> Result<SimResponse, SimResponse> {
    let body = req.json()?;
    let now_ms = inner.now_ms();
    let accepted = validate_conversion(inner, &body, now_ms)
        .map_err(|r| SimResponse::json(r.status, &r.body))?;
    accept_conversion(inner, accepted, &body, false);
    Ok(SimResponse::empty(201))
}

fn conversion_events_batch(
    inner: &mut Inner,
    req: &ApiRequest<'_>,
) -> Result<SimResponse, SimResponse> {
    let body = req.json()?;
    let elements = elements_of(&body)?;
    let now_ms = inner.now_ms();
    let statuses: Vec<Value> = elements
        .iter()
        .map(|el| match validate_conversion(inner, el, now_ms) {
            Ok(accepted) => {
                accept_conversion(inner, accepted, el, true);
                json!({"status": 201})
            }
            Err(refusal) => element_error(refusal.status, &refusal.message()),
        })
        .collect();
    Ok(SimResponse::json(200, &json!({"elements": statuses})))
}
