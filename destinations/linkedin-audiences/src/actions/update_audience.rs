//! `updateAudience` ("Sync To LinkedIn DMP Segment"): adds people to or removes them from the
//! LinkedIn DMP segment of an Engage audience, identified by their SHA-256 hashed email and/or
//! Google advertising id.
//!
//! For each segment: the segment id comes from the state cache (`dmpsegment_id_<source segment
//! id>`), else from the lookup `GET /rest/dmpSegments?q=account&…` (cached 24 hours), else a
//! new USER segment is created (cached without expiry); then the members go to
//! `POST /rest/dmpSegments/{id}/users` as one BATCH_CREATE request per 5,000 elements.
//!
//! ```
//! use actions_core::prelude::*;
//! use linkedin_audiences::actions::update_audience::{UpdateAudience, user_element};
//! use linkedin_audiences::Settings;
//!
//! let fields = Action::fields(&UpdateAudience).unwrap();
//! assert!(fields["personas_audience_key"].is_required());
//!
//! let settings = Settings { ad_account_id: "1".into(), send_email: true, send_google_advertising_id: true };
//! let payload = serde_json::from_value(json!({
//!     "personas_audience_key": "vips", "email": "testing@testing.com",
//!     "event_name": "Audience Exited", "first_name": "Jo"
//! })).unwrap();
//! let element = user_element(&payload, &settings).unwrap();
//! assert_eq!(
//!     serde_json::to_value(&element).unwrap(),
//!     json!({"action": "REMOVE", "userIds": [{"idType": "SHA256_EMAIL",
//!         "idValue": "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777"}],
//!         "firstName": "Jo"})
//! );
//! ```

use std::borrow::Cow;

use actions_core::prelude::*;
use linkedin_common::process_hashing;
use serde::{Deserialize, Serialize};

use super::{fail_part, group_by, path_or};
use crate::Settings;
use crate::api::{self, MAX_ELEMENTS_PER_REQUEST, SegmentType};

/// The prefix of the state-cache key of a segment id (`dmpsegment_id_<source segment id>`).
pub const CACHE_KEY_PREFIX: &str = "dmpsegment_id_";

/// `At least one of `Send Email` or `Send Google Advertising ID` must be set to `true`.`
pub const SEND_FLAGS_MESSAGE: &str =
    "At least one of `Send Email` or `Send Google Advertising ID` must be set to `true`.";

