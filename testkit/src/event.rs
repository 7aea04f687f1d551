//! Event builders: [`create_test_event`] with the reference's defaults (`createTestEvent`).

use serde_json::{Map, Value, json};

/// The reference's default user agent of test events.
pub const TEST_USER_AGENT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 9_1 like Mac OS X) AppleWebKit/601.1.46 (KHTML, like Gecko) Version/9.0 Mobile/13B143 Safari/601.1";

/// How ids and timestamps of a test event are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Stamp {
    /// A random `messageId` (UUID v4) and the current time — the reference's behaviour.
    Now,
    /// A `messageId` derived from the seed and a fixed timestamp (milliseconds since the epoch):
    /// the same inputs always give the same event.
    Fixed {
        /// Seed of the message id.
        seed: u64,
        /// The timestamp.
        now_ms: i64,
    },
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn seeded_uuid(seed: u64) -> String {
    // splitmix64 → 128 bits formatted as a v4 UUID.
    let mut x = seed;
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let a = next();
    let b = next();
    let bytes: Vec<u8> = a.to_be_bytes().into_iter().chain(b.to_be_bytes()).collect();
    let mut b16 = [0u8; 16];
    b16.copy_from_slice(&bytes);
    b16[6] = (b16[6] & 0x0f) | 0x40;
    b16[8] = (b16[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b16).to_string()
}

/// A test event with the reference's defaults, shallow-merged with `overrides` (so an
/// overriding `context` replaces the default context wholesale, as in the reference).
///
/// ```
/// use actions_testkit::{create_test_event, Stamp};
/// let e = create_test_event(serde_json::json!({"event": "Order Completed"}), Stamp::Fixed { seed: 1, now_ms: 0 });
/// assert_eq!(e["event"], "Order Completed");
/// assert_eq!(e["userId"], "user1234");
/// assert_eq!(e["timestamp"], "1970-01-01T00:00:00.000Z");
/// ```
pub fn create_test_event(overrides: Value, stamp: Stamp) -> Value {
    let (message_id, now) = match stamp {
        Stamp::Now => (
            uuid::Uuid::new_v4().to_string(),
            iso(chrono::Utc::now().timestamp_millis()),
        ),
        Stamp::Fixed { seed, now_ms } => (seeded_uuid(seed), iso(now_ms)),
    };
    let mut event = json!({
        "anonymousId": "anonId1234",
        "context": {
            "ip": "8.8.8.8",
            "library": {"name": "analytics.js", "version": "2.11.1"},
            "locale": "en-US",
            "location": {
                "city": "San Francisco",
                "country": "United States",
                "latitude": 40.2964197,
                "longitude": -76.9411617,
                "speed": 0
            },
            "page": {
                "path": "/academy/",
                "referrer": "",
                "search": "",
                "title": "Analytics Academy",
                "url": "https://segment.com/academy/"
            },
            "timezone": "Europe/Amsterdam",
            "userAgent": TEST_USER_AGENT
        },
        "event": "Test Event",
        "messageId": message_id,
        "properties": {},
        "receivedAt": now,
        "sentAt": now,
        "timestamp": now,
        "traits": {},
        "type": "track",
        "userId": "user1234"
    });
    if let (Value::Object(base), Value::Object(over)) = (&mut event, overrides) {
        merge_shallow(base, over);
    }
    event
}

fn merge_shallow(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (k, v) in over {
        base.insert(k, v);
    }
}
