//! The definition matches the reference's (`@segment/action-destinations` 3.497.0,
//! `destinations/webhook`): name, slug, scheme, the `sharedSecret` setting and every field of
//! `send` with its label, description, type, requirement, default and UI properties — plus the
//! one extension, `idempotency_key`, and the idempotency declaration.

use actions_core::prelude::*;
use webhook::Webhook;

#[test]
fn the_destination_matches_the_reference() {
    let runtime = DestinationRuntime::new(Webhook::new()).unwrap();
    let def = runtime.definition();
    assert_eq!(def.name, "Webhook");
    assert_eq!(def.slug, "actions-webhook");
    assert_eq!(def.mode, "cloud");
    assert_eq!(def.scheme, AuthScheme::Custom);
    assert!(def.presets.is_empty());
    assert_eq!(
        def.idempotency_key_header.as_deref(),
        Some("Idempotency-Key")
    );
    assert_eq!(
        serde_json::to_value(runtime.settings_fields()).unwrap(),
        json!({"sharedSecret": {
            "label": "Shared Secret",
            "description": "If set, Segment will sign requests with an HMAC in the \"X-Signature\" request header. The HMAC is a hex-encoded SHA1 hash generated using this shared secret and the request body.",
            "type": "password"
        }})
    );
}

#[test]
fn send_matches_the_reference() {
    let runtime = DestinationRuntime::new(Webhook::new()).unwrap();
    let (action, fields) = runtime.actions().next().unwrap();
    assert_eq!(action.key, "send");
    assert_eq!(action.title, "Send");
    assert_eq!(action.description, "Send an HTTP request.");
    assert_eq!(action.default_subscription, None);
    let mut fields = serde_json::to_value(fields).unwrap();
    // The extension, checked on its own below.
    let extension = fields
        .as_object_mut()
        .unwrap()
        .shift_remove("idempotency_key");
    assert_eq!(
        fields,
        json!({
            "url": {"label": "URL", "description": "URL to deliver data to.", "type": "string",
                    "required": true, "format": "uri", "placeholder": "https://example.com/webhook"},
            "method": {"label": "Method", "description": "HTTP method to use.", "type": "string",
                       "choices": [{"label": "POST", "value": "POST"}, {"label": "PUT", "value": "PUT"},
                                   {"label": "PATCH", "value": "PATCH"}],
                       "default": "POST", "required": true},
            "batch_size": {"label": "Batch Size",
                           "description": "Maximum number of events to include in each batch. Actual batch sizes may be lower.",
                           "type": "number", "default": 0},
            "headers": {"label": "Headers",
                        "description": "HTTP headers to send with each request. Only ASCII characters are supported.",
                        "type": "object", "defaultObjectUI": "keyvalue:only"},
            "data": {"label": "Data", "description": "Payload to deliver to webhook URL (JSON-encoded).",
                     "type": "object", "default": {"@path": "$."}},
            "batch_keys": {"label": "Batch Keys", "description": "The mapping keys to batch events together by.",
                           "type": "string", "multiple": true, "unsafe_hidden": true,
                           "default": ["url", "method", "headers"]}
        })
    );
    let order: Vec<&String> = fields.as_object().unwrap().keys().collect();
    assert_eq!(
        order,
        [
            "url",
            "method",
            "batch_size",
            "headers",
            "data",
            "batch_keys"
        ]
    );
    let extension = extension.unwrap();
    assert_eq!(extension["label"], "Idempotency Key");
    assert_eq!(extension["type"], "string");
    assert_eq!(extension["default"], json!({"@path": "$.messageId"}));
    assert!(extension.get("required").is_none());
}
