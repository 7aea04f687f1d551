//! A scripted destination for relay's tests: each `messageId` answers from a script (deliver,
//! or fail with a status, headers and body); every call is recorded with tokio's time, so
//! paused-time tests can check when relay retried. Scripts are keyed by the `script` setting,
//! so tests running at once do not share them.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use actions_core::action::{MultiStatusEntry, MultiStatusResponse};
use actions_core::prelude::*;
use destination_registry::{Registry, entry};
use relay::Relay;
use relay::config::Config;
use serde::Deserialize;
use tokio::time::Instant;

/// One answer.
#[derive(Clone, Debug)]
pub enum Answer {
    Ok,
    /// Deliver after this long.
    Slow(std::time::Duration),
    Fail {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

pub fn fail(status: u16) -> Answer {
    Answer::Fail {
        status,
        headers: Vec::new(),
        body: String::new(),
    }
}

pub fn fail_with(status: u16, header: &str, value: &str) -> Answer {
    Answer::Fail {
        status,
        headers: vec![(header.to_string(), value.to_string())],
        body: String::new(),
    }
}

#[derive(Default)]
pub struct Script {
    answers: HashMap<String, VecDeque<Answer>>,
    /// (time, batch of messageIds) per call.
    pub calls: Vec<(Instant, Vec<String>)>,
}

fn scripts() -> &'static Mutex<HashMap<String, Script>> {
    static S: OnceLock<Mutex<HashMap<String, Script>>> = OnceLock::new();
    S.get_or_init(Default::default)
}

/// Scripts `answers` for `message_id` in script `name` (then it delivers).
pub fn script(name: &str, message_id: &str, answers: Vec<Answer>) {
    let mut all = scripts().lock().unwrap();
    all.entry(name.to_string())
        .or_default()
        .answers
        .insert(message_id.to_string(), answers.into());
}

/// The calls of script `name`.
pub fn calls(name: &str) -> Vec<(Instant, Vec<String>)> {
    scripts()
        .lock()
        .unwrap()
        .get(name)
        .map(|s| s.calls.clone())
        .unwrap_or_default()
}

fn next(name: &str, ids: &[String]) -> Vec<Answer> {
    let mut all = scripts().lock().unwrap();
    let s = all.entry(name.to_string()).or_default();
    s.calls.push((Instant::now(), ids.to_vec()));
    ids.iter()
        .map(|id| {
            s.answers
                .get_mut(id)
                .and_then(VecDeque::pop_front)
                .unwrap_or(Answer::Ok)
        })
        .collect()
}

fn to_error(status: u16, headers: Vec<(String, String)>, body: String) -> Error {
    Error::http(actions_core::request::Response::new(
        status,
        "https://scripted.example/send",
        headers,
        body,
    ))
}

#[derive(Deserialize, JsonSchema)]
pub struct Settings {
    /// The script name.
    #[schemars(title = "Script")]
    pub script: String,
}

#[derive(Deserialize, JsonSchema)]
pub struct Payload {
    /// The message id.
    #[schemars(title = "Id", extend("x-field" = {"default": {"@path": "$.messageId"}}))]
    pub id: String,
}

/// One event: the script's next answer for its id.
async fn perform_one(input: &ExecuteInput<'_, Settings, Payload>) -> Result<Option<Value>, Error> {
    let ids = vec![input.payload.id.clone()];
    match next(&input.settings.script, &ids).remove(0) {
        Answer::Ok => Ok(Some(json!({"id": format!("created-{}", ids[0])}))),
        Answer::Slow(d) => {
            tokio::time::sleep(d).await;
            Ok(Some(json!({"id": format!("created-{}", ids[0])})))
        }
        Answer::Fail {
            status,
            headers,
            body,
        } => Err(to_error(status, headers, body)),
    }
}

struct Send;

#[async_trait]
impl Action<Settings> for Send {
    type Payload = Payload;
    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("send", "Send", "Sends one.").default_subscription("type = \"track\"")
    }
    async fn perform(
        &self,
        _client: &RequestClient,
        input: ExecuteInput<'_, Settings, Payload>,
    ) -> Result<Option<Value>, Error> {
        perform_one(&input).await
    }
}