/// The payload of `updateAudience`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub struct UpdateAudiencePayload {
    /// The name the DMP segment gets in LinkedIn when this destination creates it. Defaults to
    /// the Engage audience key.
    #[schemars(
        title = "DMP Segment Display Name",
        extend("x-field" = {"default": path_or("$.properties.audience_key", "$.context.personas.computation_key")})
    )]
    pub dmp_segment_name: Option<String>,
    /// Send users in batches.
    #[schemars(
        title = "Enable Batching",
        extend("x-field" = {"default": true, "unsafe_hidden": true})
    )]
    pub enable_batching: Option<bool>,
    /// The user's email address. Sent as its SHA-256 hash (a value that already is a SHA-256
    /// hex digest is sent unchanged) when "Send Email" is on.
    #[schemars(
        title = "User Email",
        extend("x-field" = {"category": "hashedPII", "default": path_or("$.context.traits.email", "$.traits.email")})
    )]
    pub email: Option<String>,
    /// The user's first name.
    #[schemars(
        title = "User First Name",
        extend("x-field" = {"default": {"@path": "$.traits.firstName"}})
    )]
    pub first_name: Option<String>,
    /// The user's last name.
    #[schemars(
        title = "User Last Name",
        extend("x-field" = {"default": {"@path": "$.traits.lastName"}})
    )]
    pub last_name: Option<String>,
    /// The user's job title.
    #[schemars(
        title = "User Title",
        extend("x-field" = {"default": {"@path": "$.traits.title"}})
    )]
    pub title: Option<String>,
    /// The company the user works for.
    #[schemars(
        title = "User Company",
        extend("x-field" = {"default": {"@path": "$.traits.company"}})
    )]
    pub company: Option<String>,
    /// The user's country (ISO 3166 alpha-2 code).
    #[schemars(
        title = "User Country",
        extend("x-field" = {"default": {"@path": "$.traits.country"}})
    )]
    pub country: Option<String>,
    /// The user's Google advertising id (Android), sent as is when "Send Google Advertising ID"
    /// is on.
    #[schemars(
        title = "User Google Advertising ID",
        extend("x-field" = {"unsafe_hidden": true,
            "default": {"@path": "$.context.device.advertisingId"}})
    )]
    pub google_advertising_id: Option<String>,
    /// The id the segment is cached under. With the "Auto Detect" action it must equal the
    /// Engage audience key.
    #[schemars(
        title = "LinkedIn Source Segment ID",
        extend("x-field" = {"unsafe_hidden": true, "default": path_or("$.properties.audience_key", "$.context.personas.computation_key")})
    )]
    pub source_segment_id: Option<String>,
    /// The Engage audience key: the `sourceSegmentId` the DMP segment is looked up and created
    /// with.
    #[schemars(
        title = "Segment Engage Audience Key",
        extend("x-field" = {"default": path_or("$.properties.audience_key", "$.context.personas.computation_key")})
    )]
    pub personas_audience_key: String,
    /// The event name; with "Auto Detect", `Audience Exited` removes the user and anything else
    /// adds them.
    #[schemars(
        title = "Event Name",
        extend("x-field" = {"unsafe_hidden": true, "default": {"@path": "$.event"}})
    )]
    pub event_name: Option<String>,
    /// Whether the user is added to or removed from the segment; "Auto Detect" decides from the
    /// event name.
    #[schemars(
        title = "DMP User Action",
        extend("x-field" = {"default": "AUTO", "choices": [
            {"value": "AUTO", "label": "Auto Detect"},
            {"value": "ADD", "label": "Add"},
            {"value": "REMOVE", "label": "Remove"}]})
    )]
    pub dmp_user_action: Option<String>,
}

/// The `updateAudience` action.
#[derive(Clone, Copy, Debug, Default)]
pub struct UpdateAudience;

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

fn is_auto(payload: &UpdateAudiencePayload) -> bool {
    matches!(payload.dmp_user_action.as_deref(), None | Some("" | "AUTO"))
}

/// `ADD` or `REMOVE` for a payload: the explicit action, else (Auto Detect) `REMOVE` for an
/// `Audience Exited` event and `ADD` for anything else.
pub fn user_action(payload: &UpdateAudiencePayload) -> &'static str {
    match payload.dmp_user_action.as_deref() {
        Some("REMOVE") => "REMOVE",
        _ if is_auto(payload) && payload.event_name.as_deref() == Some("Audience Exited") => {
            "REMOVE"
        }
        _ => "ADD",
    }
}

/// One user as it is sent (`{action, userIds, firstName?, lastName?, title?, company?,
/// country?}`, in this key order), borrowing from its payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserElement<'a> {
    action: &'static str,
    #[serde(rename = "userIds")]
    user_ids: Vec<UserId<'a>>,
    #[serde(rename = "firstName", skip_serializing_if = "Option::is_none")]
    first_name: Option<&'a str>,
    #[serde(rename = "lastName", skip_serializing_if = "Option::is_none")]
    last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    company: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
}

/// `{"idType", "idValue"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct UserId<'a> {
    #[serde(rename = "idType")]
    id_type: &'static str,
    #[serde(rename = "idValue")]
    id_value: Cow<'a, str>,
}

/// The element sent for one payload, or `None` when it has neither an email nor a Google
/// advertising id. `userIds` may be empty (e.g. only an email while "Send Email" is off): the
/// element is still sent, as the reference does.
pub fn user_element<'a>(
    payload: &'a UpdateAudiencePayload,
    settings: &Settings,
) -> Option<UserElement<'a>> {
    let email = non_empty(&payload.email);
    let gaid = non_empty(&payload.google_advertising_id);
    if email.is_none() && gaid.is_none() {
        return None;
    }
    let mut user_ids = Vec::with_capacity(2);
    if let Some(email) = email.filter(|_| settings.send_email) {
        user_ids.push(UserId {
            id_type: "SHA256_EMAIL",
            id_value: Cow::Owned(process_hashing(email, None)),
        });
    }
    if let Some(gaid) = gaid.filter(|_| settings.send_google_advertising_id) {
        user_ids.push(UserId {
            id_type: "GOOGLE_AID",
            id_value: Cow::Borrowed(gaid),
        });
    }
    Some(UserElement {
        action: user_action(payload),
        user_ids,
        first_name: non_empty(&payload.first_name),
        last_name: non_empty(&payload.last_name),
        title: non_empty(&payload.title),
        company: non_empty(&payload.company),
        country: non_empty(&payload.country),
    })
}

