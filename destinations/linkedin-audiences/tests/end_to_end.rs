//! End to end against the LinkedIn simulator: an audience of 20,000 users enters, then 5,000 of
//! them exit, sent through the runtime's `on_batch` (default mappings, a `subscription` in the
//! settings) in batches of 1,000; the segment then holds exactly the 15,000 remaining users.

mod common;

use std::collections::BTreeSet;

use actions_core::action::MultiStatusNode;
use actions_core::prelude::*;
use actions_testkit::linkedin_sim::{LinkedInSim, RouteKind, SegmentType, SimConfig};
use common::{SimRun, audience_event};
use linkedin_audiences::LinkedInAudiences;
use linkedin_common::process_hashing;

const AUDIENCE: &str = "e2e_vip_users";
const USERS: usize = 20_000;
const EXITING: usize = 5_000;
const BATCH: usize = 1_000;

fn email(i: usize) -> String {
    format!("user{i:05}@example.com")
}

fn member_key(i: usize) -> String {
    format!("SHA256_EMAIL:{}", process_hashing(&email(i), None))
}

async fn send_all(run: &SimRun<LinkedInAudiences>, settings: &Value, events: &[Value]) {
    let options = run.options();
    for batch in events.chunks(BATCH) {
        let results = run
            .runtime
            .on_batch(batch, settings, &options)
            .await
            .expect("the batch is delivered");
        let nodes: Vec<&MultiStatusNode> = results
            .iter()
            .filter_map(|r| r.multistatus.as_ref())
            .flatten()
            .collect();
        assert_eq!(nodes.len(), batch.len());
        assert!(
            nodes
                .iter()
                .all(|n| matches!(n, MultiStatusNode::Success { status: 200, .. })),
            "every event is delivered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audience_of_20000_entered_then_5000_exited_leaves_15000_members() {
    let sim = LinkedInSim::start(SimConfig::default()).await.unwrap();
    let run = SimRun::new(LinkedInAudiences::new(), &sim);
    let settings = run.user_settings();

    let entered: Vec<Value> = (0..USERS)
        .map(|i| audience_event("Audience Entered", AUDIENCE, &email(i)))
        .collect();
    send_all(&run, &settings, &entered).await;
    let exited: Vec<Value> = (0..EXITING)
        .map(|i| audience_event("Audience Exited", AUDIENCE, &email(i)))
        .collect();
    send_all(&run, &settings, &exited).await;

    let state = sim.state();
    let segment = state
        .segment("512345678", AUDIENCE, SegmentType::User)
        .expect("the segment was created")
        .clone();
    assert!(segment.created_via_api);
    assert_eq!(segment.name, AUDIENCE);
    let members = &state.members[&segment.id];
    let expected: BTreeSet<String> = (EXITING..USERS).map(member_key).collect();
    assert_eq!(members.current.len(), USERS - EXITING);
    assert_eq!(members.current, expected);
    assert_eq!(members.adds, USERS as u64);
    assert_eq!(members.removes, EXITING as u64);
    assert_eq!(members.rejected, 0);

    // One lookup and one creation; the id is cached for every later batch.
    assert_eq!(state.requests_to(RouteKind::DmpSegmentsLookup).len(), 1);
    assert_eq!(state.requests_to(RouteKind::DmpSegmentCreate).len(), 1);
    assert_eq!(
        state.requests_to(RouteKind::DmpSegmentUsers).len(),
        (USERS + EXITING) / BATCH
    );
    let dedup = sim.dedup_counts();
    for i in [0, EXITING - 1] {
        let d = dedup.member(segment.id, &member_key(i));
        assert_eq!((d.adds, d.removes), (1, 1));
    }
    for i in [EXITING, USERS - 1] {
        let d = dedup.member(segment.id, &member_key(i));
        assert_eq!((d.adds, d.removes), (1, 0));
    }
    assert_eq!(run.refresh_count(), 0);
}