struct SendBatch;

#[async_trait]
impl Action<Settings> for SendBatch {
    type Payload = Payload;
    fn definition(&self) -> ActionDefinition {
        ActionDefinition::new("sendBatch", "Send batch", "Sends many.")
            .default_subscription("type = \"track\"")
    }
    async fn perform(
        &self,
        _client: &RequestClient,
        input: ExecuteInput<'_, Settings, Payload>,
    ) -> Result<Option<Value>, Error> {
        perform_one(&input).await
    }
    fn supports_batch(&self) -> bool {
        true
    }
    async fn perform_batch(
        &self,
        _client: &RequestClient,
        input: ExecuteInput<'_, Settings, Vec<Payload>>,
    ) -> Result<BatchResponse, Error> {
        let ids: Vec<String> = input.payload.iter().map(|p| p.id.clone()).collect();
        let answers = next(&input.settings.script, &ids);
        let mut ms = MultiStatusResponse::new();
        for (i, a) in answers.into_iter().enumerate() {
            ms.set_at(
                i,
                match a {
                    Answer::Ok | Answer::Slow(_) => MultiStatusEntry::Success {
                        status: 200,
                        sent: None,
                        body: Some(json!({"id": format!("created-{}", ids[i])})),
                    },
                    Answer::Fail { status, body, .. } => MultiStatusEntry::Error {
                        status,
                        errortype: None,
                        errormessage: format!("failed with {status}"),
                        sent: None,
                        body: (!body.is_empty()).then(|| Value::String(body)),
                    },
                },
            );
        }
        Ok(BatchResponse::MultiStatus(ms))
    }
}

pub struct Scripted;

impl Destination for Scripted {
    type Settings = Settings;
    fn definition(&self) -> DestinationDefinition {
        DestinationDefinition::new("Scripted", "actions-scripted", AuthScheme::Custom)
    }
    fn actions(&self) -> Vec<Arc<dyn DynAction<Settings>>> {
        vec![Arc::new(Send), Arc::new(SendBatch)]
    }
}

pub fn registry() -> Registry {
    Registry::new(vec![entry!("scripted", Scripted)])
}

/// A configuration with one scripted instance `dest` for `action`.
pub fn config(store: &std::path::Path, script: &str, action: &str, retry: &str) -> Config {
    scripted_config(
        store,
        script,
        action,
        Parts {
            retry,
            dest: "max_in_flight = 1",
            ..Parts::default()
        },
    )
}

/// The optional parts of [`scripted_config`]: `[retry]` lines, tables before the destination
/// (`[ingest]`), lines of the destination table and of its subscription.
#[derive(Default)]
pub struct Parts<'a> {
    pub retry: &'a str,
    pub top: &'a str,
    pub dest: &'a str,
    pub sub: &'a str,
}

/// One scripted instance `dest` for `action`, with `parts`; `${OTHER_KEY}` is `wk-second`.
pub fn scripted_config(
    store: &std::path::Path,
    script: &str,
    action: &str,
    parts: Parts<'_>,
) -> Config {
    let Parts {
        retry,
        top,
        dest,
        sub,
    } = parts;
    let text = format!(
        r#"
[store]
path = "{}"

[retry]
{retry}

{top}

[[destinations]]
id = "dest"
slug = "scripted"
{dest}
[destinations.settings]
script = "{script}"
[[destinations.subscriptions]]
partnerAction = "{action}"
{sub}
"#,
        store.display()
    );
    let env = |n: &str| (n == "OTHER_KEY").then(|| "wk-second".to_string());
    Config::parse_with_env(&text, "test.toml", &env).unwrap()
}

pub async fn relay(config: Config) -> Relay {
    builder(config).build().await.unwrap()
}

pub fn builder(config: Config) -> relay::RelayBuilder {
    Relay::builder(config).registry(registry()).jitter_seed(11)
}

pub fn track(id: &str) -> Value {
    json!({"type": "track", "event": "Order Completed", "messageId": id})
}