/// The reference's checks, on the first payload of a segment: the source segment id must equal
/// the audience key under "Auto Detect", and at least one identifier must be enabled.
fn validate(first: &UpdateAudiencePayload, settings: &Settings) -> Result<(), Error> {
    if is_auto(first) && first.source_segment_id.as_deref() != Some(&first.personas_audience_key) {
        return Err(Error::integration(
            "The value of `source_segment_id` and `personas_audience_key` must match.",
            "INVALID_SETTINGS",
            400,
        ));
    }
    check_send_flags(settings)
}

fn check_send_flags(settings: &Settings) -> Result<(), Error> {
    if !settings.send_email && !settings.send_google_advertising_id {
        return Err(Error::integration(
            SEND_FLAGS_MESSAGE,
            "INVALID_SETTINGS",
            400,
        ));
    }
    Ok(())
}

/// The id of the segment of `first`: cached, looked up, or created.
async fn resolve_segment_id(
    client: &RequestClient,
    settings: &Settings,
    state: &dyn StateContext,
    first: &UpdateAudiencePayload,
) -> Result<String, Error> {
    // The reference caches under `dmpsegment_id_undefined` when there is no source segment id,
    // which makes unrelated audiences share one segment; such payloads are not cached.
    let cache_key = first
        .source_segment_id
        .as_deref()
        .map(|id| format!("{CACHE_KEY_PREFIX}{id}"));
    if let Some(cached) = cache_key
        .as_deref()
        .and_then(|k| state.get(k))
        .filter(|v| !v.is_empty())
    {
        return Ok(cached);
    }
    let lookup = api::lookup_segments(
        client,
        &settings.ad_account_id,
        &first.personas_audience_key,
        false,
    )
    .await?;
    let body = lookup.json()?;
    if let Some(found) = api::elements_of(&body)?.first() {
        let id = found.get("id").and_then(api::id_text).ok_or_else(|| {
            Error::integration(
                "LinkedIn's DMP segment lookup returned a segment without an id.",
                codes::UNKNOWN_ERROR,
                502,
            )
        })?;
        if let Some(key) = &cache_key {
            state.set(key, id.clone(), Ttl::hours(24));
        }
        return Ok(id);
    }
    let created = api::create_segment(
        client,
        api::create_segment_body(
            first.dmp_segment_name.as_deref(),
            &first.personas_audience_key,
            &settings.ad_account_id,
            SegmentType::User,
        ),
        false,
    )
    .await?;
    // The reference reads only `x-linkedin-id` and would otherwise post to
    // `/dmpSegments/undefined/users`; LinkedIn also sends the id as `x-restli-id`.
    let id = ["x-linkedin-id", "x-restli-id"]
        .into_iter()
        .filter_map(|h| created.header(h))
        .find(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::integration(
                "LinkedIn did not return an id for the newly created DMP Segment.",
                "CREATE_SEGMENT_FAILURE",
                500,
            )
        })?;
    if let Some(key) = &cache_key {
        state.set(key, id.clone(), Ttl::NONE);
    }
    Ok(id)
}

/// Sends one request's elements; only status 200 is a success.
async fn send_users(
    client: &RequestClient,
    segment_id: &str,
    elements: &[UserElement<'_>],
) -> Result<Response, Error> {
    let response = api::update_members(client, segment_id, SegmentType::User, elements).await?;
    match response.status() {
        200 => Ok(response),
        401 => Err(Error::invalid_authentication(
            "Invalid LinkedIn OAuth access token. Please reauthenticate to retrieve a valid access token.",
        )),
        _ => Err(Error::retryable(
            "Error while attempting to update LinkedIn DMP Segment. This batch will be retried.",
            500,
        )),
    }
}

/// The payloads of one request: consecutive payloads of a segment holding at most
/// [`MAX_ELEMENTS_PER_REQUEST`] elements. Each item is a payload index with the position of its
/// element in the request (`None` for a payload without identifiers, which rides along without
/// an element and shares the request's result).
struct Chunk<'a> {
    items: Vec<(usize, Option<usize>)>,
    elements: Vec<UserElement<'a>>,
}

fn chunks<'a>(
    payloads: &'a [UpdateAudiencePayload],
    indices: &[usize],
    settings: &Settings,
) -> Vec<Chunk<'a>> {
    let mut out = vec![Chunk {
        items: Vec::new(),
        elements: Vec::new(),
    }];
    for &i in indices {
        let element = payloads.get(i).and_then(|p| user_element(p, settings));
        if element.is_some()
            && out
                .last()
                .is_some_and(|c| c.elements.len() >= MAX_ELEMENTS_PER_REQUEST)
        {
            out.push(Chunk {
                items: Vec::new(),
                elements: Vec::new(),
            });
        }
        if let Some(chunk) = out.last_mut() {
            let position = element.is_some().then_some(chunk.elements.len());
            chunk.items.push((i, position));
            chunk.elements.extend(element);
        }
    }
    out
}

/// The most JSON values a request's answer may be copied into (items × answered elements) for
/// every item to get the whole answer, as in the reference. Beyond it each item gets only its
/// own element's result: copying the whole answer into every item grows with the square of the
/// batch (5,000 items × 5,000 results would be 25 million values).
pub const WHOLE_BODY_BUDGET: usize = 4096;

/// The `body` of each item of a successful request: the whole answer within
/// [`WHOLE_BODY_BUDGET`], else the item's own element result (`{}` for an item without one).
fn item_bodies(response: &Response, chunk_items: &[(usize, Option<usize>)]) -> Vec<Value> {
    let results = response
        .data()
        .and_then(|d| d.get("elements"))
        .and_then(Value::as_array);
    let answered = results.map_or(0, Vec::len);
    if chunk_items.len().saturating_mul(answered.max(1)) <= WHOLE_BODY_BUDGET {
        let whole = response.result_data();
        return vec![whole; chunk_items.len()];
    }
    chunk_items
        .iter()
        .map(|(_, position)| {
            position
                .and_then(|j| results.and_then(|r| r.get(j)))
                .cloned()
                .unwrap_or_else(|| json!({}))
        })
        .collect()
}

#[async_trait]
impl Action<Settings> for UpdateAudience {
    type Payload = UpdateAudiencePayload;

    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new(
            "updateAudience",
            "Sync To LinkedIn DMP Segment",
            "Syncs contacts from a Personas Audience to a LinkedIn DMP Segment.",
        )
        .default_subscription("event = \"Audience Entered\" or event = \"Audience Exited\"")
    }

    async fn perform(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, UpdateAudiencePayload>,
    ) -> Result<Option<Value>, Error> {
        api::require_access_token(input.auth)?;
        let payload = &input.payload;
        validate(payload, input.settings)?;
        let segment_id = resolve_segment_id(
            client,
            input.settings,
            input.services.state.as_ref(),
            payload,
        )
        .await?;
        let Some(element) = user_element(payload, input.settings) else {
            return Ok(None);
        };
        let response = send_users(client, &segment_id, &[element]).await?;
        Ok(Some(response.result_data()))
    }

    fn supports_batch(&self) -> bool {
        true
    }

    /// One request per segment and per 5,000 elements. An error that concerns the whole batch
    /// (one segment in one request, as in the reference; credentials) fails it; an error of one
    /// segment or one request of several marks only its items.
    async fn perform_batch(
        &self,
        client: &RequestClient,
        input: ExecuteInput<'_, Settings, Vec<UpdateAudiencePayload>>,
    ) -> Result<BatchResponse, Error> {
        api::require_access_token(input.auth)?;
        let settings = input.settings;
        let payloads = &input.payload;
        let groups = group_by(payloads.iter().enumerate().map(|(i, p)| {
            (
                i,
                (
                    p.source_segment_id.as_deref(),
                    p.personas_audience_key.as_str(),
                ),
            )
        }));
        let whole = groups.len() == 1;
        if !whole {
            check_send_flags(settings)?;
        }
        let sent = |i: usize| input.payload_json.get(i).cloned();
        let mut statuses = MultiStatusResponse::new();
        for (_, indices) in &groups {
            let Some(first) = indices.first().and_then(|&i| payloads.get(i)) else {
                continue;
            };
            let resolved = match validate(first, settings) {
                Ok(()) => {
                    resolve_segment_id(client, settings, input.services.state.as_ref(), first).await
                }
                Err(e) => Err(e),
            };
            let segment_id = match resolved {
                Ok(id) => id,
                Err(e) => {
                    fail_part(&mut statuses, e, whole, indices.iter().map(|&i| (i, None)))?;
                    continue;
                }
            };
            let chunks = chunks(payloads, indices, settings);
            let single_request = whole && chunks.len() == 1;
            for chunk in chunks {
                // Payloads without identifiers alone in a request send nothing and succeed.
                let answered = if chunk.elements.is_empty() {
                    Ok((200, vec![json!({}); chunk.items.len()]))
                } else {
                    send_users(client, &segment_id, &chunk.elements)
                        .await
                        .map(|response| (response.status(), item_bodies(&response, &chunk.items)))
                };
                match answered {
                    Ok((status, bodies)) => {
                        for (&(i, _), body) in chunk.items.iter().zip(bodies) {
                            let body = Some(body);
                            let sent = sent(i);
                            statuses.set_at(i, MultiStatusEntry::Success { status, sent, body });
                        }
                    }
                    Err(e) => {
                        let items = chunk.items.iter().map(|&(i, _)| (i, sent(i)));
                        fail_part(&mut statuses, e, single_request, items)?;
                    }
                }
            }
        }
        Ok(BatchResponse::MultiStatus(statuses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(send_email: bool, send_gaid: bool) -> Settings {
        Settings {
            ad_account_id: "123".into(),
            send_email,
            send_google_advertising_id: send_gaid,
        }
    }

    fn payload(v: Value) -> UpdateAudiencePayload {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn action_follows_the_explicit_choice_then_the_event() {
        let p = |action: Option<&str>, event: &str| UpdateAudiencePayload {
            dmp_user_action: action.map(str::to_string),
            event_name: Some(event.to_string()),
            ..UpdateAudiencePayload::default()
        };
        assert_eq!(user_action(&p(Some("ADD"), "Audience Exited")), "ADD");
        assert_eq!(
            user_action(&p(Some("REMOVE"), "Audience Entered")),
            "REMOVE"
        );
        assert_eq!(user_action(&p(Some("AUTO"), "Audience Exited")), "REMOVE");
        assert_eq!(user_action(&p(None, "Audience Exited")), "REMOVE");
        assert_eq!(user_action(&p(Some("AUTO"), "Audience Entered")), "ADD");
        assert_eq!(user_action(&p(None, "Order Completed")), "ADD");
    }

    #[test]
    fn identifiers_follow_the_send_flags() {
        let p = payload(
            json!({"personas_audience_key": "k", "email": "testing@testing.com",
            "google_advertising_id": "gaid-1"}),
        );
        let ids = |s: &Settings| {
            user_element(&p, s).map(|e| serde_json::to_value(e).unwrap()["userIds"].clone())
        };
        assert_eq!(
            ids(&settings(true, true)),
            Some(json!([
                {"idType": "SHA256_EMAIL", "idValue": "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777"},
                {"idType": "GOOGLE_AID", "idValue": "gaid-1"}
            ]))
        );
        assert_eq!(
            ids(&settings(false, true)),
            Some(json!([{"idType": "GOOGLE_AID", "idValue": "gaid-1"}]))
        );
        let email_only = payload(json!({"personas_audience_key": "k", "email": "a@b.c"}));
        assert_eq!(
            user_element(&email_only, &settings(false, true))
                .map(|e| serde_json::to_value(e).unwrap()["userIds"].clone()),
            Some(json!([]))
        );
        let none = payload(json!({"personas_audience_key": "k", "first_name": "Jo"}));
        assert_eq!(user_element(&none, &settings(true, true)), None);
    }

    #[test]
    fn email_is_hashed_exactly_as_given() {
        let p = payload(json!({"personas_audience_key": "k", "email": " Foo@Bar.com "}));
        assert_eq!(
            serde_json::to_value(user_element(&p, &settings(true, true)).unwrap()).unwrap()["userIds"]
                [0]["idValue"],
            "343742730613e8de7840f39b3039979d89ca623c2dcb35b1c125f96c271c5ce7"
        );
    }

    #[test]
    fn auto_requires_matching_keys() {
        let s = settings(true, true);
        let mismatched = payload(json!({"personas_audience_key": "a", "source_segment_id": "b"}));
        assert_eq!(
            validate(&mismatched, &s).unwrap_err().message(),
            "The value of `source_segment_id` and `personas_audience_key` must match."
        );
        let explicit = UpdateAudiencePayload {
            dmp_user_action: Some("ADD".into()),
            ..mismatched
        };
        assert!(validate(&explicit, &s).is_ok());
        let matched = payload(json!({"personas_audience_key": "a", "source_segment_id": "a"}));
        assert_eq!(
            validate(&matched, &settings(false, false))
                .unwrap_err()
                .message(),
            SEND_FLAGS_MESSAGE
        );
    }

    fn json_response(body: &Value) -> Response {
        Response::new(
            200,
            "https://api.linkedin.com/rest/dmpSegments/1/users",
            vec![("content-type".into(), "application/json".into())],
            body.to_string(),
        )
    }

    #[test]
    fn small_answers_go_whole_to_every_item() {
        let answer = json!({"elements": [{"status": 201}, {"status": 201}]});
        let items = [(0, Some(0)), (1, None), (2, Some(1))];
        assert_eq!(
            item_bodies(&json_response(&answer), &items),
            vec![answer.clone(), answer.clone(), answer]
        );
    }

    #[test]
    fn large_answers_are_split_per_item() {
        let n = 100;
        assert!(n * n > WHOLE_BODY_BUDGET);
        let answer =
            json!({"elements": (0..n).map(|j| json!({"status": 201, "j": j})).collect::<Vec<_>>()});
        let items: Vec<(usize, Option<usize>)> =
            (0..n).map(|j| (j, Some(j))).chain([(n, None)]).collect();
        let bodies = item_bodies(&json_response(&answer), &items);
        assert_eq!(bodies.len(), n + 1);
        assert_eq!(bodies[7], json!({"status": 201, "j": 7}));
        assert_eq!(bodies[n], json!({}));
    }

    #[test]
    fn chunks_hold_at_most_the_linkedin_limit() {
        let s = settings(true, true);
        let mut payloads = Vec::new();
        for i in 0..(2 * MAX_ELEMENTS_PER_REQUEST + 3) {
            payloads.push(UpdateAudiencePayload {
                personas_audience_key: "k".into(),
                email: (i % 7 != 3).then(|| format!("u{i}@example.com")),
                ..UpdateAudiencePayload::default()
            });
        }
        let indices: Vec<usize> = (0..payloads.len()).collect();
        let out = chunks(&payloads, &indices, &s);
        let sent: usize = out.iter().map(|c| c.elements.len()).sum();
        let expected = payloads.iter().filter(|p| p.email.is_some()).count();
        assert_eq!(sent, expected);
        assert!(
            out.iter()
                .all(|c| c.elements.len() <= MAX_ELEMENTS_PER_REQUEST)
        );
        assert_eq!(out.len(), expected.div_ceil(MAX_ELEMENTS_PER_REQUEST));
        let covered: Vec<usize> = out
            .iter()
            .flat_map(|c| c.items.iter().map(|(i, _)| *i))
            .collect();
        assert_eq!(covered, indices);
        for c in &out {
            let positions: Vec<usize> = c.items.iter().filter_map(|(_, p)| *p).collect();
            assert_eq!(positions, (0..c.elements.len()).collect::<Vec<_>>());
        }
    }
}
